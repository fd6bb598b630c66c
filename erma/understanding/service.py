"""What a resident's message means: the owner of that rule (docs/platform-api.md §Understanding).

Item first: the item model ranks the catalog's items (and `none`); the behaviour model says what
the resident wants. Then, in this order:
1. a case reference ("EM-20261103-0042", "受理号…") → a status question;
2. the behaviour model says status → a status question (about the item, when one is clear);
3. an item is found and is clearly ahead → a question about it ("requirements") or an application
   ("apply"; a request that also asks what or how, "我要办低保要带啥", is a question); when the next
   item is close behind, the resident chooses between them (``choices``);
4. no item: a message about something we do not do is `out_of_scope`; one that names no service
   at all (greetings, yes/no, "我要办") is `other`, and the assistant's own dialogue handles it.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from erma.catalog.schema import ServiceItemSpec
from erma.catalog.search import NAMED_SHARE, CatalogSearch
from erma.catalog.service import catalog_version, get_search, list_items
from erma.pii_refs.service import REFERENCE_RE
from erma.understanding import cues
from erma.understanding.corpus import NONE, build_corpus
from erma.understanding.model import Models, models_for

# An item is found when its score is at least this (LinearSVC decision value). Set on the
# development sets (blind_v1 and blind_v2, each left out of training; both since retired into it).
MIN_ITEM_SCORE = -0.6
# The best item must beat `none` (something we do not do) by more than this: a wrong list is worse
# than saying we do not do it and offering a person.
NONE_MARGIN = -0.1
# The runner-up is offered too when it scores within this of the best.
CLOSE_GAP = 0.1
MAX_CHOICES = 3


@dataclass(frozen=True)
class Choice:
    code: str
    name: str
    score: float


@dataclass(frozen=True)
class Understanding:
    behaviour: str  # requirements | apply | status | out_of_scope | other
    item: str | None = None  # the one item meant, when there is one
    name: str | None = None
    choices: list[Choice] = field(default_factory=list)  # a close call: the resident picks
    fact: str | None = None  # photo | in_person | eligibility | time | fee: what was asked first
    wrong_item: bool = False  # "办错了 / 不是这个": not the item just named

    def as_dict(self) -> dict:
        return asdict(self)


_lock = threading.Lock()
_by_version: dict[str, tuple[Models | None, dict[str, ServiceItemSpec]]] = {}


def _models(session: Session, version: str | None = None) -> tuple[Models | None, dict[str, ServiceItemSpec]]:
    """The models for the catalog in this database (None while the catalog is empty); `version`: its
    catalog_version, when the caller has read it."""
    version = version or catalog_version(session)
    with _lock:
        if version not in _by_version:
            items = list_items(session)
            models = models_for(build_corpus(items)) if items else None
            _by_version.clear()
            _by_version[version] = (models, {i.code: i for i in items})
        return _by_version[version]


def warm_up(session: Session) -> None:
    """Loads (or trains) the models before the first resident waits for them."""
    _models(session)


def understand(session: Session, text: str) -> Understanding:
    version = catalog_version(session)  # once: the models and the search index follow the same catalog
    models, items = _models(session, version)
    return decide(models, items, get_search(session, version), text)


def decide(models: Models | None, items: dict[str, ServiceItemSpec], search: CatalogSearch,
           text: str) -> Understanding:
    # An ID number or phone arrives as a reference (〔身份证#K7Q2M〕): a message carrying one answers
    # the form ("身份证号是〔身份证#K7Q2M〕"), it never asks about 居民身份证.
    if REFERENCE_RE.search(text or ""):
        return Understanding("status" if cues.has_case_reference(text) else "other")
    text = (text or "").strip()
    if not text or models is None:
        return Understanding("other")
    normal = models.text.normal(text)
    fact = cues.asked_fact(normal)
    ranked = models.rank_items(text)
    behaviours = models.rank_behaviours(text)
    wanted = behaviours.labels[0]
    found = [(code, score) for code, score in zip(ranked.labels, ranked.scores)
             if code != NONE and code in items]
    best_code, best_score = found[0] if found else (None, float("-inf"))
    none_score = ranked.scores[ranked.labels.index(NONE)] if NONE in ranked.labels else float("-inf")
    # An item is meant when it scores well enough and is clearly ahead of `none`.
    item_clear = (best_code is not None and best_score >= MIN_ITEM_SCORE
                  and none_score - best_score < NONE_MARGIN)

    def named_item(code: str | None) -> str | None:
        return items[code].name if code else None

    # A progress cue means a case of ours, unless what is asked after is something we do not do
    # ("快递到哪了", "报了警也没下文"): then the behaviour model's `out_of_scope` stands.
    progress = cues.has_progress_cue(text, normal) and not (wanted == "out_of_scope" and not item_clear)
    if cues.has_case_reference(text) or progress or wanted == "status":
        code = best_code if item_clear else None
        return Understanding("status", code, named_item(code))
    if cues.says_wrong_item(normal) and not item_clear:
        return Understanding("other", wrong_item=True)
    if wanted == "other":
        # "我有身份证和户口本", "只有户口本": what the resident has in hand, an answer, a greeting —
        # the assistant's own dialogue handles it (its checklist, its form), whatever item it names.
        return Understanding("other", fact=fact)
    if not item_clear and cues.resumes_application(normal):
        return Understanding("apply")  # the application the conversation left: the dialogue knows it
    if not item_clear:
        # Words beyond particles and the conversation's own words ("在哪点办", "谢谢") name
        # something: it is none of ours, so say so (never a neighbour's list).
        # A detail asked with nothing else named ("照片要几张？", "要本人去不") is about the item the
        # conversation is on (the application, the last answer): the dialogue's, not out of scope.
        rest = cues.without_fact_words(normal) if fact else text
        named_something = any(len(w) > 1 and w not in models.conversation_words for w in models.text.content_words(rest))
        return Understanding("out_of_scope" if named_something else "other", fact=fact)
    # A question about the item stays a question even when the behaviour model reads a request in it.
    starts = cues.wants_to_start(normal) or (wanted == "apply" and not cues.asks_how(normal))
    behaviour = "apply" if starts else "requirements"
    scores = dict(found)
    top = [code for code, _ in found[:MAX_CHOICES]]
    close = [code for code in top if best_score - scores[code] < CLOSE_GAP]
    # The county's everyday names (search lexicon `service_names`, erma/catalog/search.py) decide
    # among the top items: a name several of them share, said alone ("残疾证": 新办 or 补办), is a
    # choice; a close call settled by a name ("残疾证丢了") is that item.
    alike = search.named_alike(text, top)
    named, share = search.named(text, top)
    if best_code in alike:
        close = alike
    elif share >= NAMED_SHARE and len(named) == 1 and named[0] in close:
        close = named
    if len(close) > 1:
        return Understanding(behaviour, choices=[Choice(code, items[code].name, round(scores[code], 3))
                                                 for code in close], fact=fact)
    code = close[0]
    return Understanding(behaviour, code, named_item(code), fact=fact)
