"""The lesson series against a cluster the user already has: ``RAY_ADDRESS`` names a MiniCluster
the suite starts (the ``series_run`` fixture; one per part of the series, the parts run side by
side), every lesson runs green under the kit's runner in
small mode, and the lessons that need a cluster of their own shape start it beside the user's and
say so. The same run is a learner's Run All, every exercise blank: tests/test_exercises.py reads
its exercises there."""

from __future__ import annotations

from pathlib import Path

import pytest
from _lessons import series_lessons
from conftest import NOTEBOOKS, outputs_text

# Runs after the lesson pool (the two would compete for the CPUs), as one more lesson job.
pytestmark = [pytest.mark.ray_cluster, pytest.mark.after_lessons]

# The lessons that ask raykit.init for a shape of their own (own_cluster=True).
OWN_SHAPE = {
    "03_object_store.ipynb",
    "04_patterns.ipynb",
    "06_data.ipynb",
    "10_observability.ipynb",
    "13_compare.ipynb",  # a cluster of WORKERS CPUs beside Dask's and Celery's, on this machine
}
BESIDE = "is set, but this work needs a cluster of its own shape"


@pytest.mark.timeout(3600)
def test_every_lesson_runs_against_the_cluster_ray_address_names(series_run):
    report = series_run.report
    assert [Path(r.notebook).name for r in report.results] == [
        p.name for p in series_lessons(NOTEBOOKS)
    ]
    failed = [
        f"{r.notebook} cell {r.cell_index}: {r.error}" for r in report.results if not r.passed
    ]
    assert not failed, "\n".join(failed)
    for part in series_run.parts:
        assert part["cpus_after"] == 2, "the user's cluster is still there, as it was"
        assert part["ray_address_after"] == part["address"], "the runner leaves it be"
    for result in report.results:
        text, name = outputs_text(result.output), Path(result.notebook).name
        if name in OWN_SHAPE:
            assert f"RAY_ADDRESS={series_run.address_of(name)} {BESIDE}" in text, name
        else:
            assert BESIDE not in text, f"{name} started a cluster of its own"
