"""The kit as a hosted notebook gets it: a wheel, installed by the site's Colab cell into a fresh
venv (not a clone), runs lessons 00 and 01 in small mode and finds its datasets.

The fresh venv stands for a hosted runtime: its Python sees a read-only copy of this venv's
packages (symlinks, the kit itself left out) the way Colab comes with numpy, pandas and torch
preinstalled, and that runtime's torch claims another version than the kit's exact pin. The
install cell (site/colab_install.py) must install the wheel and its dependencies without touching
that torch; pip runs with no index, so a download of anything (a torch above all) fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOKS, ROOT

pytestmark = [pytest.mark.ray_cluster, pytest.mark.after_lessons]

sys.path.insert(0, str(ROOT / "site"))
import build_site  # noqa: E402

LESSONS = ["00_welcome.ipynb", "01_tasks.ipynb"]
RUNTIME_TORCH = "2.12.0"  # what the stand-in runtime's torch says it is: not the kit's pin


def _runtime_packages(farm: Path) -> None:
    """Symlinks to this venv's packages, without raykit, and a torch that claims another
    version (its code is the real one)."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    farm.mkdir()
    for entry in site_packages.iterdir():
        name = entry.name.lower()
        if "raykit" in name or name.endswith(".pth") or name.startswith("torch-"):
            continue
        (farm / entry.name).symlink_to(entry)
    real = next(site_packages.glob("torch-*.dist-info"))
    fake = farm / f"torch-{RUNTIME_TORCH}.dist-info"
    fake.mkdir()
    metadata = (real / "METADATA").read_text(encoding="utf-8")
    version_line = next(line for line in metadata.splitlines() if line.startswith("Version:"))
    (fake / "METADATA").write_text(metadata.replace(version_line, f"Version: {RUNTIME_TORCH}"))
    (fake / "INSTALLER").write_text("runtime\n")
    # The kit's venv dropped rfc3987-syntax (scripts/drop-slow-imports.sh); a hosted runtime
    # gets it from PyPI with jupyter-events, which this pip, with no index, cannot: the runtime
    # has it, as far as pip's resolver looks (its metadata; jsonschema skips its missing code).
    dropped = farm / "rfc3987_syntax-1.1.0.dist-info"
    dropped.mkdir()
    (dropped / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rfc3987-syntax\nVersion: 1.1.0\n"
    )
    (dropped / "INSTALLER").write_text("runtime\n")


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd[:4]} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def test_wheel_installed_by_the_colab_cell_runs_lessons_00_and_01(tmp_path):
    # 1. The wheel, as `pip wheel` builds it from the repository's files (a copy: setuptools
    # leaves its build/ folder beside the sources).
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("raykit", "datasets"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(wheels), str(source)],
        timeout=600,
    )
    (wheel,) = wheels.glob("raykit-*.whl")

    # 2. A fresh venv standing for the hosted runtime.
    venv = tmp_path / "runtime"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    python = venv / "bin" / "python"
    farm = tmp_path / "preinstalled"
    _runtime_packages(farm)
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    (Path(purelib) / "runtime-preinstalled.pth").write_text(f"{farm}\n")

    work = tmp_path / "work"  # not the clone: nothing of the repository on sys.path
    work.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "RAYKIT_DATASETS", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env |= {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"

    # 3. The hosted notebook's first cell, as the site shows it, with the wheel for the kit.
    cell = build_site.install_cell(str(wheel))
    installed = _run([str(python), "-c", cell], cwd=work, env=env, timeout=900)
    assert "(kept this runtime's torch)" in installed.stdout, installed.stdout
    where = _run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, raykit, torch; "
            "print(raykit.__file__); print(torch.__file__); print(m.version('torch')); "
            "print(raykit.dataset_path('wine'))",
        ],
        cwd=work,
        env=env,
    ).stdout.split()
    kit_file, torch_file, torch_version, wine = where
    assert kit_file.startswith(purelib), f"raykit came from {kit_file}, not the wheel"
    assert torch_file.startswith(str(farm)) and torch_version == RUNTIME_TORCH, where
    assert wine.startswith(purelib) and Path(wine).is_dir(), f"datasets not found: {wine}"
    # Running the cell again does nothing: the kit is there.
    again = _run([str(python), "-c", cell], cwd=work, env=env, timeout=120)
    assert "raykit installed" not in again.stdout

    # 4. Lessons 00 and 01, and a probe of the kernel, run by the installed kit's own runner.
    lessons = work / "notebooks"
    lessons.mkdir()
    for name in LESSONS:
        shutil.copy(NOTEBOOKS / name, lessons)
    probe = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("SMOKE = None", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(
                "import sys, raykit\nprint(sys.executable)\nprint(raykit.__file__)\n"
                "print(raykit.dataset_path('digits/train'))"
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(probe, lessons / "probe.ipynb")
    out = work / "executed"
    run = subprocess.run(
        [str(venv / "bin" / "raykit"), "run", "--smoke", "--timeout", "900", "-o", str(out)]
        + [str(lessons / "probe.ipynb")]
        + [str(lessons / name) for name in LESSONS],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=1800,
    )
    print(run.stdout[-3000:])  # the runner's table: notebook, status, seconds
    summary = {Path(r["notebook"]).name: r for r in json.loads((out / "summary.json").read_text())}
    assert run.returncode == 0, {n: (r["status"], r.get("error")) for n, r in summary.items()}
    assert sorted(summary) == sorted([*LESSONS, "probe.ipynb"]), summary
    assert all(r["status"] == "passed" for r in summary.values()), summary
    printed = "".join(
        o.get("text", "")
        for c in nbformat.read(out / "probe.ipynb", as_version=4).cells
        for o in c.get("outputs", [])
    ).split()
    assert printed[0] == str(python) or printed[0].startswith(str(venv)), printed
    assert printed[1].startswith(purelib) and printed[2].startswith(purelib), printed
