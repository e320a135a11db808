"""The import contract: each package imports only from packages in layers below it.

Reading the layers bottom-up is reading the system: leaves (errors, messages,
languages), the YAML schema, config, audio data and the play log, text and
content, speech and sound cards, rendering and zones, the scheduler, the daemon
that composes them, and the command line on top. An import that points up (or
sideways between packages of one layer) fails here with the line that made it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "broadcaster"

LAYERS = (  # lowest first
    {"i18n"},
    {"errors", "language", "playwords"},
    {"schema"},
    {"config"},
    {"pcm", "playlog", "textnorm"},
    {"content", "tts", "audio"},
    {"render", "player"},
    {"scheduler", "fleet"},
    {"daemon"},
    {"web"},
    {"cli"},
    {"__main__"},
)
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str:
    """``broadcaster.content.load`` → ``content``; a top-level module is its own package."""
    return module.split(".")[1]


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every ``broadcaster`` import, at any depth, except type-only ones."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("broadcaster."):
                found.append((child.lineno, child.module))
            elif isinstance(child, ast.Import):
                found.extend((child.lineno, a.name) for a in child.names if a.name.startswith("broadcaster."))
            visit(child)

    visit(tree)
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "locale" not in p.parts)


def test_every_package_has_a_layer():
    packages = {p.relative_to(PACKAGE).with_suffix("").parts[0] for p in _modules()} - {"__init__"}
    assert packages <= set(LAYER), f"give these a layer in LAYERS: {sorted(packages - set(LAYER))}"


def test_imports_point_down():
    wrong = []
    for path in _modules():
        rel = path.relative_to(PACKAGE)
        source = rel.with_suffix("").parts[0]
        if source == "__init__":
            continue
        for line, module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = _top(module)
            if target != source and LAYER[target] >= LAYER[source]:
                wrong.append(f"broadcaster/{rel}:{line}: {source} (layer {LAYER[source]}) imports "
                             f"{module} (layer {LAYER[target]})")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_the_contract_catches_an_upward_import(tmp_path):
    """The checker itself: an import from a higher layer is found, a type-only one is not."""
    tree = ast.parse("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from broadcaster.cli.main import main\n"
                     "def f():\n    from broadcaster.daemon.run import Daemon\n")  # fmt: skip
    assert _runtime_imports(tree) == [(5, "broadcaster.daemon.run")]
    assert LAYER[_top("broadcaster.daemon.run")] > LAYER["content"]
