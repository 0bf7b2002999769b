"""Lesson 11 (KubeRay): what its executed copy printed, and the checks and helper it added."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _kuberay_crds import TEST_SOURCES, crds_or_skip
from conftest import outputs_text

import raykit
from raykit import ConfigError, check
from raykit.check import CheckFailed
from raykit.kuberay import (
    CRDsNotFound,
    RayCluster,
    RayJob,
    RayService,
    WorkerGroup,
    crds,
    untolerated,
    validate,
)
from raykit.kuberay._scheduling import tolerates

LESSON = "11_kuberay.ipynb"
EXERCISES = ("11.mend-yaml", "11.gpu-group", "11.autoscale", "11.train-job", "11.serve-app")


# --- the executed lesson (small mode) -----------------------------------------------------------


def _nearest_centroid(parts: int) -> tuple[int, float]:
    """Lesson 11's job, computed here with NumPy alone: (images trained on, test accuracy)."""

    def load(path):
        frame = pd.read_parquet(path)
        return np.stack(frame["pixels"].to_numpy()).astype(float), frame["label"].to_numpy()

    digits = raykit.dataset_path("digits")
    train = [load(p) for p in sorted((digits / "train").glob("*.parquet"))[:parts]]
    pixels = np.concatenate([t[0] for t in train])
    labels = np.concatenate([t[1] for t in train])
    centroids = np.stack([pixels[labels == k].mean(axis=0) for k in range(10)])
    test_pixels, test_labels = load(digits / "test" / "part-000.parquet")
    distances = ((test_pixels[:, None, :] - centroids[None]) ** 2).sum(axis=2)
    return len(labels), float((distances.argmin(axis=1) == test_labels).mean())


def test_the_job_ran_the_rayjobs_entrypoint_and_printed_what_numpy_computes(executed):
    text = executed.text(LESSON)
    assert "job status: SUCCEEDED" in text
    assert "with python train_digits.py" in text, "the learner's RayJob entrypoint was submitted"
    found = re.search(r"trained on (\d+) images in (\d+) Ray tasks", text)
    files = len(list((raykit.dataset_path("digits") / "train").glob("*.parquet")))
    tasks = min(4, files)  # the solution's DIGITS_TASKS, capped by the files there are
    assert found and int(found.group(2)) == tasks
    images, accuracy = _nearest_centroid(tasks)
    assert int(found.group(1)) == images
    assert f"test accuracy: {accuracy:.3f}" in text


def _displayed_table(notebook_path, source_end: str) -> pd.DataFrame:
    """The DataFrame a cell ending with ``source_end`` displayed, read back from its text."""

    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.endswith(source_end))
    shown = next(o["data"]["text/plain"] for o in cell.outputs if "data" in o)
    header, *rows = shown.splitlines()
    columns = re.split(r"\s{2,}", header.strip())
    values = [[float(v) for v in row.split()[1:]] for row in rows]  # the index comes first
    return pd.DataFrame(values, columns=columns)


def test_the_autoscaler_started_cpu_nodes_and_removed_them_as_its_history_shows(executed):
    """The printed figures are read again from the history table the lesson displayed."""
    text = executed.text(LESSON)
    assert "ran on node types: ['cpu', 'cpu']" in text
    up = float(re.search(r"first worker node up ([\d.]+) s after the submission", text).group(1))
    most = int(re.search(r"worker nodes alive at once, at most: (\d+)", text).group(1))
    gone = float(re.search(r"all gone ([\d.]+) s after the tasks finished", text).group(1))
    assert most in (1, 2), "at least one node for the tasks, never above max_workers=2"
    assert up > 0 and gone > 0
    table = _displayed_table(executed(LESSON).output, "history.table()")
    assert table["worker nodes"].max() == most
    assert table["worker nodes"].iloc[-1] == 0, "the history ends with every worker node gone"
    assert table["waiting"].max() >= 1


