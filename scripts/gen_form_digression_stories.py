"""Writes tests/stories/test_form_digressions.yml: every step of the application form (each
question, the materials step and the summary) × each kind of digression (issue 12).

Each story fills the form up to one step, digresses there, checks that the digression is
answered and the form asks the same question again (or the summary comes again), answers the
rest, and ends with "是的" submitting. `tests/rasa/test_story_table.py` checks the committed file
is what this script writes; run it after changing the table:

    .venv-rasa/bin/python scripts/gen_form_digression_stories.py
"""
from __future__ import annotations

import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "stories" / "test_form_digressions.yml"

# The form's steps in order: (requested slot, the resident's answer, its intent).
STEPS = [
    ("service_code", "[老年证](service)", "inform"),
    ("applicant_name", "我叫李明", "inform"),
    ("id_number", "11010519491231002X", "inform"),
    ("phone", "13812345678", "inform"),
    ("hukou_town", "[沟口](town)", "inform"),
    ("hukou_village", "[刁林村](village)", "inform"),
    ("current_location", "在屋头", "inform"),
    ("materials_have", "有身份证、户口本和照片", "inform_materials"),
]

# Kind → (what the resident says, its intent, the answer in the form, the answer at the summary).
# A person (转人工) is followed by the agent's hand-back: the gateway forwards nothing to Rasa
# meanwhile, so the next message Rasa sees is the resident's after the hand-back.
DIGRESSIONS = {
    "a requirements question": ("等一下，要带些啥子材料？", "ask_requirements",
                                ["action_requirements"], ["action_requirements"]),
    "a statement of materials": ("我手上有户口本", "inform_materials",
                                 ["action_checklist"], ["action_checklist"]),
    "a status question": ("我之前那个事办到哪了", "check_status",
                          ["action_check_status"], ["action_check_status"]),
    "thanks (chit-chat)": ("谢谢你", "thank", ["utter_you_are_welcome"], ["utter_you_are_welcome"]),
    "what can you do (chit-chat)": ("你能帮我做啥子", "bot_capabilities",
                                    ["utter_capabilities"], ["utter_capabilities"]),
    "something we do not do": ("帮我订张火车票", "out_of_scope", ["utter_out_of_scope"], ["utter_out_of_scope"]),
    "a greeting": ("你好", "greet", ["utter_form_continue"], ["utter_greet"]),
    "a person, then the hand-back": ("转人工", "request_human", ["action_handoff"], ["action_handoff"]),
}
# Cells where the digression is no digression: at the materials step a statement of materials is
# the answer; at the item question a document named ("户口本") is read as naming the item (残疾证).
NOT_A_DIGRESSION = {("materials_have", "a statement of materials"), ("service_code", "a statement of materials")}


def _user(text: str, intent: str) -> list[str]:
    return ["  - user: |", f"      {text}", f"    intent: {intent}"]


def _action(name: str) -> list[str]:
    lines = [f"  - action: {name}"]
    if name == "action_handoff":  # the rules say what action_handoff does with form_abandoned
        lines += ["  - slot_was_set:", "    - form_abandoned: null"]
    return lines


def _form_asks(slot: str | None) -> list[str]:
    if slot is None:
        return ["  - action: apply_form", "  - active_loop: null", "  - slot_was_set:",
                "    - requested_slot: null", "  - action: action_review_application"]
    return ["  - action: apply_form", "  - slot_was_set:", f"    - requested_slot: {slot}"]


def _start() -> list[str]:
    return [*_user("我想申请个事", "apply"), "  - action: apply_form", "  - active_loop: apply_form",
            "  - slot_was_set:", "    - requested_slot: service_code"]


def _answer(index: int) -> list[str]:
    _, text, intent = STEPS[index]
    following = STEPS[index + 1][0] if index + 1 < len(STEPS) else None
    return [*_user(text, intent), *_form_asks(following)]


def _submit() -> list[str]:
    return [*_user("是的", "affirm"), "  - action: action_submit_case"]


def story_at_step(index: int, kind: str) -> list[str]:
    slot = STEPS[index][0]
    text, intent, in_form, _ = DIGRESSIONS[kind]
    lines = [f"- story: {kind} when the form asks {slot}, then the form asks again and yes submits",
             "  steps:", *_start()]
    for done in range(index):
        lines += _answer(done)
    lines += _user(text, intent)
    for name in in_form:
        lines += _action(name)
    lines += _form_asks(slot)  # the question again (after 转人工 too: answered after the hand-back)
    for rest in range(index, len(STEPS)):
        lines += _answer(rest)
    return lines + _submit()


def story_at_summary(kind: str) -> list[str]:
    text, intent, _, at_summary = DIGRESSIONS[kind]
    lines = [f"- story: {kind} at the summary, then yes submits", "  steps:", *_start()]
    for done in range(len(STEPS)):
        lines += _answer(done)
    lines += _user(text, intent)
    for name in at_summary:
        lines += _action(name)
    if intent == "request_human":
        # After the hand-back the summary is not on screen any more: "继续刚才的申请" shows it again.
        lines += [*_user("继续刚才的申请", "apply"), *_form_asks(None)]
    else:
        lines += _action("action_review_application")
    return lines + _submit()


def story_stop_and_resume(index: int | None) -> list[str]:
    """"不办了" at a step (or at the summary), then "继续刚才的申请" resumes where it stopped."""
    where = "at the summary" if index is None else f"when the form asks {STEPS[index][0]}"
    lines = [f"- story: 不办了 {where}; 继续刚才的申请 resumes there with everything kept", "  steps:", *_start()]
    for done in range(len(STEPS) if index is None else index):
        lines += _answer(done)
    lines += _user("算了不办了", "stop")
    if index is None:
        lines += ["  - action: action_pause_application"]
        lines += [*_user("继续刚才的申请", "apply"), *_form_asks(None)]
    else:
        lines += ["  - action: action_deactivate_loop", "  - active_loop: null", "  - action: action_pause_application"]
        lines += [*_user("继续刚才的申请", "apply"), "  - action: apply_form", "  - active_loop: apply_form",
                  "  - slot_was_set:", f"    - requested_slot: {STEPS[index][0]}"]
        for rest in range(index, len(STEPS)):
            lines += _answer(rest)
    return lines + _submit()


def render() -> str:
    out = ['version: "3.1"',
           "# GENERATED by scripts/gen_form_digression_stories.py — edit the table there, not this file.",
           "# Issue 12: every form step (each question, the materials step, the summary) × each kind of",
           "# digression is answered, the form resumes at the same step with everything kept, and yes submits.",
           "stories:"]
    for index, (slot, _, _) in enumerate(STEPS):
        for kind in DIGRESSIONS:
            if (slot, kind) not in NOT_A_DIGRESSION:
                out += story_at_step(index, kind) + [""]
    for kind in DIGRESSIONS:
        out += story_at_summary(kind) + [""]
    for index in (1, 4, 7, None):
        out += story_stop_and_resume(index) + [""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(pathlib.Path.cwd()) if OUT.is_relative_to(pathlib.Path.cwd()) else OUT}",
          file=sys.stderr)
