"""Ray's private API is used in one module only, and every symbol it relies on still exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOKS, ROOT

from raykit import _ray_private

PACKAGE = ROOT / "raykit"
# `ray._private...`, `ray._raylet`, `ray._common...`: any module of Ray whose name starts with _.
PRIVATE_MODULE = re.compile(r"\bray\.(_[a-z]\w*)")


@pytest.mark.parametrize(
    "module, name", _ray_private.CONTRACT, ids=[f"{m}.{n}" for m, n in _ray_private.CONTRACT]
)
def test_every_private_symbol_the_kit_relies_on_exists(module, name):
    """A Ray upgrade that moves one of these fails here, by name, before any lesson does."""
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone"


def _private_uses(source: str) -> list[str]:
    """Imports of, and attribute chains through, Ray's private modules in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and PRIVATE_MODULE.search(node.module):
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if PRIVATE_MODULE.search(a.name)]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_ray_"):
            found.append(f"._{node.attr[1:]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if PRIVATE_MODULE.match(node.value):
                found.append(node.value)
    return found


def test_no_module_but_ray_private_uses_rays_private_api():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_ray_private.py":
            continue
        uses = _private_uses(path.read_text())
        if uses:
            offenders[str(path.relative_to(ROOT))] = uses
    assert not offenders, f"Ray private API outside raykit/_ray_private.py: {offenders}"


def test_the_scan_would_catch_a_private_import():
    assert _private_uses("from ray._private.state import x\nimport ray._raylet\n") == [
        "from ray._private.state import ...",
        "ray._raylet",
    ]


def test_lessons_teach_no_private_ray_api():
    offenders = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if PRIVATE_MODULE.search(cell.source):
                offenders.setdefault(path.name, []).append(cell.source.splitlines()[0][:80])
    assert not offenders, f"lessons use Ray's private API: {offenders}"


def test_the_public_ways_are_used_where_ray_has_them():
    """The session dir and dashboard URL come from Ray's context, not its private worker."""
    text = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    assert "get_dashboard_url" not in text
    assert "_global_node" not in text
    assert Path(PACKAGE, "_ray_private.py").is_file()