def test_the_infeasible_request_started_no_node_and_the_autoscaler_said_why(executed):
    text = executed.text(LESSON)
    assert "the task: PENDING_NODE_ASSIGNMENT" in text
    assert "worker nodes started for it: 0" in text
    assert "{'CPU': 4.0}: 1+ pending tasks/actors" in text, "ray status lists the demand"
    assert re.search(
        r"the autoscaler's log: .*No available node types can fulfill resource request "
        r"\{'CPU': 4\.0\}",
        text,
    )


def test_the_jobs_api_answered_401_then_200_with_the_token(executed):
    text = executed.text(LESSON)
    if "token authentication is off" in text:
        pytest.skip("token authentication is off on this host's clusters")
    assert "GET /api/jobs/ without a token: 401" in text
    assert "GET /api/jobs/ with the Authorization header (Bearer <token>): 200" in text


def test_the_lesson_says_where_its_crds_came_from(executed):
    """Through raykit.kuberay.crds(): the place this test's lookup finds, or the lookup's own
    message and what strict validation would add."""
    text = executed.text(LESSON)
    try:
        found = crds(sources=TEST_SOURCES)
    except CRDsNotFound:
        assert "No KubeRay 1.7.0 CRDs found. Looked at:" in text
        assert "the kit's checks only: strict validation would add unknown fields" in text
        assert "the kit's checks alone cannot see a misspelt field" in text
        assert "validated by the kit's checks (strict validation needs the KubeRay CRDs)" in text
    else:
        assert str(found) in text
        assert "validated strictly, against the KubeRay CRDs" in text


def test_the_prediction_is_observed_with_the_edits_validation_rejected(executed):
    text = executed.text(LESSON)
    for letter, verdict in (("A", "rejected"), ("B", "accepted"), ("C", "rejected")):
        assert re.search(rf"^{letter}: .*-?\s*{verdict}", text, re.M), letter
    assert re.search(r"^D: memory: 2G\s+accepted", text, re.M)
    assert "No prediction made. Measured: A and C. The right choice was 'A and C'." in text


def test_the_typo_is_named_with_the_crds(executed):
    crds_or_skip()  # without the CRDs the lesson says it cannot see the typo (test above)
    text = executed.text(LESSON)
    assert "with the typo: 1 issue(s)" in text
    assert "spec.workerGroupSpec: Unknown field 'workerGroupSpec'" in text


def test_every_exercise_passed_with_the_solution_typed_in(executed):
    text = executed.text(LESSON)
    for exercise_id in EXERCISES:
        assert f"\u2713 {exercise_id}: solved by you." in text, exercise_id


def test_the_written_manifests_pass_strict_validation(executed):
    real_crds = crds_or_skip()
    text = outputs_text(executed(LESSON).output)
    found = re.search(r"wrote (\d+) manifests to (\S+)", text)
    assert found, "lesson 11 writes its manifests and says where"
    files = sorted(Path(found.group(2)).glob("*.yaml"))
    assert len(files) == int(found.group(1)) == 8
    kinds = set()
    for path in files:
        manifest = yaml.safe_load(path.read_text())
        kinds.add(manifest["kind"])
        errors = [i for i in validate(manifest, crd=real_crds) if i.severity == "error"]
        assert errors == [], f"{path.name}:\n" + "\n".join(map(str, errors))
    assert kinds == {"RayCluster", "RayJob", "RayService"}


def test_apply_sends_nothing_without_a_kubeconfig(executed):
    from raykit.kuberay._apply import find_kubeconfig

    if find_kubeconfig()[0] is not None:
        pytest.skip("a kubeconfig exists here: the lesson did a server-side dry run instead")
    text = executed.text(LESSON)
    assert "attempted: False" in text
    assert "No kubeconfig found" in text


# --- untolerated: Kubernetes' taint and toleration rule -----------------------------------------

