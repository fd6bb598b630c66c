"""Pydantic models for catalog/services.yaml: one service item (事项) and its materials (要件)."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

CODE_PATTERN = r"^MX-\d{3}$"

MaterialForm = Literal["原件", "复印件", "原件及复印件"]
# Who can produce the material; the agent uses it to know whom to ask.
Supplier = Literal["申请人", "村委会", "镇政府", "部门", "医疗机构", "学校", "用人单位"]
TimeLimitUnit = Literal["working_days", "calendar_days"]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# Bounded so that dates computed from them stay dates (a year of working days is already absurd).
Days = Annotated[StrictInt, Field(ge=1, le=366)]
Count = Annotated[StrictInt, Field(ge=1, le=99)]
# The columns of service_items: name and department String(128), category String(32).
Name = Annotated[Text, StringConstraints(max_length=128)]
Category = Annotated[Text, StringConstraints(max_length=32)]

# Identity documents and the application itself are never deferrable (design.md §2 rule 4);
# the check is by name so a county admin's edit cannot slip one through.
NEVER_DEFERRABLE = re.compile(r"身份证|户口簿|户口本|申请书|申请表|审批表|申报表|申领表|登记表|授权书|委托")


class Material(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[Text, StringConstraints(max_length=200)]
    form: MaterialForm
    count: Count
    deferrable: StrictBool
    required: StrictBool
    supplier: Supplier
    note: str = ""


class ServiceItemSpec(BaseModel):
    """One service item as the county publishes it (the validated form of a catalog entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
    name: Name
    category: Category
    department: Name
    item_type: Text
    agent_mode: Text
    agent_handled: StrictBool
    in_person_required: StrictBool
    rongque_listed: StrictBool
    rongque_note: str = ""
    promised_working_days: Days
    time_limit_unit: TimeLimitUnit = "working_days"
    deferral_max_working_days: Days | None = None
    phrasings: Annotated[list[Text], Field(min_length=1)]
    guide: Text
    materials: Annotated[list[Material], Field(min_length=1)]

    def material(self, name: str) -> Material | None:
        return next((m for m in self.materials if m.name == name), None)

    @property
    def deferrable_materials(self) -> list[Material]:
        return [m for m in self.materials if m.deferrable]
