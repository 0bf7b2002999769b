"""Lesson 00 (welcome) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from raykit._host import HostFacts

EXERCISES = ("cube", "where", "half-cpu")


def _text(executed) -> str:
    return executed.text("00_welcome.ipynb")


def test_welcome_shows_rays_own_entry_points_first(executed):
    """Plain ray.init(), cluster_resources, `ray status` and ray.shutdown() ran before raykit."""
    text = _text(executed)
    address = re.search(r"this cluster: (\S+):\d+", text)
    assert address, "the `ray status` cell prints the plain cluster's address"
    if not os.environ.get("RAY_ADDRESS"):
        # The suite runs lessons in Ray's single-host mode, as `raykit run` and `make lab` do:
        # there, a plain ray.init() listens on loopback, which is what the text says.
        assert address.group(1) == "127.0.0.1"
    if "No cluster status" not in text:  # Ray's answer before its monitor's first report
        status = text.index("Autoscaler status")
        assert re.search(r"\d+\.\d+/\d+\.\d+ CPU", text[status:]), "`ray status` listed the CPUs"
    else:
        lesson = json.loads(
            (Path(__file__).parents[1] / "notebooks" / "00_welcome.ipynb").read_text()
        )
        said = " ".join("".join(c["source"]) for c in lesson["cells"]).replace("\n", " ")
        assert "`No cluster status`: the cluster's monitor" in said, "the lesson explains it"
    assert "connected to Ray: False" in text
    assert text.index("connected to Ray: False") < text.index("same cluster as before: True")


def test_welcome_prints_measured_speedup_consistent_with_its_timing(executed):
    text = _text(executed)
    assert "same cluster as before: True" in text
    timing = re.search(r"(\d+) tasks: ([\d.]+) s on (\d+) CPUs, ([\d.]+) s one after another", text)
    speedup = re.search(r"speed-up: ([\d.]+)x \(at most (\d+)x\)", text)
    assert timing and speedup, "the fan-out cell prints its timing and its speed-up"
    n, median, cpus, serial = (float(g) for g in timing.groups())
    assert int(cpus) == HostFacts.detect().cpus
    assert n == 4 * cpus and int(speedup.group(2)) == int(cpus)
    # The printed speed-up is the printed serial time over the printed median (up to rounding).
    printed = float(speedup.group(1))
    assert abs(printed - serial / median) <= 0.05 + 0.01 * printed
    assert "No prediction made. Measured:" in text, "observe() ran after predict()"


def test_welcome_checks_pass_and_judge_rays_records(executed):
    text = _text(executed)
    cpus = HostFacts.detect().cpus
    for name in EXERCISES:
        # The lesson run went on with the solution typed in (tests/_lessons.py).
        assert f"\u2713 00.{name}: solved by you." in text
    assert "\u2713 `cube_refs` holds 10 tasks of `cube`, all finished" in text
    assert "\u2713 `cubes` is right." in text
    where = re.search(r"for the (\d+) tasks in `pid_refs`: (\d+) worker process", text)
    assert where and int(where.group(1)) == 4 * cpus
    half = re.search(
        r"each of the (\d+) tasks in `half_refs` reserved 0.5 CPUs; at most (\d+) ran at once, "
        r"and this cluster has room for (\d+)",
        text,
    )
    assert half, "the half-CPU check printed what Ray recorded"
    assert int(half.group(1)) == 2 * cpus and int(half.group(3)) == 2 * cpus


def test_welcome_shows_the_learners_progress(executed):
    text = _text(executed)
    for name in EXERCISES:
        row = re.search(rf"00_welcome\s+{re.escape(name)}\s+(solution used|solved by you)", text)
        assert row, f"my_progress() lists 00.{name} as done"


def test_welcome_cluster_view_saved_the_hosts_real_cpu_count(executed):
    """The ClusterView's state is saved in the executed notebook: it showed this host's CPUs."""
    import nbformat

    nb = nbformat.read(executed("00_welcome.ipynb").output, as_version=4)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    cpu_bars = [
        m["state"]
        for m in state.values()
        if m["model_name"] == "FloatProgressModel" and m["state"].get("description") == "CPU"
    ]
    assert cpu_bars, "the ClusterView's CPU bar is in the saved widget state"
    assert cpu_bars[0]["max"] == HostFacts.detect().cpus
    labels = [m["state"]["value"] for m in state.values() if m["model_name"] == "LabelModel"]
    assert any(v.endswith(f"/ {HostFacts.detect().cpus} CPUs in use") for v in labels)
