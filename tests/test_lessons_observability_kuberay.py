"""Lessons 10 and 11, from their executed copies: PromQL answered, the job succeeded, manifests
pass strict validation against the real KubeRay CRDs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from _kuberay_crds import TEST_SOURCES, crds_or_skip
from conftest import outputs_text

from raykit._prometheus import Prometheus
from raykit.kuberay import CRDsNotFound, crds, validate


def _images_after(notebook_path, marker: str) -> int:
    """How many PNG outputs the cells that print ``marker`` displayed."""
    nb = nbformat.read(notebook_path, as_version=4)
    count = 0
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        if marker in text:
            count += sum("image/png" in o.get("data", {}) for o in outputs)
    return count


def test_observability_prints_a_promql_answer_for_its_workload_and_plots_it(executed):
    text = executed.text("10_observability.ipynb")
    result = executed("10_observability.ipynb")
    if "Prometheus server installed: False" in text:
        if os.environ.get("CI"):
            pytest.fail("CI must have the prometheus binary (`apt-get install prometheus`).")
        pytest.skip("no prometheus binary here: the lesson ran its scrape_metrics fallback")
    found = re.search(r"PromQL (sum\(ray_tasks\{.*?\}\)) -> (\d+) \(the workload ran (\d+)\)", text)
    assert found, "lesson 10 prints the PromQL task count next to the workload's size"
    assert int(found.group(2)) >= int(found.group(3)) > 0
    assert _images_after(result.output, "peak throughput") == 1, "the metrics panels were drawn"
    assert "dashboard -> Prometheus: prometheus running" in text
    assert "\u2713 `finished_from_metrics` is right." in text


def test_observability_finds_the_failed_task_and_its_logs(executed):
    text = outputs_text(executed("10_observability.ipynb").output)
    assert "failed task: read_config" in text
    assert "its stdout: reading the configuration from /etc/nowhere.yaml" in text
    assert "its stderr: about to parse it" in text
    assert re.search(r"the scrape snapshot:|in the snapshot: (\d+)", text)


def test_observability_shows_the_store_spilling_from_the_kit_and_rays_cli(executed):
    text = executed.text("10_observability.ipynb")
    held = re.search(r"= (\d+) MB in a (\d+) MB store", text)
    assert held and int(held.group(1)) > int(held.group(2)), "more is held than the store fits"
    figures = re.search(r"in memory at the peak: (\d+) MB; spilled: (\d+) MB", text)
    assert figures and int(figures.group(2)) > 0, "raykit.watch_store saw the spill"
    assert int(figures.group(1)) <= int(held.group(2)), "the peak is what fits, not what is held"
    # `ray memory --stats-only` reached the loopback-only cluster and printed its counters.
    assert re.search(r"Plasma memory usage \d+ MiB", text), "ray memory printed its stats"
    assert re.search(r"Spilled \d+ MiB, \d+ objects", text)
    # The metrics ports are read from the cluster: the node's agent port is the one ray.nodes()
    # reports, the others are labelled as fixed.
    assert re.search(r"port \d+\s+a node's metrics agent", text)


def test_kuberay_local_job_succeeded_with_its_token(executed):
    text = executed.text("11_kuberay.ipynb")
    assert "job status: SUCCEEDED" in text
    accuracy = re.search(r"test accuracy: ([\d.]+)", text)
    assert accuracy and float(accuracy.group(1)) > 0.8, "the job's own output is in its logs"
    if "token authentication is off" not in text:
        assert "GET /api/jobs/ without a token: 401" in text
        assert re.search(r"GET /api/jobs/ with the \S+ header \(Bearer <token>\): 200", text)
    assert "\u2713 `pool` is a valid RayCluster 'cpu-pool'" in text


def test_kuberay_lesson_says_where_its_crds_came_from(executed):
    """The lesson takes the CRDs through raykit.kuberay.crds(), and says what it found: the same
    place this test's lookup finds, or the lookup's own message and what strict checks add."""
    text = executed.text("11_kuberay.ipynb")
    try:
        found = crds(sources=TEST_SOURCES)
    except CRDsNotFound:
        assert "No KubeRay 1.7.0 CRDs found. Looked at:" in text
        assert "raykit kuberay crds --download" in text
        assert "the kit's checks only: strict validation would add unknown fields" in text
        assert "the kit's checks alone cannot see a misspelt field" in text
    else:
        assert str(found) in text


def test_kuberay_lesson_catches_the_float_cpu(executed):
    text = outputs_text(executed("11_kuberay.ipynb").output)
    assert re.search(r"containers\[0\]\.resources\.limits\.cpu: .*Fix: .*\"500m\"", text) or (
        "limits.cpu" in text and "500m" in text
    )
    assert "WorkerGroup(cpu=0.5) writes cpu: '500m'" in text


def test_kuberay_lesson_catches_the_typo_with_the_crds(executed):
    crds_or_skip()  # without the CRDs the lesson cannot see the typo, and says so (test above)
    text = outputs_text(executed("11_kuberay.ipynb").output)
    assert "with the typo: 1 issue(s)" in text
    assert "spec.workerGroupSpec:" in text


def test_kuberay_manifests_pass_strict_validation_against_the_real_crds(executed):
    real_crds = crds_or_skip()
    text = outputs_text(executed("11_kuberay.ipynb").output)
    found = re.search(r"wrote (\d+) manifests to (\S+)", text)
    assert found, "lesson 11 writes its manifests and says where"
    folder = Path(found.group(2))
    files = sorted(folder.glob("*.yaml"))
    assert len(files) == int(found.group(1)) >= 5
    kinds = set()
    for path in files:
        manifest = yaml.safe_load(path.read_text())
        kinds.add(manifest["kind"])
        issues = validate(manifest, crd=real_crds)
        assert issues == [], f"{path.name}:\n" + "\n".join(map(str, issues))
    assert kinds == {"RayCluster", "RayJob", "RayService"}


def test_kuberay_apply_sends_nothing_without_a_kubeconfig(executed):
    from raykit.kuberay._apply import find_kubeconfig

    if find_kubeconfig()[0] is not None:
        pytest.skip("a kubeconfig exists here: the lesson did a server-side dry run instead")
    text = outputs_text(executed("11_kuberay.ipynb").output)
    assert "attempted: False" in text
    assert "No kubeconfig found" in text


def test_prometheus_binary_is_present_in_ci():
    if os.environ.get("CI"):
        assert Prometheus().installed, "CI installs prometheus (apt-get install prometheus)"
