"""The one-time answer (一次性告知) for an item: every material, where to hand them in, the promised
time, free agency and 容缺, in one text. The assistant's requirement answer and the public service
guide (/services/{code}) both print what this module builds, so residents read the same words in
the chat and on the page (design.md §2 rule 3)."""
from __future__ import annotations

from dataclasses import dataclass

from erma.catalog.schema import Material, ServiceItemSpec
from erma.places.where import SubmissionPlaces

DEFERRABLE_MARK = "〔可后补〕"
CONDITIONAL_MARK = "〔视情况〕"
# Who produces a material, in the words residents use; their own documents need no mention.
SUPPLIER_WORDS = {"村委会": "找村委会开", "镇政府": "找镇政府开", "部门": "由有关部门出具",
                  "医疗机构": "找医院开", "学校": "找学校开", "用人单位": "找单位开"}
# Notes that only repeat what the marks already say.
_SILENT_NOTES = ("有则提供",)
_PHOTO_WORDS = ("照片", "相片", "寸照")
FACTS = ("photo", "in_person", "eligibility", "time", "fee")


@dataclass(frozen=True)
class MaterialLine:
    text: str
    name: str
    required: bool
    deferrable: bool  # may follow later (容缺) on this item


@dataclass(frozen=True)
class OneTimeAnswer:
    code: str
    name: str
    heading: str
    materials: tuple[MaterialLine, ...]
    where: str
    time_limit: str | None
    agency: str
    rongque: str
    lead: str | None = None  # the answer to the detail asked first ("好久能办好"), chat only

    @property
    def lines(self) -> list[str]:
        """The answer without the lead: what the guide page shows, line by line."""
        tail = [t for t in (self.time_limit, self.agency, self.rongque) if t]
        return [self.heading, *(m.text for m in self.materials), self.where, *tail]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def chat_text(self) -> str:
        return "\n".join([self.lead, self.text] if self.lead else [self.text])


def material_text(index: int, material: Material, rongque: bool) -> str:
    """``3. 户口簿（原件及复印件，1份）〔可后补〕：note``."""
    detail = [material.form, f"{material.count}份"]
    if material.supplier in SUPPLIER_WORDS:
        detail.append(SUPPLIER_WORDS[material.supplier])
    parts = [f"{index}. {material.name}（{'，'.join(detail)}）"]
    if not material.required:
        parts.append(CONDITIONAL_MARK)
    note = material.note.strip()
    if rongque and material.deferrable:
        parts.append(DEFERRABLE_MARK)
        if note.startswith("可容缺"):
            note = ""  # the mark and the 容缺 sentence already say it
    if note and note not in _SILENT_NOTES:
        parts.append(f"：{note}")
    return "".join(parts)


def time_limit_text(item: ServiceItemSpec) -> str:
    unit = "天" if item.time_limit_unit == "calendar_days" else "个工作日"
    return f"办理时间：承诺{item.promised_working_days}{unit}内办好。"


def agency_text(item: ServiceItemSpec) -> str:
    if not item.agent_handled:
        return "代办：这个事项要本人去办，代办员可以帮您预审材料、提前预约，免费。"
    if item.in_person_required or item.agent_mode.startswith(("帮办", "咨询")):
        return "代办：代办员可以免费帮办，但有的环节要本人到场。"
    return "代办：可以请代办员全程代办，免费，您只要把材料交齐。"


def rongque_text(item: ServiceItemSpec) -> str:
    if not item.rongque_listed:
        return "容缺：这个事项不能容缺，材料要交齐才能办。"
    days = item.deferral_max_working_days
    when = f"在{days}个工作日内补交" if days else "按期限补交"
    return (f"容缺：这个事项可以容缺办理。标{DEFERRABLE_MARK}的材料一时没有，户籍镇审核同意后可以先办，"
            f"再{when}。")


def where_text(places: SubmissionPlaces, town: str | None) -> str:
    """Any station, centre or window takes the papers; the household town reviews them online."""
    town = (town or "").strip()
    if town and town not in places.window_towns and f"{town}镇" in places.window_towns:
        town += "镇"
    window = f"找{town}窗口" if town in places.window_towns else "找您户口所在镇的窗口"
    return (f"交到哪里：就近的村便民服务站、镇便民服务中心，或者{places.county_point}（{window}）都能交，"
            "不用专门回户籍地。")


def fact_text(item: ServiceItemSpec, fact: str | None) -> str | None:
    """The detail the resident asked first, from the catalog; None when the catalog does not hold it
    (the full answer still follows)."""
    if fact == "eligibility":
        first = (item.guide.splitlines() or [""])[0]
        return "谁能申请：" + first[len("申请对象："):] if first.startswith("申请对象：") else None
    if fact == "photo":
        photos = [m.name for m in item.materials if any(w in m.name for w in _PHOTO_WORDS)]
        return f"要照片：{'、'.join(photos)}（见下面的清单）。" if photos else "这一项不用交照片。"
    if fact == "in_person":
        if item.in_person_required or not item.agent_handled:
            return "本人到场：这一项有的环节要本人到场，具体见下面的说明。"
        return "本人到场：不用本人回来，家里人或代办员拿齐材料就能帮着递交。"
    if fact == "time":
        return time_limit_text(item)
    if fact == "fee":
        return agency_text(item)
    return None


def eligibility_text(item: ServiceItemSpec) -> str | None:
    return fact_text(item, "eligibility")


def one_time_answer(item: ServiceItemSpec, places: SubmissionPlaces, town: str | None = None,
                    fact: str | None = None) -> OneTimeAnswer:
    rongque = item.rongque_listed
    materials = tuple(MaterialLine(material_text(i, m, rongque), m.name, m.required, rongque and m.deferrable)
                      for i, m in enumerate(item.materials, start=1))
    return OneTimeAnswer(code=item.code, name=item.name, heading=f"办“{item.name}”要带这些材料（一次说全）：",
                         materials=materials, where=where_text(places, town), time_limit=time_limit_text(item),
                         agency=agency_text(item), rongque=rongque_text(item), lead=fact_text(item, fact))
