#!/usr/bin/env python
"""Evaluate the trained NLU model on the held-out resident messages.

Reports intent accuracy with a confusion summary, entity precision/recall per type, and
service-item top-1 (which catalog item the resident means).  Exits 1 when intent accuracy is
below --min-intent-accuracy (0.93) or service top-1 below --min-service-top1 (0.90); exits 2 on
a setup problem (no model, held-out text copied into the training data, …).

The model is either loaded in-process (needs the Rasa environment, run from the repo root):

    RASA_TELEMETRY_ENABLED=false /tmp/venv-rasa/bin/python scripts/eval_nlu.py --model models/

or queried on a running Rasa server (any Python with PyYAML):

    python scripts/eval_nlu.py --rasa-url http://127.0.0.1:5005 [--rasa-token TOKEN]

Service-item resolution for each message of tests/nlu_heldout/service_items.yml:
  1. a `service` entity was extracted → its value is mapped to a code offline
     (erma_nlu/service_resolver.py over erma_nlu/service_aliases.yml; with
     --entity-resolver platform, by the platform's catalog search on the entity value);
  2. no entity (or the entity maps to nothing) → the platform's catalog search on the whole
     message, GET $ERMA_PLATFORM_URL/api/v1/services?q=<text>.
If the platform is unreachable, step 2 is skipped (counted as a miss) and the report says so.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HELDOUT_DIR = REPO / "tests" / "nlu_heldout"
HELDOUT_GLOB = "heldout*.yml"          # heldout.yml, heldout_round2.yml, …
SERVICE_ITEMS_GLOB = "service_items*.yml"
TRAINING_DIR = REPO / "data" / "nlu"
FALLBACK_INTENT = "nlu_fallback"

ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|\{(?P<json>[^}]+)\})"
)


# --------------------------------------------------------------------------- reading data
def parse_annotated(line: str) -> Tuple[str, List[Dict[str, Any]]]:
    """'[低保](service)要啥' → ('低保要啥', [{'entity': 'service', 'start': 0, 'end': 2, ...}])."""
    text, entities, pos = "", [], 0
    for match in ANNOTATION.finditer(line):
        text += line[pos:match.start()]
        span = match.group("text")
        if match.group("entity"):
            entity, value = match.group("entity").strip(), span
        else:
            data = json.loads("{" + match.group("json") + "}")
            entity, value = data["entity"], data.get("value", span)
        entities.append({"entity": entity, "start": len(text), "end": len(text) + len(span),
                         "text": span, "value": value})
        text += span
        pos = match.end()
    return text + line[pos:], entities


def read_nlu_examples(path: Path) -> List[Dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples = []
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue
        for raw in str(block.get("examples", "")).splitlines():
            raw = raw.strip()
            if not raw.startswith("- "):
                continue
            text, entities = parse_annotated(raw[2:].strip())
            if text.strip():
                examples.append({"text": text, "intent": block["intent"], "entities": entities})
    return examples


def read_service_items(path: Path) -> List[Dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = []
    for entry in data.get("items") or []:
        expected = entry["expected"]
        items.append({"text": str(entry["text"]), "intent": entry.get("intent"),
                      "expected": expected if isinstance(expected, list) else [expected]})
    return items


def text_normaliser():
    """erma_nlu's normaliser; without OpenCC (plain Python calling a Rasa server) a fallback
    that only folds width and case, which is enough for the leak check and alias matching."""
    try:
        import opencc  # noqa: F401

        from erma_nlu.text_normalization import normalize_text
        return normalize_text
    except ImportError:
        import unicodedata

        def fold(text: str) -> str:
            return "".join(c if len(unicodedata.normalize("NFKC", c)) != 1
                           else unicodedata.normalize("NFKC", c).lower() for c in text)
        return fold


def leaked_texts(heldout: List[str], training_dir: Path) -> List[str]:
    """Held-out texts that also occur verbatim (after normalisation) in the training data."""
    normalize_text = text_normaliser()

    def key(text: str) -> str:
        return re.sub(r"[\s,.!?，。！？~]+", "", normalize_text(text))

    training = set()
    for path in sorted(training_dir.glob("*.yml")):
        training.update(key(e["text"]) for e in read_nlu_examples(path))
    return [t for t in heldout if key(t) in training]


# --------------------------------------------------------------------------- parsers
class LocalModelParser:
    """Loads a trained model with rasa.core.agent (needs the Rasa environment)."""

    def __init__(self, model: Path) -> None:
        os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import logging
        import warnings

        warnings.filterwarnings("ignore")
        import structlog
        from rasa.core.agent import Agent

        logging.getLogger().setLevel(logging.ERROR)
        for name in ("rasa", "tensorflow", "jieba", "absl"):
            logging.getLogger(name).setLevel(logging.ERROR)
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))

        path = model
        if not model.exists():
            raise SystemExit(f"eval_nlu: model {model} does not exist")
        if model.is_dir():
            candidates = sorted(model.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
            if not candidates:
                raise SystemExit(f"eval_nlu: no *.tar.gz model in {model}")
            path = candidates[-1]
        self.description = str(path)
        self.agent = Agent.load(str(path))
        self.loop = asyncio.new_event_loop()

    def parse(self, text: str) -> Dict[str, Any]:
        return self.loop.run_until_complete(self.agent.parse_message(text))


class ServerParser:
    """Calls a running Rasa server's /model/parse."""

    def __init__(self, url: str, token: Optional[str]) -> None:
        self.url = url.rstrip("/") + "/model/parse"
        if token:
            self.url += "?" + urllib.parse.urlencode({"token": token})
        self.description = url

    def parse(self, text: str) -> Dict[str, Any]:
        body = json.dumps({"text": text}).encode("utf-8")
        request = urllib.request.Request(self.url, data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))


