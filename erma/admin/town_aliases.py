"""Towns' aliases (old pre-reform township names and other wordings residents use), as a county
admin keeps them. resolve_place (erma/places/service.py) reads them on every call, so a change
counts at once for the assistant's forms and the case intake."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.admin.access import refuse, require_admin
from erma.admin.audit import record
from erma.errors import NotFound
from erma.places.models import Town, TownAlias, Village
from erma.staff.auth import Principal
from erma.text_normal import fold_text

HAN = re.compile(r"^[\u4e00-\u9fff]{2,16}$")


def towns_with_aliases(session: Session, principal: Principal) -> list[dict]:
    require_admin(principal)
    aliases: dict[str, list[dict]] = {}
    for a in session.scalars(select(TownAlias).order_by(TownAlias.alias)):
        aliases.setdefault(a.town_code, []).append({"alias": a.alias, "confirmed": a.confirmed})
    return [{"code": t.code, "name": t.name, "aliases": aliases.get(t.code, [])}
            for t in session.scalars(select(Town).order_by(Town.code))]


def _alias_view(alias: TownAlias, town: Town) -> dict:
    return {"alias": alias.alias, "confirmed": alias.confirmed, "town": {"code": town.code, "name": town.name}}


def _check_town(session: Session, code, problems: list[tuple[str, str]]) -> Town | None:
    town = session.get(Town, code.strip()) if isinstance(code, str) and code.strip() else None
    if town is None:
        problems.append(("town_code", "请选择这个老地名现在属于哪个镇"))
    return town


def add_alias(session: Session, principal: Principal, body: dict, now: dt.datetime | None = None) -> dict:
    require_admin(principal)
    problems: list[tuple[str, str]] = []
    raw = body.get("alias")
    # Stored the way resolve_place compares: Simplified, half-width, no spaces.
    alias = re.sub(r"\s", "", fold_text(raw)) if isinstance(raw, str) else ""
    if not alias:
        problems.append(("alias", "请填写老地名，如“永和乡”"))
    elif not HAN.match(alias):
        problems.append(("alias", "老地名写2到16个汉字，不带数字、字母和标点"))
    else:
        town_names = {t.name: t for t in session.scalars(select(Town))}
        same_town = next((t for t in town_names.values() if alias in (t.name, t.name.rstrip("镇乡"))), None)
        existing = session.get(TownAlias, alias)
        village = session.scalar(select(Village).where(Village.name == alias))
        if same_town is not None:
            problems.append(("alias", f"“{alias}”就是现在的{same_town.name}，不用再加别名"))
        elif existing is not None:
            owner = session.get(Town, existing.town_code)
            problems.append(("alias", f"“{alias}”已经是{owner.name}的别名"))
        elif village is not None:
            owner = session.get(Town, village.town_code)
            problems.append(("alias", f"“{alias}”是{owner.name}的村名，不能作镇的别名"))
    town = _check_town(session, body.get("town_code"), problems)
    refuse(problems, "alias_invalid")
    row = TownAlias(alias=alias, town_code=town.code, confirmed=bool(body.get("confirmed")))
    session.add(row)
    view = _alias_view(row, town)
    record(session, principal, "town_alias", alias, "create",
           f"新增{town.name}的别名“{alias}”" + ("（已核实）" if row.confirmed else "（待核实）"), None, view, now=now)
    session.flush()
    return view


def _get(session: Session, alias: str) -> TownAlias:
    row = session.get(TownAlias, (alias or "").strip())
    if row is None:
        raise NotFound("alias_not_found", f"没有“{alias}”这个别名")
    return row


def update_alias(session: Session, principal: Principal, alias: str, body: dict,
                 now: dt.datetime | None = None) -> dict:
    """Moves an alias to another town or marks it confirmed (核实) / unconfirmed."""
    require_admin(principal)
    row = _get(session, alias)
    before = _alias_view(row, session.get(Town, row.town_code))
    problems: list[tuple[str, str]] = []
    town = _check_town(session, body["town_code"], problems) if "town_code" in body else session.get(Town, row.town_code)
    refuse(problems, "alias_invalid")
    row.town_code = town.code
    if "confirmed" in body:
        row.confirmed = bool(body["confirmed"])
    after = _alias_view(row, town)
    if after != before:
        record(session, principal, "town_alias", row.alias, "update",
               f"修改别名“{row.alias}”：{before['town']['name']}{'（已核实）' if before['confirmed'] else '（待核实）'}"
               f" → {town.name}{'（已核实）' if row.confirmed else '（待核实）'}", before, after, now=now)
    session.flush()
    return after


def delete_alias(session: Session, principal: Principal, alias: str, now: dt.datetime | None = None) -> dict:
    require_admin(principal)
    row = _get(session, alias)
    town = session.get(Town, row.town_code)
    before = _alias_view(row, town)
    session.delete(row)
    record(session, principal, "town_alias", row.alias, "delete", f"删除{town.name}的别名“{row.alias}”", before, None, now=now)
    session.flush()
    return {"deleted": row.alias}