GPU = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
TEAM = {"key": "team", "value": "ml", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    "toleration, taint, matches",
    [
        ({"key": "team", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}, TEAM, True),
        ({"key": "team", "value": "ml"}, TEAM, True),  # Equal is the default; any effect
        ({"key": "team", "operator": "Equal", "value": "ai"}, TEAM, False),
        ({"key": "team", "operator": "Exists"}, TEAM, True),
        ({"operator": "Exists"}, TEAM, True),  # no key with Exists: every taint
        ({"key": "team", "operator": "Exists", "effect": "NoExecute"}, TEAM, False),
        ({"key": "nvidia.com/gpu", "operator": "Exists"}, TEAM, False),
    ],
)
def test_tolerates_follows_kubernetes_rule(toleration, taint, matches):
    assert tolerates(toleration, taint) is matches


def test_untolerated_lists_the_taints_that_keep_a_group_off():
    builder_gpu = RayCluster("c", worker_groups=[WorkerGroup("gpu", gpus=1, max_replicas=2)])
    assert untolerated(builder_gpu, "gpu", [GPU, TEAM]) == [TEAM]
    assert untolerated(builder_gpu, "head", [GPU]) == [GPU]
    soft = {"key": "team", "value": "ml", "effect": "PreferNoSchedule"}
    assert untolerated(builder_gpu, "gpu", [soft]) == [], "PreferNoSchedule does not block"
    both = WorkerGroup("gpu", gpus=1, tolerations=[{"key": "team", "operator": "Exists"}])
    assert untolerated(RayCluster("c", worker_groups=[both]).to_dict(), "gpu", [GPU, TEAM]) == []


def test_untolerated_names_a_bad_argument():
    cluster = RayCluster("c", worker_groups=[WorkerGroup("cpu")])
    with pytest.raises(ConfigError, match=r"\btaints\b"):
        untolerated(cluster, "cpu", GPU)
    with pytest.raises(ConfigError, match=r"\btaints\b"):
        untolerated(cluster, "cpu", [{"key": "team", "effect": "NoWay"}])
    with pytest.raises(ConfigError, match=r"group='gpu'.*\['cpu'\]"):
        untolerated(cluster, "gpu", [GPU])


# --- the lesson's checks, right and wrong ---------------------------------------------------------

BROKEN = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: batch
spec:
  headGroupSpec:
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:{v}-py311
          resources:
            limits:
              cpu: "1"
  workerGroupSpec:
  - groupName: small
    replicas: 2
    maxReplicas: 2
    template:
      spec:
        containers:
        - name: ray-worker
          image: rayproject/ray:{v}-py311
          resources:
            limits:
              cpu: 0.5