class PlatformCatalog:
    """GET /api/v1/services?q= on the Erma platform (None if unreachable)."""

    def __init__(self, url: Optional[str], token: Optional[str]) -> None:
        self.url = url.rstrip("/") if url else None
        self.token = token
        self.reachable = False
        self.problem = "no --platform-url"
        if self.url:
            try:
                self._get("/healthz")
                self.reachable = True
                self.problem = ""
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self.problem = f"{self.url} unreachable ({exc})"

    def _get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read().decode("utf-8") or "null")

    def search(self, query: str) -> Optional[str]:
        if not self.reachable or not query:
            return None
        try:
            data = self._get("/api/v1/services?" + urllib.parse.urlencode({"q": query, "limit": 5}))
        except (urllib.error.URLError, OSError, ValueError):
            return None
        items = (data or {}).get("items") or []
        return items[0].get("code") if items else None


# --------------------------------------------------------------------------- metrics
def intent_report(examples, predictions) -> Dict[str, Any]:
    correct = 0
    confusion: Dict[Tuple[str, str], List[str]] = collections.defaultdict(list)
    per_intent = collections.defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "n": 0})
    for example, parsed in zip(examples, predictions):
        gold = example["intent"]
        predicted = (parsed.get("intent") or {}).get("name") or "None"
        per_intent[gold]["n"] += 1
        if predicted == gold:
            correct += 1
            per_intent[gold]["tp"] += 1
        else:
            per_intent[gold]["fn"] += 1
            per_intent[predicted]["fp"] += 1
            confusion[(gold, predicted)].append(example["text"])
    rows = {}
    for intent, c in sorted(per_intent.items()):
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows[intent] = {"support": c["n"], "precision": round(precision, 3),
                        "recall": round(recall, 3), "f1": round(f1, 3)}
    return {
        "accuracy": correct / len(examples) if examples else 0.0,
        "total": len(examples),
        "correct": correct,
        "fallbacks": sum(1 for p in predictions
                         if (p.get("intent") or {}).get("name") == FALLBACK_INTENT),
        "per_intent": rows,
        "confusions": sorted(
            ({"gold": g, "predicted": p, "count": len(t), "examples": t}
             for (g, p), t in confusion.items()),
            key=lambda row: -row["count"]),
    }


