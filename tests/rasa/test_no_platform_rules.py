"""The assistant keeps no copy of the platform's rules (issue 14): the 好差评 levels and their reading
belong to the platform (erma/followup/levels.py, served by `GET /api/v1/ratings/levels` and read by
`POST /api/v1/cases/{case_no}/rating`); which item a message means is `POST /api/v1/understand/resolve`.

Walks the Python source of actions/ and erma_nlu/ (not the training data or the aliases): fails if a
string in code (docstrings and comments aside) is a level word or a rating cue, or if a collection
literal holds two level words — a vocabulary defined again.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("actions", "erma_nlu") for p in (ROOT / folder).rglob("*.py"))
LEVEL_WORDS = {"非常满意", "满意", "基本满意", "不满意", "非常不满意"}
# Words the platform reads as a level; a string that is exactly one of them is a reading rule.
RATING_CUES = LEVEL_WORDS | {"好评", "差评", "五星", "5星", "还行", "还可以", "一般", "满分", "巴适", "不太满意"}
NAMES = ("RATING_LEVELS", "LEVELS", "canonical_rating_level", "parse_level", "read_level")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def problems(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if node.value.strip() in RATING_CUES:
                found.append(f"{line} reads a rating level: {node.value!r}")
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            levels = {s for s in _strings(node) if s in LEVEL_WORDS}
            if len(levels) >= 2:
                found.append(f"{line} lists the rating levels again: {sorted(levels)}")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in NAMES:
            found.append(f"{line} defines {node.name}")
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in NAMES:
            found.append(f"{line} defines {node.id}")
        if isinstance(node, ast.ImportFrom):
            found += [f"{line} imports {alias.name}" for alias in node.names if alias.name in NAMES]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_rating_vocabulary_outside_the_platform(path: Path):
    assert problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


def test_the_guard_sees_a_vocabulary_defined_again():
    """The check above catches the copy this issue removed (erma_nlu/entity_values.py had it)."""
    copy = ('RATING_LEVELS = ("非常不满意", "不满意", "基本满意", "满意", "非常满意")\n'
            'def canonical_rating_level(text):\n    return "不满意" if "差评" in text else None\n')
    found = problems(copy, "copy.py")
    assert any("lists the rating levels" in f for f in found)
    assert any("reads a rating level" in f for f in found)
    assert any("defines RATING_LEVELS" in f for f in found) and any("defines canonical_rating_level" in f for f in found)
