"""binder/ builds the same kit as pyproject.toml: same pins, raykit installed, small mode on."""

from __future__ import annotations

import tomllib

from conftest import ROOT
from packaging.requirements import Requirement

BINDER = ROOT / "binder"


def _binder_requirements() -> dict[str, Requirement]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-"))]
    return {r.name.lower(): r for r in reqs}


def _strip_local(spec: str) -> str:
    """``==2.13.0+cpu`` pins the same release as ``==2.13.0`` (the CPU build of it)."""
    return spec.split("+", 1)[0]


def test_binder_pins_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    expected = {Requirement(line).name.lower(): Requirement(line) for line in project}
    binder = _binder_requirements()
    assert set(binder) == set(expected), "binder/requirements.txt lists other packages"
    for name, req in expected.items():
        assert _strip_local(str(binder[name].specifier)) == str(req.specifier), name
        assert binder[name].extras == req.extras, name


def test_binder_installs_raykit_runs_small_mode_and_lists_apt_packages():
    assert "pip install --no-deps -e ." in (BINDER / "postBuild").read_text()
    assert "export RAYKIT_SMOKE=1" in (BINDER / "start").read_text()
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    apt = (BINDER / "apt.txt").read_text().split()
    assert "redis-server" in apt and "prometheus" in apt