"""


@pytest.fixture(scope="module")
def broken():
    import ray

    return BROKEN.format(v=ray.__version__)


def _mended(broken: str) -> str:
    import ray

    version = f'spec:\n  rayVersion: "{ray.__version__}"\n  headGroupSpec:'
    return (
        broken.replace("cpu: 0.5", 'cpu: "500m"')
        .replace("workerGroupSpec:", "workerGroupSpecs:")
        .replace("spec:\n  headGroupSpec:", version)
    )


@pytest.mark.parametrize("crd", [False, None])
def test_manifest_fixed_passes_the_mended_yaml(broken, crd, capsys):
    check.manifest_fixed(_mended(broken), broken=broken, crd=crd)
    assert "is a valid RayCluster 'batch'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "edit, says",
    [
        (lambda t: t.replace('cpu: "500m"', "cpu: 0.5"), "does not validate"),
        (lambda t: t.replace("workerGroupSpecs:", "workerGroupSpec:"), "no worker group 'small'"),
        (lambda t: re.sub(r'  rayVersion: ".*"\n', "", t), "rayVersion is not set"),
        (lambda t: t.replace('cpu: "500m"', 'cpu: "1"'), "meant 0.5"),
        (lambda t: t.replace("name: batch", "name: other"), "named 'other'"),
        (lambda t: t.replace("  headGroupSpec:", " headGroupSpec:"), "not valid YAML"),
    ],
)
def test_manifest_fixed_fails_each_fault_even_without_the_crds(broken, edit, says):
    with pytest.raises(CheckFailed, match=re.escape(says)):
        check.manifest_fixed(edit(_mended(broken)), broken=broken, crd=False)


def _gpu_cluster(**group):
    settings = {"gpus": 1, "replicas": 0, "max_replicas": 4} | group
    return RayCluster("g", autoscaling=True, worker_groups=[WorkerGroup("gpu", **settings)])


def test_gpu_group_tolerates_passes_and_fails_on_what_kubernetes_would_do():
    team = [{"key": "team", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}]
    check.gpu_group_tolerates(_gpu_cluster(tolerations=team), "gpu", [GPU, TEAM], crd=False)
    with pytest.raises(CheckFailed, match="team=ml:NoSchedule"):
        check.gpu_group_tolerates(_gpu_cluster(), "gpu", [GPU, TEAM], crd=False)
    with pytest.raises(CheckFailed, match="ask for no nvidia.com/gpu"):
        check.gpu_group_tolerates(_gpu_cluster(gpus=0, tolerations=team), "gpu", [TEAM])
    with pytest.raises(CheckFailed, match="between 0 and 1 Pods"):
        check.gpu_group_tolerates(_gpu_cluster(max_replicas=1, tolerations=team), "gpu", [TEAM])


def _job(**changes):
    settings = {
        "entrypoint": "python train.py",
        "runtime_env": {"working_dir": "https://example.com/job.zip", "env_vars": {"N": "4"}},
    } | changes
    return RayJob("job", **settings)


def test_kuberay_job_judges_the_runtime_env_as_ray_reads_it(capsys):
    check.kuberay_job(_job(), script="train.py", env_vars=["N"], crd=False)
    assert "the code from https://example.com/job.zip" in capsys.readouterr().out
    wrong = [
        (_job(runtime_env={"working_dir": "/home/me/job", "env_vars": {"N": "4"}}), "cannot read"),
        (_job(runtime_env={"working_dir": "s3://b/j.zip", "env_vars": {"N": 4}}), "Ray rejects"),
        (_job(runtime_env={"working_dir": "s3://b/j.zip"}), "does not set N"),
        (_job(entrypoint="python other.py"), "does not run train.py"),
        (
            _job(shutdown_after_job_finishes=False, ttl_seconds_after_finished=0),
            "keeps running",
        ),
    ]
    for job, says in wrong:
        with pytest.raises(CheckFailed, match=re.escape(says)):
            check.kuberay_job(job, script="train.py", env_vars=["N"], crd=False)
    with pytest.raises(CheckFailed, match="not a RayJob builder"):
        check.kuberay_job(_job().to_dict(), script="train.py", env_vars=["N"], crd=False)


def _service(deployment: dict, cluster: RayCluster | None = None, route: str = "/d"):
    return RayService(
        "svc", import_path="m:app", route_prefix=route, deployments=[deployment], cluster=cluster
    )


def test_kuberay_service_reads_the_serve_config_and_the_clusters_room(capsys):
    scaling = {"name": "D", "autoscaling_config": {"min_replicas": 1, "max_replicas": 4}}
    grows = RayCluster("c", autoscaling=True, worker_groups=[WorkerGroup("w", max_replicas=2)])
    # The head's 2 CPUs plus 2 Pods of 1 CPU: room for 4 replicas of 1 CPU.
    check.kuberay_service(_service(scaling, grows), route_prefix="/d", deployment="D", crd=False)
    assert "the cluster grows to 4" in capsys.readouterr().out
    fixed = RayCluster("c", worker_groups=[WorkerGroup("w", replicas=1, max_replicas=2)])
    wrong = [
        (_service(scaling, fixed), "grows to 3 CPUs at most"),  # no autoscaler: replicas only
        (_service({"name": "D", "replicas": 4}, grows), "'replicas', which Serve does not know"),
        (_service({"name": "D", "num_replicas": 2}, grows), "does not autoscale"),
        (_service(scaling, grows, route="/"), "serves nothing at /d"),
        (
            _service({"name": "D", "num_replicas": 0}, grows),
            "Ray Serve rejects the Serve config",
        ),
    ]
    for service, says in wrong:
        with pytest.raises(CheckFailed, match=re.escape(says)):
            check.kuberay_service(service, route_prefix="/d", deployment="D", crd=False)
