"""The versions raykit expects, read back from its own package metadata (pyproject.toml)."""

from __future__ import annotations

import functools
import importlib.metadata
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@functools.cache
def requirements() -> dict[str, Requirement]:
    """Return raykit's core requirements by lower-case project name.

    The installed metadata is the source; a source checkout that was never installed falls
    back to ``pyproject.toml``. Either way the pin is stated once, in ``pyproject.toml``.
    """
    try:
        lines = importlib.metadata.requires("raykit") or []
    except importlib.metadata.PackageNotFoundError:
        lines = tomllib.loads(_PYPROJECT.read_text())["project"]["dependencies"]
    reqs = [Requirement(line) for line in lines]
    return {r.name.lower(): r for r in reqs if r.marker is None}


def expected_ray_version() -> str:
    """Return the exact Ray version the kit pins, such as ``"2.60.0"``."""
    (spec,) = requirements()["ray"].specifier
    return spec.version


def installed_version(dist: str) -> str | None:
    """Return the installed version of ``dist``, or ``None`` when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
