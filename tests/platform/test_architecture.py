"""The platform's import layers, read from docs/architecture.md: an import only points to its own layer or a
lower one, no two modules import each other (directly or round about), and no `erma` import hides inside a
function to dodge a cycle. The table in the doc is the contract, so the doc stays true."""
from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\|\s*\d+\s*\|\s*([a-z]+)\s*\|([^|]*)\|")


def read_layers(text: str) -> list[tuple[str, list[str]]]:
    """(layer, module patterns) from the doc's layer table, highest layer first."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers = []
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            layers.append((match.group(1), re.findall(r"`([^`]+)`", match.group(2))))
    return layers


def layer_of(module: str, layers: list[tuple[str, list[str]]]) -> int | None:
    """Index of the first layer (from the top) with a pattern naming the module or a package above it."""
    for index, (_, patterns) in enumerate(layers):
        for pattern in patterns:
            if fnmatch.fnmatchcase(module, pattern) or fnmatch.fnmatchcase(module, pattern + ".*"):
                return index
    return None


def upward_imports(graph: grimp.ImportGraph, layers: list[tuple[str, list[str]]]) -> list[str]:
    found = []
    for importer in sorted(graph.modules):
        low = layer_of(importer, layers)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            high = layer_of(imported, layers)
            if low is not None and high is not None and high < low:
                found.append(f"{importer} ({layers[low][0]}) imports {imported} ({layers[high][0]})")
    return found


def cycles(graph: grimp.ImportGraph) -> list[str]:
    """One line per cycle found (each cycle is reported once, from the first module of it in name order)."""
    found, seen = [], set()
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back and frozenset(back) not in seen:
                seen.add(frozenset(back))
                found.append(" -> ".join((importer, *back)))
    return found


def hidden_imports(package: Path) -> list[str]:
    """`erma` imports anywhere but a module's top level (or its `if TYPE_CHECKING:` block)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set()
        for node in tree.body:
            top.add(id(node))
            if isinstance(node, ast.If):
                top.update(id(child) for child in node.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "erma" or (
                    isinstance(node, ast.Import) and any(a.name.split(".")[0] == "erma" for a in node.names)):
                if id(node) not in top:
                    found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


@pytest.fixture(scope="module")
def layers() -> list[tuple[str, list[str]]]:
    return read_layers(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("erma", exclude_type_checking_imports=True, cache_dir=None)


def test_the_doc_names_the_layers(layers):
    assert [name for name, _ in layers] == ["entry", "web", "effects", "domain", "reference", "foundation"]


def test_every_module_belongs_to_a_layer(graph, layers):
    assert [m for m in sorted(graph.modules) if layer_of(m, layers) is None] == []


def test_imports_only_point_down(graph, layers):
    assert upward_imports(graph, layers) == []


def test_no_import_cycle(graph):
    assert cycles(graph) == []


def test_no_erma_import_inside_a_function():
    assert hidden_imports(ROOT / "erma") == []


def test_the_checks_catch_what_they_are_for(layers, tmp_path):
    """The same checks on a made-up graph: an upward import, a cycle and a late import are reported."""
    fake = grimp.ImportGraph()
    fake.add_import(importer="erma.db", imported="erma.dashboard.summary")  # foundation → domain
    fake.add_import(importer="erma.cases.views", imported="erma.cases.lifecycle")  # web → domain: fine
    fake.add_import(importer="erma.cases.lifecycle", imported="erma.cases.ownership")
    fake.add_import(importer="erma.cases.ownership", imported="erma.cases.lifecycle")
    assert upward_imports(fake, layers) == ["erma.db (foundation) imports erma.dashboard.summary (domain)"]
    assert cycles(fake) == ["erma.cases.lifecycle -> erma.cases.ownership -> erma.cases.lifecycle"]
    package = tmp_path / "erma"
    package.mkdir()
    (package / "late.py").write_text("import os\n\ndef f():\n    from erma.pushes import service\n")
    assert hidden_imports(package) == ["erma/late.py:4"]
