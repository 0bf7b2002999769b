"""Lesson 00 (welcome) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
"""

from __future__ import annotations

import re

from conftest import outputs_text


def test_welcome_prints_measured_speedup_and_passes_its_check(executed):
    text = outputs_text(executed("00_welcome.ipynb").output)
    speedup = re.search(r"([\d.]+)x faster \(at most (\d+)x\)", text)
    assert speedup, "the fan-out cell must print its measured speed-up"
    assert "\u2713 `cubes` is right." in text
    assert "same cluster as before: True" in text


def test_welcome_cluster_view_saved_the_hosts_real_cpu_count(executed):
    """The ClusterView's state is saved in the executed notebook: it showed this host's CPUs."""
    import nbformat

    from raykit._host import HostFacts

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
