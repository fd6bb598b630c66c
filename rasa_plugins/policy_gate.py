"""TEDPolicy only where its guess can be chosen (issue 15: rule and memoisation turns do not pay for TED).

Rasa 3.6 runs every policy for every action it predicts, then its ensemble
(`DefaultPolicyPredictionEnsemble._pick_best_policy`) keeps one prediction. TED's prediction can never
be kept when another policy already predicted with confidence 1.0 (a rule, a memorised story: TED's
confidences are at most 1.0 and ties go to the higher priority, TED's is the lowest), nor when another
prediction is a "no user" or an end-to-end one (those overrule any prediction like TED's, which is
neither as long as the model has no end-to-end features). TED was about a quarter of Rasa's CPU on
the residents' path (docs/benchmarks.md), spent on turns a rule or story had already decided.

So, when a model is loaded for prediction, its TED node gets the other policies' predictions as inputs
and predicts only when one of them could lose to it. The chosen action is the same as without the gate
in every case: it is skipped only when the ensemble would ignore it. Not skipped after a rejected action
(the ensemble then zeroes that action in every prediction) or with end-to-end features. The model, its
training and `rasa test` are unchanged (the gate is applied at load time, by the Rasa server that
imports this package, see rasa_plugins/__init__.py).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine import loader
from rasa.engine.graph import GraphSchema
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# The ensemble's node, whose inputs name every policy node of the predict graph.
ENSEMBLE_NODE = "select_prediction"
PREDICT_FN = "predict_action_probabilities"
# Inputs added to a gated TED node: the other policies' predictions.
EARLIER = "earlier_prediction_"


def decided_without_ted(earlier: List[PolicyPrediction]) -> bool:
    """Whether the ensemble keeps one of these predictions whatever a TED prediction says (one that is
    neither "no user" nor end-to-end, with confidences ≤ 1.0 and the lowest priority)."""
    return any(p.is_no_user_prediction or p.is_end_to_end_prediction or p.max_confidence >= 1.0
               for p in earlier)


def _after_rejection(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, (ActionExecuted, ActionExecutionRejected)):
            return isinstance(event, ActionExecutionRejected)
    return False


class GatedTEDPolicy(TEDPolicy):
    """The trained TEDPolicy, predicting only when its prediction can be the one kept."""

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        precomputations: Optional[Any] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        earlier = [value for name, value in kwargs.items() if name.startswith(EARLIER)]
        rest = {name: value for name, value in kwargs.items() if not name.startswith(EARLIER)}
        if precomputations is None and not _after_rejection(tracker) and decided_without_ted(earlier):
            return self._prediction(self._default_predictions(domain))
        return super().predict_action_probabilities(tracker, domain, rule_only_data, precomputations, **rest)

    def _prediction(self, probabilities: List[float], **kwargs: Any) -> PolicyPrediction:
        prediction = super()._prediction(probabilities, **kwargs)
        prediction.policy_name = TEDPolicy.__name__  # trackers and tests name the policy as trained
        return prediction


def gate(schema: GraphSchema) -> GraphSchema:
    """The predict graph with each TEDPolicy node gated by the other policies' predictions."""
    ensemble = schema.nodes.get(ENSEMBLE_NODE)
    if ensemble is None:
        return schema
    policy_nodes = [name for name in ensemble.needs.values() if name in schema.nodes
                    and schema.nodes[name].fn == PREDICT_FN]
    nodes = dict(schema.nodes)
    for name in policy_nodes:
        node = nodes[name]
        if node.uses is not TEDPolicy:
            continue
        others = [other for other in policy_nodes if schema.nodes[other].uses is not TEDPolicy]
        needs = {**node.needs, **{f"{EARLIER}{i}": other for i, other in enumerate(others)}}
        nodes[name] = dataclasses.replace(node, uses=GatedTEDPolicy, needs=needs)
        logger.debug("TEDPolicy node %s predicts only when %s leave it a chance.", name, others)
    return GraphSchema(nodes)


_load_predict_graph_runner = loader.load_predict_graph_runner


def _load_gated(storage_path, model_archive_path, model_storage_class, graph_runner_class):  # type: ignore[no-untyped-def]
    class GatedRunner(graph_runner_class):  # type: ignore[misc, valid-type]
        @classmethod
        def create(cls, graph_schema: GraphSchema, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
            return graph_runner_class.create(gate(graph_schema), *args, **kwargs)

    return _load_predict_graph_runner(storage_path, model_archive_path, model_storage_class, GatedRunner)


def install() -> None:
    loader.load_predict_graph_runner = _load_gated
