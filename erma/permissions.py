"""Who may do what: the roles, and the one table of named permissions → the roles that hold them.

Routes (`erma.staff.auth.require`), services, the workbench's action list and the staff pages' gates
all ask this table; none keeps a role list of its own. Who may move a case between stages is the
lifecycle table's (erma/cases/stages.py), which names its roles with `Role` and takes the opening of a
case and the review decisions from here (OPEN_CASE, DECIDE_REVIEW).

Staff accounts store their role as the `Role` value (staff.role); the database keeps those strings."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    TOWN_REVIEWER = "town_reviewer"
    AGENT = "agent"
    DUTY_LEAD = "duty_lead"
    ADMIN = "admin"
    # A staff member at a village service station, a town centre or a county window who registers
    # walk-in residents at their intake point (staff.intake_point_code).
    COUNTER_CLERK = "counter_clerk"
    # Not staff accounts: the assistant and the channels (the service token, acting for the resident),
    # and the platform itself (routing at intake, scheduled jobs).
    SERVICE = "service"
    SYSTEM = "system"


# The roles a staff account may have (staff.role), in the order an admin's form offers them.
STAFF_ROLES: tuple[Role, ...] = (Role.TOWN_REVIEWER, Role.AGENT, Role.DUTY_LEAD, Role.ADMIN, Role.COUNTER_CLERK)

ROLE_TEXT: dict[Role, str] = {Role.AGENT: "代办员", Role.TOWN_REVIEWER: "镇审核人", Role.DUTY_LEAD: "轮值组长",
                              Role.ADMIN: "县级管理员", Role.COUNTER_CLERK: "接件员"}

# Not a role: "the agent who holds (carries) the case" (case.agent_id). A permission or a move granted
# to HOLDER is open to an agent only for the cases they hold.
HOLDER = "holder"


class Permission(StrEnum):
    # Cases
    OPEN_CASE = "open_case"                    # POST /cases, field checks, the counter intake page
    LIST_CASES = "list_cases"                  # GET /cases, a town's review queue and a case's review file
    WORKBENCH = "workbench"                    # a case's workbench actions, the workbench pages
    CONVERSATION_CASES = "conversation_cases"  # the cases bound to a conversation
    SEE_FULL_ID = "see_full_id"                # the ID number unmasked (PIPL minimisation)
    SEE_FULL_PHONE = "see_full_phone"          # the phone unmasked
    TAKE_CASE = "take_case"                    # take (认领) an unassigned case of their town
    REASSIGN = "reassign"                      # give a case to another agent, or release it
    RECORD_VISIT = "record_visit"              # record a resident's trip (跑动)
    RECEIVE_MATERIALS = "receive_materials"    # record materials that came in after intake
    DECIDE_REVIEW = "decide_review"            # approve / 同意容缺 / return / reject, the review page
    DEFER = "defer"                            # open a 容缺 deferral, record its supplement and reclaim
    FORMS_PDF = "forms_pdf"                    # print the 一表一书
    RATE = "rate"                              # record the resident's rating
    # Staff and towns
    ALL_TOWNS = "all_towns"                    # see every town (otherwise: the account's towns)
    WORKS_AT_COUNTER = "works_at_counter"      # an account that may have an intake point
    TOWN_AGENTS = "town_agents"                # list a town's agents
    MANAGE_COUNTY = "manage_county"            # the catalog, staff accounts, places, calendar; the admin page
    # Oversight
    LEAD_LISTS = "lead_lists"                  # the duty lead's lists (overdue 容缺 and cases, follow-ups)
    FOLLOW_UP = "follow_up"                    # follow-up tasks: list them and record the call
    DASHBOARD = "dashboard"                    # the dashboard's figures (API)
    DASHBOARD_PAGE = "dashboard_page"          # the dashboard page
    # Conversations
    # The assistant's and the channels' calls: carry residents' messages, hand off, understand a text.
    CONVERSATIONS_CHANNEL = "conversations_channel"
    CONVERSATIONS_STAFF = "conversations_staff"      # the inbox: take, reply, hand back
    READ_ANY_CONVERSATION = "read_any_conversation"  # every transcript, whoever holds it
    READ_TOWN_CONVERSATIONS = "read_town_conversations"  # the transcripts of their towns' residents


R = Role
GRANTS: dict[Permission, frozenset[str]] = {
    Permission.OPEN_CASE: frozenset({R.SERVICE, R.AGENT, R.ADMIN, R.COUNTER_CLERK}),
    Permission.LIST_CASES: frozenset({R.TOWN_REVIEWER, R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    Permission.WORKBENCH: frozenset({R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    Permission.CONVERSATION_CASES: frozenset({R.SERVICE, R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    # Reviewers decide on masked identity; agents carry the case and call the resident; the duty lead
    # calls back for 回访.
    Permission.SEE_FULL_ID: frozenset({R.AGENT, R.ADMIN}),
    Permission.SEE_FULL_PHONE: frozenset({R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    Permission.TAKE_CASE: frozenset({R.AGENT}),
    Permission.REASSIGN: frozenset({R.DUTY_LEAD, R.ADMIN}),
    # Who records a resident standing in front of them: agents, counter clerks, admins.
    Permission.RECORD_VISIT: frozenset({R.AGENT, R.COUNTER_CLERK, R.ADMIN}),
    # Materials after intake: the agent holding the case, counter clerks, admins.
    Permission.RECEIVE_MATERIALS: frozenset({HOLDER, R.COUNTER_CLERK, R.ADMIN}),
    Permission.DECIDE_REVIEW: frozenset({R.TOWN_REVIEWER, R.ADMIN}),
    # The agents who carry 容缺 cases, admins (opening one is also a move the lifecycle must allow).
    Permission.DEFER: frozenset({R.AGENT, R.ADMIN}),
    # The agents who carry it (town-scoped by get_case), the duty lead, admins.
    Permission.FORMS_PDF: frozenset({R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    Permission.RATE: frozenset({R.SERVICE, R.AGENT, R.ADMIN}),
    Permission.ALL_TOWNS: frozenset({R.SERVICE, R.DUTY_LEAD, R.ADMIN}),
    # A clerk always; an agent when they also take walk-ins at their window.
    Permission.WORKS_AT_COUNTER: frozenset({R.COUNTER_CLERK, R.AGENT}),
    # Duty leads and admins reassign; an agent sees the colleagues of their own town.
    Permission.TOWN_AGENTS: frozenset({R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    Permission.MANAGE_COUNTY: frozenset({R.ADMIN}),
    Permission.LEAD_LISTS: frozenset({R.DUTY_LEAD, R.ADMIN}),
    Permission.FOLLOW_UP: frozenset({R.DUTY_LEAD, R.ADMIN}),
    Permission.DASHBOARD: frozenset({R.TOWN_REVIEWER, R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    Permission.DASHBOARD_PAGE: frozenset({R.DUTY_LEAD, R.ADMIN}),
    Permission.CONVERSATIONS_CHANNEL: frozenset({R.SERVICE, R.ADMIN}),
    Permission.CONVERSATIONS_STAFF: frozenset({R.AGENT, R.DUTY_LEAD, R.ADMIN}),
    # Duty leads and town reviewers do not read residents' conversations.
    Permission.READ_ANY_CONVERSATION: frozenset({R.SERVICE, R.ADMIN}),
    Permission.READ_TOWN_CONVERSATIONS: frozenset({R.AGENT}),
}


def roles_for(permission: Permission) -> frozenset[str]:
    """The roles granted `permission` (HOLDER among them when it is open to the agent holding the case)."""
    return GRANTS[permission]


def may(role: str, permission: Permission, *, holds_case: bool = False) -> bool:
    """Whether a caller of `role` has `permission`; `holds_case`: the caller is the agent holding the case."""
    return role_in(GRANTS[permission], role, holds_case)


def role_in(granted: frozenset[str], role: str, holds_case: bool = False) -> bool:
    """Whether `role` is among `granted`, HOLDER meaning an agent who holds the case."""
    return role in granted or (role == Role.AGENT and holds_case and HOLDER in granted)