def entity_report(examples, predictions) -> Dict[str, Any]:
    counts = collections.defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0})
    misses = []
    for example, parsed in zip(examples, predictions):
        gold = {(e["entity"], e["start"], e["end"]) for e in example["entities"]}
        found = {(e["entity"], e.get("start"), e.get("end")) for e in parsed.get("entities") or []}
        for entity, *_ in gold & found:
            counts[entity]["tp"] += 1
        for entity, *_ in gold - found:
            counts[entity]["fn"] += 1
        for entity, *_ in found - gold:
            counts[entity]["fp"] += 1
        if gold != found:
            misses.append({"text": example["text"],
                           "expected": sorted(f"{e}:{example['text'][s:t]}" for e, s, t in gold),
                           "got": sorted(f"{e}:{example['text'][s:t]}" for e, s, t in found
                                         if s is not None)})
    rows = {}
    for entity, c in sorted(counts.items()):
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows[entity] = {"support": c["tp"] + c["fn"], "precision": round(precision, 3),
                        "recall": round(recall, 3), "f1": round(f1, 3)}
    return {"per_entity": rows, "mismatches": misses}


def assistant_resolution(catalog: "PlatformCatalog", values: List[str], text: str) -> Optional[str]:
    """The item exactly as the running assistant resolves it (actions/requirements.py): the
    service entity searched on the platform, the whole message when that finds nothing; when
    the platform offers choices, the first one counts as the top-1 answer."""
    import asyncio

    from actions.platform_client import PlatformClient
    from actions.requirements import resolve_text

    async def run() -> Optional[str]:
        client = PlatformClient(base_url=catalog.url, token=catalog.token)
        try:
            found = await resolve_text(client, " ".join(values) or text, text)
        finally:
            await client.close()
        return found.code or (found.choices[0]["code"] if found.choices else None)

    return asyncio.run(run())


def service_report(items, predictions, catalog: PlatformCatalog, entity_resolver: str):
    import erma_nlu.service_resolver as service_resolver

    service_resolver.normalize_text = text_normaliser()
    resolver = service_resolver.ServiceResolver()
    rows, hits, intent_hits = [], 0, 0
    paths = collections.Counter()
    for item, parsed in zip(items, predictions):
        values = [str(e.get("value")) for e in parsed.get("entities") or []
                  if e.get("entity") == "service"]
        code, path = None, "none"
        if entity_resolver == "assistant":
            code = assistant_resolution(catalog, values, item["text"])
            path = "assistant (entity→platform, else whole message)"
        elif values and entity_resolver != "ignore":
            if entity_resolver == "platform":
                code = catalog.search(" ".join(values))
                path = "entity→platform"
            else:
                code = resolver.resolve(values, item["text"])
                path = "entity→aliases"
        if code is None and catalog.reachable and entity_resolver != "assistant":
            code = catalog.search(item["text"])
            path = "text→platform"
        ok = code in item["expected"]
        hits += ok
        paths[path] += 1
        predicted_intent = (parsed.get("intent") or {}).get("name")
        intent_hits += item["intent"] is None or predicted_intent == item["intent"]
        rows.append({"text": item["text"], "expected": item["expected"], "got": code,
                     "via": path, "entities": values, "ok": ok,
                     "intent": predicted_intent, "expected_intent": item["intent"]})
    return {
        "top1": hits / len(items) if items else 0.0,
        "total": len(items),
        "correct": hits,
        "resolved_via": dict(paths),
        "intent_accuracy": intent_hits / len(items) if items else 0.0,
        "platform": "reachable" if catalog.reachable else f"not used: {catalog.problem}",
        "misses": [r for r in rows if not r["ok"]],
        "intent_mismatches": [r for r in rows if r["expected_intent"]
                              and r["intent"] != r["expected_intent"]],
    }


