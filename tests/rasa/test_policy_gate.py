"""rasa_plugins/policy_gate.py: TEDPolicy predicts only when its prediction can be the one kept.

The trained model, loaded as the Rasa server loads it (gated) and as Rasa alone loads it, must choose the
same action with the same policy and confidence at every step of every test story, while TED runs for
fewer of those steps."""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.core.test import _create_data_generator
from rasa.engine import loader
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import rasa_plugins  # noqa: F401 - importing the package (as Rasa does from endpoints.yml) installs it
from rasa_plugins import policy_gate
from rasa_plugins.policy_gate import decided_without_ted

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"


def prediction(confidence: float, *, no_user: bool = False, e2e: bool = False) -> PolicyPrediction:
    return PolicyPrediction([confidence, 0.0], "RulePolicy", 6, is_no_user_prediction=no_user,
                            is_end_to_end_prediction=e2e)


def test_ted_is_needed_unless_another_policy_is_certain_or_overrules_it():
    assert not decided_without_ted([])
    assert not decided_without_ted([prediction(0.0), prediction(0.3)])  # nothing known, or the fallback only
    assert not decided_without_ted([prediction(0.99)])
    assert decided_without_ted([prediction(0.0), prediction(1.0)])  # a rule or a memorised story
    assert decided_without_ted([prediction(0.2, no_user=True)])  # e.g. a form's happy path
    assert decided_without_ted([prediction(0.2, e2e=True)])


def test_the_server_loads_the_gated_graph():
    assert loader.load_predict_graph_runner is policy_gate._load_gated


TED_RUNS: Counter = Counter()  # TED's predictions made, by the class of the policy that asked


@pytest.fixture(scope="module")
def agents():
    if not MODEL.exists():
        pytest.skip("no trained model (scripts/train.sh)")
    original = TEDPolicy.predict_action_probabilities

    def counting(self, *args, **kwargs):
        TED_RUNS[type(self).__name__] += 1
        return original(self, *args, **kwargs)

    # Before loading: a graph node keeps the method it found at load time.
    TEDPolicy.predict_action_probabilities = counting
    try:
        gated = Agent.load(str(MODEL))
        loader.load_predict_graph_runner = policy_gate._load_predict_graph_runner
        try:
            plain = Agent.load(str(MODEL))
        finally:
            policy_gate.install()
        yield gated, plain
    finally:
        TEDPolicy.predict_action_probabilities = original


def test_every_test_story_step_is_predicted_the_same_with_ted_gated(agents):
    gated, plain = agents
    TED_RUNS.clear()
    trackers = _create_data_generator(str(ROOT / "tests" / "stories"), plain).generate_story_trackers()
    assert len(trackers) > 50
    steps = 0
    for tracker in trackers:
        events = list(tracker.events)
        partial = DialogueStateTracker.from_events(tracker.sender_id, events[:1], plain.domain.slots)
        for event in events[1:]:
            if isinstance(event, ActionExecuted):
                same_prediction(gated, plain, partial)
                steps += 1
            partial.update(event)
    assert TED_RUNS["TEDPolicy"] == steps  # ungated: TED runs at every step
    # Gated: every step of these stories is decided by a rule or a memorised story.
    assert TED_RUNS["GatedTEDPolicy"] < steps / 10


def same_prediction(gated: Agent, plain: Agent, tracker: DialogueStateTracker) -> PolicyPrediction:
    a = gated.processor._predict_next_with_tracker(tracker)
    b = plain.processor._predict_next_with_tracker(tracker)
    assert (a.policy_name, a.max_confidence, a.is_no_user_prediction, a.is_end_to_end_prediction) == \
           (b.policy_name, b.max_confidence, b.is_no_user_prediction, b.is_end_to_end_prediction), tracker.sender_id
    assert a.probabilities == b.probabilities
    return b


def test_conversations_off_the_stories_are_predicted_the_same_with_ted_gated(agents):
    """Residents say things in orders no story has: TED's turns. A seeded random walk over the domain's
    intents, each followed by the actions predicted until the assistant listens."""
    gated, plain = agents
    TED_RUNS.clear()
    rng = random.Random(15)
    intents = sorted(plain.domain.intents)
    steps = 0
    for n in range(30):
        tracker = DialogueStateTracker.from_events(f"walk-{n}", [ActionExecuted(ACTION_LISTEN_NAME)],
                                                   plain.domain.slots)
        for _ in range(5):
            tracker.update(UserUttered(intent={"name": rng.choice(intents), "confidence": 1.0}))
            for _ in range(4):  # as many actions as Rasa would run before listening
                prediction = same_prediction(gated, plain, tracker)
                steps += 1
                action = plain.domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]
                tracker.update(ActionExecuted(action, policy=prediction.policy_name))
                if action == ACTION_LISTEN_NAME:
                    break
    assert TED_RUNS["TEDPolicy"] == steps
    # TED predicted where it could be chosen, and was skipped where a rule or story had decided.
    assert 0 < TED_RUNS["GatedTEDPolicy"] < steps
