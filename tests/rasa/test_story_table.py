"""The generated table of form digressions (issue 12) is committed as the generator writes it, and
covers every form step and the summary with every kind of digression."""
from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_form_digression_stories.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_story_table_is_the_generated_one():
    gen = _generator()
    assert gen.OUT.read_text(encoding="utf-8") == gen.render(), \
        "run scripts/gen_form_digression_stories.py and commit tests/stories/test_form_digressions.yml"


def test_every_step_and_the_summary_meet_every_kind_of_digression():
    gen = _generator()
    text = gen.render()
    for slot, _, _ in gen.STEPS:
        for kind in gen.DIGRESSIONS:
            if (slot, kind) not in gen.NOT_A_DIGRESSION:
                assert f"- story: {kind} when the form asks {slot}," in text
    for kind in gen.DIGRESSIONS:
        assert f"- story: {kind} at the summary," in text
    assert len(gen.NOT_A_DIGRESSION) <= 2