def per_source(examples, predictions, items, services) -> Dict[str, str]:
    """Intent accuracy per held-out file and service top-1 per service-item file."""
    out: Dict[str, str] = {}
    groups = collections.defaultdict(lambda: [0, 0])
    for example, parsed in zip(examples, predictions):
        group = groups[example["source"]]
        group[0] += (parsed.get("intent") or {}).get("name") == example["intent"]
        group[1] += 1
    for name, (ok, total) in groups.items():
        out[name] = f"intent {ok}/{total} = {ok / total:.3f}"
    missed = collections.Counter(
        next(i["source"] for i in items if i["text"] == m["text"]) for m in services["misses"])
    for name in sorted({i["source"] for i in items}):
        total = sum(i["source"] == name for i in items)
        ok = total - missed[name]
        out[name] = f"service top-1 {ok}/{total} = {ok / total:.3f}"
    return out


# --------------------------------------------------------------------------- output
def print_summary(intents, entities, services, show_errors: int) -> None:
    print(f"\n== Intent accuracy: {intents['accuracy']:.3f} "
          f"({intents['correct']}/{intents['total']}; {intents['fallbacks']} → nlu_fallback)")
    print(f"{'intent':<20}{'n':>4}{'prec':>7}{'rec':>7}{'f1':>7}")
    for intent, row in intents["per_intent"].items():
        if row["support"] or row["precision"]:
            print(f"{intent:<20}{row['support']:>4}{row['precision']:>7.2f}"
                  f"{row['recall']:>7.2f}{row['f1']:>7.2f}")
    if intents["confusions"]:
        print("\n-- Confusions (gold → predicted):")
        for row in intents["confusions"][:show_errors]:
            print(f"  {row['gold']} → {row['predicted']} ×{row['count']}: "
                  + " | ".join(row["examples"][:4]))
    print("\n== Entities (exact span + type)")
    print(f"{'entity':<14}{'n':>4}{'prec':>7}{'rec':>7}{'f1':>7}")
    for entity, row in entities["per_entity"].items():
        print(f"{entity:<14}{row['support']:>4}{row['precision']:>7.2f}"
              f"{row['recall']:>7.2f}{row['f1']:>7.2f}")
    for miss in entities["mismatches"][:show_errors]:
        print(f"  {miss['text']}: expected {miss['expected']} got {miss['got']}")
    print(f"\n== Service item top-1: {services['top1']:.3f} "
          f"({services['correct']}/{services['total']}); resolved via {services['resolved_via']}")
    print(f"   platform catalog search: {services['platform']}")
    print(f"   intent accuracy on these messages: {services['intent_accuracy']:.3f}")
    for miss in services["misses"][:show_errors]:
        print(f"  ✗ {miss['text']}: expected {miss['expected']} got {miss['got']} "
              f"via {miss['via']} entities={miss['entities']}")
    for row in services["intent_mismatches"][:show_errors]:
        print(f"  intent {row['expected_intent']} → {row['intent']}: {row['text']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, default=None,
                        help="model .tar.gz or directory holding models (newest is used); "
                             "default: models/")
    source.add_argument("--rasa-url", default=None, help="running Rasa server, e.g. http://127.0.0.1:5005")
    parser.add_argument("--rasa-token", default=os.environ.get("RASA_TOKEN"))
    parser.add_argument("--platform-url", default=os.environ.get("ERMA_PLATFORM_URL"),
                        help="Erma platform for catalog search (default $ERMA_PLATFORM_URL)")
    parser.add_argument("--platform-token", default=os.environ.get("ERMA_SERVICE_TOKEN"))
    parser.add_argument("--entity-resolver", choices=["assistant", "aliases", "platform", "ignore"],
                        default="assistant",
                        help="resolve as the assistant's actions do (assistant, default; needs the "
                             "platform), map a service entity to a code offline (aliases), by catalog "
                             "search on the entity value (platform), or ignore entities and search "
                             "the whole message (ignore; a baseline for comparison)")
    parser.add_argument("--heldout", type=Path, nargs="+", default=None,
                        help=f"NLU YAML files (default: {HELDOUT_GLOB} in tests/nlu_heldout/)")
    parser.add_argument("--service-items", type=Path, nargs="+", default=None,
                        help=f"service-item files (default: {SERVICE_ITEMS_GLOB})")
    parser.add_argument("--training-dir", type=Path, default=TRAINING_DIR)
    parser.add_argument("--min-intent-accuracy", type=float, default=0.93)
    parser.add_argument("--min-service-top1", type=float, default=0.90)
    parser.add_argument("--report", type=Path, default=None, help="write the full report as JSON")
    parser.add_argument("--show-errors", type=int, default=40)
    args = parser.parse_args(argv)

    heldout_files = args.heldout or sorted(HELDOUT_DIR.glob(HELDOUT_GLOB))
    item_files = args.service_items or sorted(HELDOUT_DIR.glob(SERVICE_ITEMS_GLOB))
    examples, items = [], []
    for path in heldout_files:
        examples.extend(dict(e, source=path.name) for e in read_nlu_examples(path))
    for path in item_files:
        items.extend(dict(i, source=path.name) for i in read_service_items(path))
    if not examples or not items:
        print("eval_nlu: no held-out messages found", file=sys.stderr)
        return 2
    leaked = leaked_texts([e["text"] for e in examples] + [i["text"] for i in items],
                          args.training_dir)
    if leaked:
        print("eval_nlu: held-out messages also present in the training data:", file=sys.stderr)
        for text in leaked:
            print(f"  {text}", file=sys.stderr)
        return 2

    if args.rasa_url:
        nlu = ServerParser(args.rasa_url, args.rasa_token)
    else:
        nlu = LocalModelParser(args.model or REPO / "models")
    catalog = PlatformCatalog(args.platform_url, args.platform_token)
    if args.entity_resolver in ("assistant", "platform", "ignore") and not catalog.reachable:
        print(f"eval_nlu: --entity-resolver {args.entity_resolver} needs the platform "
              f"({catalog.problem})",
              file=sys.stderr)
        return 2

    print(f"model: {nlu.description}")
    print(f"held-out: {len(examples)} messages in {', '.join(p.name for p in heldout_files)}; "
          f"{len(items)} service-item messages in {', '.join(p.name for p in item_files)}")
    if not catalog.reachable:
        print(f"platform: {catalog.problem} — service items resolved from the NLU entity only")

    try:
        predictions = [nlu.parse(e["text"]) for e in examples]
        item_predictions = [nlu.parse(i["text"]) for i in items]
    except (urllib.error.URLError, OSError) as exc:  # HTTPError is a URLError
        print(f"eval_nlu: cannot parse with {nlu.description}: {exc}", file=sys.stderr)
        return 2
    intents = intent_report(examples, predictions)
    entities = entity_report(examples, predictions)
    services = service_report(items, item_predictions, catalog, args.entity_resolver)
    print_summary(intents, entities, services, args.show_errors)
    by_source = per_source(examples, predictions, items, services)
    print("\n== Per file: " + "; ".join(f"{name} {row}" for name, row in by_source.items()))

    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(
            {"model": nlu.description, "intents": intents, "entities": entities,
             "services": services, "per_file": by_source}, ensure_ascii=False, indent=2), encoding="utf-8")

    failures = []
    if intents["accuracy"] < args.min_intent_accuracy:
        failures.append(f"intent accuracy {intents['accuracy']:.3f} < {args.min_intent_accuracy}")
    if services["top1"] < args.min_service_top1:
        failures.append(f"service top-1 {services['top1']:.3f} < {args.min_service_top1}")
    if failures:
        print("\nFAIL: " + "; ".join(failures))
        return 1
    print(f"\nPASS: intent accuracy {intents['accuracy']:.3f} ≥ {args.min_intent_accuracy}, "
          f"service top-1 {services['top1']:.3f} ≥ {args.min_service_top1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
