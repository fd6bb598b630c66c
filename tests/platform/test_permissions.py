"""Who may do what is decided by one table (erma/permissions.py), and who may move a case by the
lifecycle table (erma/cases/stages.py) that takes its opening and review moves from it. No module
keeps a role list of its own: routes, services, the workbench's action list and the staff pages ask
the table, and where two lists used to answer the same question they now give the same answer."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import select

from erma.cases.models import Case, CaseEvent
from erma.cases.stages import TRANSITIONS, Stage, role_may
from erma.console.pages import NAV
from erma.console.views import home_for
from erma.permissions import GRANTS, HOLDER, ROLE_TEXT, STAFF_ROLES, Permission, Role, may
from erma.staff.models import Staff
from tests.platform.conftest import ROOT, SERVICE, case_body, holder
from tests.platform.test_staff_sign_in import sign_in, signed_in_client

ERMA = ROOT / "erma"
ROLE_NAMES = {role.value for role in Role}
CHIBUSU = "513223114"
# One account of each staff role (catalog/demo_staff.yaml); agents of the case's town are picked per case.
ACCOUNTS = {Role.TOWN_REVIEWER: "reviewer-chibusu", Role.DUTY_LEAD: "lead-1", Role.ADMIN: "admin",
            Role.COUNTER_CLERK: "clerk-county-chibusu"}


# ---------------------------------------------------------------- the table is the only source


def _role_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ROLE_NAMES


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def _role_collection(node: ast.AST) -> bool:
    """A tuple/list/set literal of two or more strings, all of them role names, or a table of fixed
    values keyed by them (not a JSON answer that happens to have an "agent" key)."""
    if isinstance(node, ast.Dict):
        if not all(_literal(value) for value in node.values):
            return False
        items = node.keys
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = node.elts
    else:
        return False
    return len(items) >= 2 and all(item is not None and _role_literal(item) for item in items)


def _names_role(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "role") or (isinstance(node, ast.Name)
                                                                          and node.id == "role")


def _role_string_uses(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_names_role(o) for o in operands) and any(
                    _role_literal(o) or _role_collection(o) for o in operands):
                found.append((node.lineno, "a role compared with a string"))
        elif isinstance(node, ast.keyword) and node.arg in ("role", "actor_role") and _role_literal(node.value):
            found.append((node.value.lineno, f"{node.arg}= given as a string"))
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) and _role_collection(node):
            found.append((node.lineno, "a list of role names"))
        elif isinstance(node, ast.Name) and node.id == "require_roles":
            found.append((node.lineno, "require_roles (use erma.staff.auth.require with a Permission)"))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.endswith("_ROLES"):
                    found.append((node.lineno, f"a role-set constant {target.id}"))
    return found


def test_no_module_but_the_permissions_table_names_roles_as_strings():
    offenders = []
    for path in sorted(ERMA.rglob("*.py")):
        if path == ERMA / "permissions.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in _role_string_uses(tree)]
    assert offenders == []


def test_the_string_check_finds_what_it_is_meant_to_find():
    source = '''
ADMIN_ROLES = ("duty_lead", "admin")
if principal.role == "agent": pass
if staff.role in ("agent", "admin"): pass
x = Principal(role="service")
dep = require_roles("admin")
names = {"agent": "代办员", "admin": "县级管理员"}
'''
    assert {line for line, _ in _role_string_uses(ast.parse(source))} == {2, 3, 4, 5, 6, 7}
    # Words that are also role names but are not roles: a conversation's state, an author, a JSON key.
    fine = '''
if conversation.state == "agent": pass
AUTHORS = ("resident", "assistant", "agent", "system")
view = {"agent": agent_view(agent), "service": item}
'''
    assert _role_string_uses(ast.parse(fine)) == []


def test_every_permission_has_a_grant_of_known_roles():
    assert set(GRANTS) == set(Permission)
    for permission, roles in GRANTS.items():
        assert roles and roles <= ROLE_NAMES | {HOLDER}, permission


def test_the_staff_roles_are_roles_with_chinese_names():
    assert set(STAFF_ROLES) <= set(Role) and set(ROLE_TEXT) == set(STAFF_ROLES)
    assert Role.SERVICE not in STAFF_ROLES and Role.SYSTEM not in STAFF_ROLES


def test_every_account_in_the_database_has_a_staff_role(db):
    with db() as s:
        roles = set(s.scalars(select(Staff.role).distinct()))
    assert roles and roles <= set(STAFF_ROLES)


def test_the_admin_form_offers_exactly_the_staff_roles(client, login):
    r = client.get("/api/v1/admin/staff", headers=login("admin"))
    assert r.status_code == 200, r.text
    assert [c["value"] for c in r.json()["roles"]] == list(STAFF_ROLES)


def test_the_lifecycle_table_names_only_roles_and_takes_opening_and_review_from_the_permissions():
    for moves in TRANSITIONS.values():
        for roles in moves.values():
            assert roles <= ROLE_NAMES | {HOLDER}
    assert TRANSITIONS[None] == {Stage.RECEIVED: GRANTS[Permission.OPEN_CASE]}
    for target in (Stage.APPROVED, Stage.RETURNED, Stage.REJECTED):
        assert TRANSITIONS[Stage.TOWN_REVIEW][target] == GRANTS[Permission.DECIDE_REVIEW]


# ---------------------------------------------------------------- pages


@pytest.mark.parametrize("role", list(STAFF_ROLES))
def test_a_roles_home_and_every_link_of_its_navigation_are_pages_it_may_open(client, role):
    username = ACCOUNTS.get(role, "agent-chibusu-1")
    browser = signed_in_client(client, username)
    for href in (home_for(role), *(href for _, href in NAV[role])):
        r = browser.get(href, follow_redirects=False)
        assert r.status_code in (200, 303) and "没有权限" not in r.text, (role, href, r.status_code)


def test_a_page_refuses_a_role_the_table_does_not_grant(client):
    assert sign_in(client, "reviewer-chibusu").status_code == 303
    r = client.get("/staff/dashboard", follow_redirects=False)
    assert not may(Role.TOWN_REVIEWER, Permission.DASHBOARD_PAGE) and r.status_code == 403


# ---------------------------------------------------------------- rules that used to have two lists


def _other_agent(no: str) -> str:
    return "agent-chibusu-2" if holder(no) != "agent-chibusu-2" else "agent-chibusu-1"


def _callers(no: str) -> dict[str, str]:
    """Each kind of staff caller of a case of 赤不苏镇 → their username."""
    return {"holder": holder(no), "other_agent": _other_agent(no), **{r.value: u for r, u in ACCOUNTS.items()}}


def test_the_full_phone_and_id_follow_the_table_on_the_case_and_on_the_workbench_list(client, login, open_case):
    case = open_case()
    no = case["case_no"]
    for who, username in _callers(no).items():
        role = Role.AGENT if who in ("holder", "other_agent") else Role(who)
        one = client.get(f"/api/v1/cases/{no}", headers=login(username))
        if role == Role.COUNTER_CLERK:
            assert one.status_code == 404  # not opened at their counter: they do not see it
            continue
        listed = client.get("/api/v1/cases", params={"town": CHIBUSU, "limit": 200}, headers=login(username))
        assert one.status_code == 200 and listed.status_code == 200, (who, one.text, listed.text)
        row = next(c for c in listed.json()["items"] if c["case_no"] == no)
        for view in (one.json(), row):
            assert (view["phone"] == "13812345678") == may(role, Permission.SEE_FULL_PHONE), (who, view["phone"])
            assert (view["id_number"] == "513223198001010011") == may(role, Permission.SEE_FULL_ID), who


def test_recording_a_visit_and_recording_materials_follow_their_own_grants(client, login, open_case):
    """A colleague agent of the town may record the resident's trip but not the materials of a case
    they do not hold: the workbench offers what the platform accepts, both from the table."""
    no = open_case(materials_have=[])["case_no"]
    body = {"materials": [{"name": "户口簿", "form": "original"}], "occasion": "collection", "in_person": False}
    for who in ("holder", "other_agent", "duty_lead", "admin"):
        username = _callers(no)[who]
        actions = client.get(f"/api/v1/cases/{no}/actions", headers=login(username)).json()
        role = Role.AGENT if who in ("holder", "other_agent") else Role(who)
        assert actions["can_record_visit"] == may(role, Permission.RECORD_VISIT), who
        assert actions["can_record_materials"] == may(role, Permission.RECEIVE_MATERIALS,
                                                      holds_case=who == "holder"), who
        visit = client.post(f"/api/v1/cases/{no}/visits", json={"purpose": "hand_in"}, headers=login(username))
        assert (visit.status_code == 200) == actions["can_record_visit"], (who, visit.text)
        materials = client.post(f"/api/v1/cases/{no}/materials", json=body, headers=login(username))
        assert (materials.status_code == 200) == actions["can_record_materials"], (who, materials.text)
    assert not may(Role.AGENT, Permission.RECEIVE_MATERIALS) and may(Role.AGENT, Permission.RECEIVE_MATERIALS,
                                                                      holds_case=True)


def test_who_may_decide_a_review_is_the_lifecycle_tables_answer(client, login, open_case):
    no = open_case()["case_no"]
    approve = TRANSITIONS[Stage.TOWN_REVIEW][Stage.APPROVED]
    for who in ("holder", "duty_lead", "reviewer-chibusu"):
        username = _callers(no).get(who, who)
        role = {"holder": Role.AGENT, "duty_lead": Role.DUTY_LEAD}.get(who, Role.TOWN_REVIEWER)
        offered = client.get(f"/api/v1/cases/{no}/review", headers=login(username)).json()["decisions"]
        r = client.post(f"/api/v1/cases/{no}/review", json={"decision": "approve"}, headers=login(username))
        if role_may(approve, role, holds_case=who == "holder"):
            assert r.status_code == 200 and offered, (who, r.text)
        else:
            assert r.status_code == 403 and not offered, (who, r.text)
            assert r.json()["error"] == {"code": "role_forbidden", "message": "只有户籍地镇的审核人员可以审核"}


@pytest.mark.parametrize("role", [Role.SERVICE, *STAFF_ROLES])
def test_who_may_open_a_case_is_the_tables_opening_move(client, login, role):
    username = ACCOUNTS.get(role, "agent-chibusu-1")
    headers = SERVICE if role == Role.SERVICE else login(username)
    r = client.post("/api/v1/cases", json=case_body(), headers={**headers, "Idempotency-Key": f"perm-open-{role}"})
    assert (r.status_code == 201) == role_may(TRANSITIONS[None][Stage.RECEIVED], role, False), (role, r.text)


def test_intake_records_its_moves_through_the_lifecycle(client, login, db):
    r = client.post("/api/v1/cases", json=case_body(), headers={**login("agent-chibusu-1"),
                                                               "Idempotency-Key": "perm-intake-moves"})
    assert r.status_code == 201, r.text
    with db() as s:
        case = s.scalar(select(Case).where(Case.case_no == r.json()["case_no"]))
        moves = s.execute(select(CaseEvent.actor, CaseEvent.actor_role, CaseEvent.from_stage, CaseEvent.to_stage)
                          .where(CaseEvent.case_id == case.id, CaseEvent.kind == "transition")
                          .order_by(CaseEvent.id)).all()
        assert case.stage == Stage.TOWN_REVIEW and case.stage_changed_at == case.created_at
    assert [tuple(m) for m in moves] == [("staff:agent-chibusu-1", "agent", None, "received"),
                                         ("system", "system", "received", "town_review")]
