"""Domain events registered at start-up (erma/events.py, erma/wiring.py): a listener subscribed when the
process starts receives what the lifecycle, the review, 容缺 and the gateway publish, in the transaction of
the change; a process that never wired its listeners refuses the change instead of losing its push; and the
modules that publish know nothing of who listens."""
from __future__ import annotations

import grimp
import pytest
from sqlalchemy import func, select

from erma import events
from erma.cases.events import StageChanged
from erma.cases.models import Case
from erma.cases.stages import Stage
from erma.conversations.events import AgentReplied, OwnerChanged
from erma.deferral.events import DeferralOpened
from erma.outbox.models import OutboxMessage
from erma.pushes.models import Notice
from erma.review.events import DeficiencyNotified
from erma.wiring import EVENT_TYPES, SUBSCRIPTIONS, wire
from tests.platform import test_conversations
from tests.platform.conftest import SERVICE, holder
from tests.platform.test_conversations import handoff, open_conversation, say
from tests.platform.test_pushes import DEFERRABLE, id_number, review

fake_rasa = test_conversations.fake_rasa


@pytest.fixture
def heard():
    """A listener of every event, subscribed at start-up (before wire(), as a process would)."""
    got: list = []
    events.reset()
    for event_type in EVENT_TYPES:
        events.subscribe(event_type, lambda session, event: got.append(event))
    wire()
    yield got
    events.reset()
    wire()


def test_wire_subscribes_a_listener_for_every_event_once_however_often_it_runs():
    wire()
    wire()
    for event_type in EVENT_TYPES:
        handlers = events.subscribers(event_type)
        assert handlers, f"nobody listens to {event_type.__name__}"
        assert len(handlers) == len(set(handlers)), f"{event_type.__name__} has a listener twice"
    assert {event_type for event_type, _ in SUBSCRIPTIONS} == set(EVENT_TYPES)
    assert events.is_wired()


def test_a_listener_registered_at_start_up_hears_the_case_and_the_conversation(client, login, open_case, db,
                                                                                fake_rasa, heard):
    cid = open_conversation(client)
    say(client, cid, "你好")
    no = open_case(conversation_id=cid, id_number=id_number(901), service_code="MX-013")["case_no"]
    review(client, login, no, "return", opinion="材料不全", deficiencies=["户口簿"])
    changed = [e for e in heard if isinstance(e, StageChanged)]
    last = changed[-1]
    assert (last.event.from_stage, last.event.to_stage, last.announce) == (Stage.TOWN_REVIEW, Stage.RETURNED, False)
    [notified] = [e for e in heard if isinstance(e, DeficiencyNotified)]
    assert notified.case.case_no == no and notified.materials == ["户口簿"] and notified.opinion == "材料不全"
    assert notified.event.id == last.event.id  # the decision names its transition
    # The pushes listened in the same transaction: the deficiency list is already on the outbox.
    with db() as s:
        assert s.scalar(select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == "resident_push")
                        .order_by(OutboxMessage.id.desc()).limit(1)) == f"push:case_event:{notified.event.id}"

    # 容缺: another case is approved and its agent opens a deferral.
    no = open_case(conversation_id=cid, id_number=id_number(904), service_code="MX-013")["case_no"]
    review(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login(holder(no)))
    assert r.status_code == 201, r.text
    [opened] = [e for e in heard if isinstance(e, DeferralOpened)]
    assert opened.deferral.missing_materials == [DEFERRABLE] and opened.remind_at < opened.overdue_at
    with db() as s:  # the outbox listened too: the reminder and the escalation are scheduled
        kinds = set(s.scalars(select(OutboxMessage.kind).where(OutboxMessage.dedupe_key.like("deferral_%"))))
    assert kinds == {"deferral_reminder", "deferral_overdue"}

    # The gateway: an agent takes the conversation and replies.
    handoff(client, cid)
    agent = login("agent-chibusu-1")
    assert client.post(f"/api/v1/conversations/{cid}/take", headers=agent).status_code == 200
    assert client.post(f"/api/v1/conversations/{cid}/reply", headers=agent, json={"text": "您好"}).status_code == 200
    [owner] = [e for e in heard if isinstance(e, OwnerChanged)]
    [replied] = [e for e in heard if isinstance(e, AgentReplied)]
    assert owner.conversation.id == cid and owner.entry.meta["to"] == "agent"
    assert replied.entry.text == "您好"


def test_a_process_that_never_wired_refuses_the_change_instead_of_losing_its_push(client, login, open_case, db):
    no = open_case(id_number=id_number(902))["case_no"]
    with db() as s:
        before = s.scalar(select(Case.stage).where(Case.case_no == no)), s.scalar(select(func.count(Notice.id)))
    events.reset()
    try:
        with pytest.raises(events.NotWired):
            client.post(f"/api/v1/cases/{no}/transitions", headers=SERVICE, json={"to": "withdrawn"})
    finally:
        wire()
    with db() as s:
        assert (s.scalar(select(Case.stage).where(Case.case_no == no)), s.scalar(select(func.count(Notice.id)))) == before


def test_a_listener_that_fails_undoes_the_change(client, login, open_case, db):
    no = open_case(id_number=id_number(903))["case_no"]
    with db() as s:
        before = s.scalar(select(Case.stage).where(Case.case_no == no))

    def broken(session, event):
        raise RuntimeError("listener failed")

    events.subscribe(StageChanged, broken)
    try:
        with pytest.raises(RuntimeError):
            client.post(f"/api/v1/cases/{no}/transitions", headers=SERVICE, json={"to": "withdrawn"})
    finally:
        events.reset()
        wire()
    with db() as s:
        assert s.scalar(select(Case.stage).where(Case.case_no == no)) == before != "withdrawn"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("erma", exclude_type_checking_imports=True, cache_dir=None)


@pytest.mark.parametrize("publisher", ["erma.cases", "erma.review", "erma.deferral", "erma.conversations"])
def test_the_publishers_know_nothing_of_their_listeners(graph, publisher):
    """Not even round about: no chain of imports leads from a publishing module (its routes aside) to the
    pushes, the outbox or the wiring."""
    listening = set()
    for package in ("erma.pushes", "erma.outbox", "erma.wiring"):
        listening |= {package} | graph.find_descendants(package)
    publishing = sorted(m for m in graph.find_descendants(publisher) if not m.rsplit(".", 1)[-1].endswith("views"))
    assert "erma.cases.lifecycle" in publishing or publisher != "erma.cases"
    found = [(m, target) for m in publishing for target in sorted(listening)
             if graph.find_shortest_chain(importer=m, imported=target) is not None]
    assert found == []
