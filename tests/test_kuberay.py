"""raykit.kuberay: built manifests pass the real KubeRay CRDs; broken ones fail at their field."""

from __future__ import annotations

import copy
import os

import pytest
import yaml
from _kuberay_crds import TEST_SOURCES, crds_or_skip

import raykit.kuberay
from raykit.exceptions import ConfigError
from raykit.kuberay import (
    PYTHON_TAG,
    ManifestError,
    RayCluster,
    RayJob,
    RayService,
    WorkerGroup,
    load_crd,
    validate,
    validate_or_raise,
)
from raykit.kuberay._facts import parse_image

PINNED = "2.60.0"


@pytest.fixture(scope="module")
def found():
    """The KubeRay v1.7.0 CRDs as ``raykit.kuberay.crds()`` finds them; a skip where it cannot."""
    return crds_or_skip()


@pytest.fixture(scope="module")
def crds(found) -> dict[str, dict]:
    """The three CRDs, parsed once for the module."""
    return {kind: found.load(kind) for kind in ("RayCluster", "RayJob", "RayService")}


def test_ci_validates_against_the_real_crds():
    """Where the CRDs are handed over (RAYKIT_KUBERAY_CRDS, as this repository's CI does) or in
    CI, no CRD test may skip: the lookup must find them, and they must be the release's."""
    if not os.environ.get("RAYKIT_KUBERAY_CRDS") and not os.environ.get("CI"):
        pytest.skip("neither CI nor RAYKIT_KUBERAY_CRDS: the CRD tests may skip here")
    found = raykit.kuberay.crds(sources=TEST_SOURCES)  # CRDsNotFound fails this test
    assert found.matches_release, f"{found}: not the KubeRay {found.version} release files"


def full_cluster(name: str = "demo") -> RayCluster:
    """Head + autoscaling GPU group (on-demand) + CPU spot group."""
    return RayCluster(
        name,
        head_runs_tasks=False,
        autoscaling=True,
        worker_groups=[
            WorkerGroup(
                "gpu",
                gpus=1,
                cpu=8,
                memory="32Gi",
                replicas=0,
                max_replicas=4,
                capacity="on-demand",
                cloud="gke",
            ),
            WorkerGroup(
                "cpu-spot", cpu=4, memory="16Gi", max_replicas=10, capacity="spot", cloud="eks"
            ),
        ],
    )


def builders() -> dict:
    return {
        "cluster": full_cluster(),
        "job": RayJob(
            "train",
            "python train.py",
            cluster=full_cluster(),
            runtime_env={"pip": ["numpy"], "env_vars": {"A": "1"}},
            active_deadline_seconds=3600,
        ),
        "service": RayService(
            "serve-app",
            "app:deployment",
            cluster=RayCluster("unused", worker_groups=[WorkerGroup("cpu", replicas=2)]),
            deployments=[{"name": "Model", "num_replicas": 2}],
        ),
        "gcs-ft": RayCluster("ha", redis_address="redis:6379", redis_password_secret="redis-auth"),
        "head-only-job": RayJob("tiny", "python -c 'print(1)'"),
    }


def built_manifests() -> dict[str, dict]:
    return {name: builder.to_dict() for name, builder in builders().items()}


@pytest.mark.parametrize("which", sorted(built_manifests()))
def test_built_manifests_pass_strict_validation(which, crds, found):
    manifest = built_manifests()[which]
    issues = validate(manifest, crd=crds[manifest["kind"]])
    assert issues == [], "\n".join(map(str, issues))
    # The same through what crds() returns, a CRD file path, and the folder.
    assert validate(manifest, crd=found) == []
    assert validate(manifest, crd=found.path(manifest["kind"])) == []
    assert validate_or_raise(manifest, crd=found.folder) == []


def test_cluster_manifest_content():
    spec = full_cluster().to_dict()["spec"]
    assert spec["rayVersion"] == PINNED
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["autoscalerOptions"]["version"] == "v2"
    head = spec["headGroupSpec"]
    assert head["rayStartParams"] == {"num-cpus": "0"}
    assert head["template"]["spec"]["containers"][0]["image"] == f"rayproject/ray:{PINNED}-py311"
    gpu, spot = spec["workerGroupSpecs"]
    gpu_container = gpu["template"]["spec"]["containers"][0]
    assert gpu_container["image"] == f"rayproject/ray:{PINNED}-py311-gpu"
    assert gpu_container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["rayStartParams"]["num-gpus"] == "1"
    assert (gpu["minReplicas"], gpu["replicas"], gpu["maxReplicas"]) == (0, 0, 4)
    assert gpu["template"]["spec"]["restartPolicy"] == "Never"
    match = gpu["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert match == {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]}
    assert spot["template"]["spec"]["nodeSelector"] == {"eks.amazonaws.com/capacityType": "SPOT"}
    assert {"key": "eks.amazonaws.com/capacityType", "operator": "Equal", "value": "SPOT",
            "effect": "NoSchedule"} in spot["template"]["spec"]["tolerations"]  # fmt: skip


def test_gcs_ft_uses_options_not_annotation():
    manifest = RayCluster("ha", redis_address="redis:6379", redis_password_secret="s").to_dict()
    assert "annotations" not in manifest["metadata"]
    assert manifest["spec"]["gcsFaultToleranceOptions"] == {
        "redisAddress": "redis:6379",
        "redisPassword": {"valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
    }


def test_rayjob_and_rayservice_content():
    job = RayJob("train", "python train.py", runtime_env={"pip": ["numpy"]}).to_dict()["spec"]
    assert job["shutdownAfterJobFinishes"] is True
    assert job["ttlSecondsAfterFinished"] == 300
    assert yaml.safe_load(job["runtimeEnvYAML"]) == {"pip": ["numpy"]}
    service = RayService("svc", "app:deployment", route_prefix="/api").to_dict()["spec"]
    assert isinstance(service["serveConfigV2"], str)
    assert yaml.safe_load(service["serveConfigV2"]) == {
        "applications": [{"name": "app", "import_path": "app:deployment", "route_prefix": "/api"}]
    }


@pytest.mark.parametrize("which", sorted(builders()))
def test_to_yaml_round_trips(which):
    builder = builders()[which]
    assert yaml.safe_load(builder.to_yaml()) == builder.to_dict()


def test_to_yaml_writes_serve_config_as_block():
    text = RayService("svc", "app:deployment").to_yaml()
    assert "serveConfigV2: |" in text
    assert yaml.safe_load(text) == RayService("svc", "app:deployment").to_dict()
    assert "'2'" in RayCluster("c").to_yaml()  # cpu stays a string: '2', not 2


# --- broken manifests: each fails at the field that is wrong --------------------------------


def _cluster_builder() -> RayCluster:
    return RayCluster("demo", worker_groups=[WorkerGroup("cpu", cpu=2, replicas=1, max_replicas=3)])


def _cluster() -> dict:
    return _cluster_builder().to_dict()


def _cluster_spec(m: dict) -> dict:
    return {"RayCluster": m["spec"], "RayJob": m["spec"].get("rayClusterSpec"),
            "RayService": m["spec"].get("rayClusterConfig")}[m["kind"]]  # fmt: skip


def _set_ray(m: dict, tag: str, ray_version: str | None = "same") -> dict:
    """Every group on ``rayproject/ray:<tag>``; rayVersion that Ray, another, or none (None)."""
    spec = _cluster_spec(m)
    for group in [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]:
        group["template"]["spec"]["containers"][0]["image"] = f"rayproject/ray:{tag}"
    if ray_version is None:
        spec.pop("rayVersion", None)
    else:
        spec["rayVersion"] = tag.split("-")[0] if ray_version == "same" else ray_version
    return m


def _worker(m: dict) -> dict:
    return m["spec"]["workerGroupSpecs"][0]


def _head_container(m: dict) -> dict:
    return m["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]


def _typo(m):
    m["spec"]["workerGroupSpec"] = m["spec"].pop("workerGroupSpecs")


def _float_cpu(m):
    _worker(m)["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = 0.5


def _numeric_param(m):
    _worker(m)["rayStartParams"] = {"num-cpus": 4}


def _min_over_max(m):
    _worker(m)["minReplicas"] = 5


def _replicas_over_max(m):
    _worker(m)["replicas"] = 7


def _versions(m):
    _worker(m)["template"]["spec"]["containers"][0]["image"] = "rayproject/ray:2.50.0-py311"


def _pythons(m):
    _worker(m)["template"]["spec"]["containers"][0]["image"] = f"rayproject/ray:{PINNED}-py310"


def _ray_version(m):
    m["spec"]["rayVersion"] = "2.59.0"


def _long_name(m):
    m["metadata"]["name"] = "x" * 54


def _both_ft(m):
    m["metadata"]["annotations"] = {"ray.io/ft-enabled": "true"}
    m["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}


def _int32_overflow(m):
    _worker(m)["maxReplicas"] = 2**31


def _duplicate_container(m):
    containers = m["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    containers.append(copy.deepcopy(containers[0]))


def _duplicate_port(m):
    # protocol is a list-map key defaulting to TCP: the duplicate shows only after defaulting
    _head_container(m)["ports"].append({"containerPort": 8265, "name": "dash-again"})


def _bad_enum(m):
    m["spec"]["autoscalerOptions"] = {"version": "v3"}


def _missing_template(m):
    del _worker(m)["template"]


def _unknown_metadata_field(m):
    m["metadata"]["label"] = {"a": "b"}


def _unknown_field_in_pod(m):
    _head_container(m)["resource"] = _head_container(m).pop("resources")


WORKER = "spec.workerGroupSpecs[0]"
HEAD_CONTAINER = "spec.headGroupSpec.template.spec.containers[0]"

BROKEN_CLUSTERS = [
    # (mutation, path, check, words the message or fix must hold)
    (_typo, "spec.workerGroupSpec", "unknown-field", "workerGroupSpecs"),
    (_float_cpu, f"{WORKER}.template.spec.containers[0].resources.limits.cpu", "quantity-type",
     '"500m"'),
    (_numeric_param, f"{WORKER}.rayStartParams.num-cpus", "ray-start-params-string", '"4"'),
    (_min_over_max, f"{WORKER}.minReplicas", "replicas-range", "greater than maxReplicas"),
    (_replicas_over_max, f"{WORKER}.replicas", "replicas-range", "between 0 and 3"),
    (_versions, f"{WORKER}.template.spec.containers[0].image", "image-version", "2.50.0"),
    (_pythons, f"{WORKER}.template.spec.containers[0].image", "image-python", "py310"),
    (_ray_version, "spec.rayVersion", "ray-version", "2.59.0"),
    (_long_name, "metadata.name", "name-length", "53"),
    (_both_ft, "metadata.annotations[ray.io/ft-enabled]", "gcs-ft-both",
     "gcsFaultToleranceOptions"),
    (_int32_overflow, f"{WORKER}.maxReplicas", "int32-range", "2147483647"),
    (_duplicate_container, "spec.headGroupSpec.template.spec.containers[1]", "list-map-duplicate",
     "'ray-head'"),
    (_duplicate_port, f"{HEAD_CONTAINER}.ports[4]", "list-map-duplicate", "protocol='TCP'"),
    (_bad_enum, "spec.autoscalerOptions.version", "enum", "v2"),
    (_missing_template, f"{WORKER}.template", "required-field", "missing"),
    (_unknown_metadata_field, "metadata.label", "unknown-field", "'labels'"),
    (_unknown_field_in_pod, f"{HEAD_CONTAINER}.resource", "unknown-field", "'resources'"),
]  # fmt: skip


@pytest.mark.parametrize(
    "mutate, path, check, words", BROKEN_CLUSTERS, ids=[c[0].__name__ for c in BROKEN_CLUSTERS]
)
def test_broken_cluster_fails_at_the_right_field(crds, mutate, path, check, words):
    manifest = _cluster()
    assert validate(manifest, crd=crds["RayCluster"]) == []  # the base is clean
    mutate(manifest)
    errors = [i for i in validate(manifest, crd=crds["RayCluster"]) if i.severity == "error"]
    found = {(i.path, i.check) for i in errors}
    assert (path, check) in found, "\n".join(map(str, errors))
    (hit,) = [i for i in errors if (i.path, i.check) == (path, check)]
    assert words in hit.message + hit.fix
    assert hit.fix  # every issue says how to fix it
    with pytest.raises(ManifestError) as raised:
        validate_or_raise(manifest, crd=crds["RayCluster"])
    assert path in str(raised.value)


def test_typo_needs_the_crd_to_be_caught(crds):
    """Without a CRD the kit cannot know every field name: that is what the schema walk is for."""
    manifest = _cluster()
    _typo(manifest)
    assert not [i for i in validate(manifest, crd=False) if i.check == "unknown-field"]
    assert [i.path for i in validate(manifest, crd=crds["RayCluster"])] == ["spec.workerGroupSpec"]


def test_validate_without_crd_uses_the_local_lookup(found, monkeypatch, tmp_path):
    """crd=None takes the CRDs crds() finds without the network; with none, the kit's checks."""
    manifest = _cluster()
    _typo(manifest)
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS", str(found.folder))
    assert [i.path for i in validate(manifest)] == ["spec.workerGroupSpec"]
    monkeypatch.delenv("RAYKIT_KUBERAY_CRDS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty cache
    assert validate(manifest) == []
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="RAYKIT_KUBERAY_CRDS="):
        validate(manifest)


def test_plain_jsonschema_would_accept_the_typo(crds):
    """Why the unknown-field walk exists: the CRD schema has no additionalProperties: false."""
    import jsonschema

    manifest = _cluster()
    _typo(manifest)
    schema = crds["RayCluster"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    jsonschema.Draft4Validator(schema).validate(manifest)  # raises nothing


def test_float_cpu_reported_once_with_the_kit_fix(crds):
    manifest = _cluster()
    _float_cpu(manifest)
    path = f"{WORKER}.template.spec.containers[0].resources.limits.cpu"
    errors = [i for i in validate(manifest, crd=crds["RayCluster"]) if i.severity == "error"]
    assert [(i.path, i.check) for i in errors] == [(path, "quantity-type")]


def test_null_fields_are_pruned_like_the_api_server(crds):
    manifest = _cluster()
    manifest["spec"]["suspend"] = None
    _worker(manifest)["rayStartParams"] = None
    assert validate(manifest, crd=crds["RayCluster"]) == []


def test_integral_float_counts_as_integer(crds):
    manifest = _cluster()
    _worker(manifest)["replicas"] = 2.0
    assert not [i for i in validate(manifest, crd=crds["RayCluster"]) if i.check == "type"]


def test_rayjob_ttl_without_shutdown(crds):
    manifest = RayJob("train", "python train.py").to_dict()
    manifest["spec"]["shutdownAfterJobFinishes"] = False
    issues = validate(manifest, crd=crds["RayJob"])
    by_check = {i.check: i for i in issues}
    assert by_check["rayjob-ttl"].path == "spec.ttlSecondsAfterFinished"
    assert by_check["rayjob-ttl"].severity == "error"
    assert "shutdownAfterJobFinishes: true" in by_check["rayjob-ttl"].fix
    # and the cluster-left-running warning
    assert by_check["rayjob-shutdown"].severity == "warning"


def test_rayjob_without_shutdown_warns(crds):
    manifest = RayJob("train", "python train.py").to_dict()
    del manifest["spec"]["shutdownAfterJobFinishes"]
    del manifest["spec"]["ttlSecondsAfterFinished"]
    (warning,) = validate(manifest, crd=crds["RayJob"])
    assert (warning.path, warning.check, warning.severity) == (
        "spec.shutdownAfterJobFinishes",
        "rayjob-shutdown",
        "warning",
    )


def test_rayjob_and_rayservice_name_limit_is_47(crds):
    job = RayJob("train", "python train.py").to_dict()
    job["metadata"]["name"] = "j" * 48
    assert [i.path for i in validate(job, crd=crds["RayJob"])] == ["metadata.name"]
    service = RayService("svc", "app:deployment").to_dict()
    service["metadata"]["name"] = "s" * 47
    assert validate(service, crd=crds["RayService"]) == []
    service["metadata"]["name"] = "s" * 48
    (hit,) = validate(service, crd=crds["RayService"])
    assert (hit.path, hit.check) == ("metadata.name", "name-length")


def test_broken_field_inside_rayservice_cluster(crds):
    manifest = RayService("svc", "app:deployment").to_dict()
    manifest["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"] = {"block": True}
    (hit,) = [i for i in validate(manifest, crd=crds["RayService"]) if i.severity == "error"]
    assert hit.path == "spec.rayClusterConfig.headGroupSpec.rayStartParams.block"
    assert hit.fix == 'Quote it: block: "true".'


def test_autoscaler_v2_needs_restart_policy_never():
    manifest = full_cluster().to_dict()
    manifest["spec"]["workerGroupSpecs"][1]["template"]["spec"]["restartPolicy"] = "Always"
    (hit,) = [i for i in validate(manifest) if i.severity == "error"]
    assert hit.path == "spec.workerGroupSpecs[1].template.spec.restartPolicy"
    assert hit.check == "autoscaler-v2-restart-policy"


def test_autoscaler_v2_by_env_var():
    manifest = full_cluster().to_dict()
    del manifest["spec"]["autoscalerOptions"]["version"]
    head = manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    head["env"] = [{"name": "RAY_enable_autoscaler_v2", "value": "1"}]
    manifest["spec"]["workerGroupSpecs"][0]["template"]["spec"]["restartPolicy"] = "OnFailure"
    (hit,) = [i for i in validate(manifest) if i.severity == "error"]
    assert hit.path == "spec.workerGroupSpecs[0].template.spec.restartPolicy"
    # Setting the version as well is rejected by the operator.
    manifest["spec"]["autoscalerOptions"]["version"] = "v2"
    paths = {i.path for i in validate(manifest) if i.check == "autoscaler-v2"}
    assert paths == {"spec.headGroupSpec.template.spec.containers[0].env[0]"}


def test_gpu_limits_must_match_ray_gpus():
    manifest = full_cluster().to_dict()
    gpu = manifest["spec"]["workerGroupSpecs"][0]
    gpu["rayStartParams"]["num-gpus"] = "2"
    (hit,) = [i for i in validate(manifest) if i.severity == "error"]
    assert (hit.path, hit.check) == (
        "spec.workerGroupSpecs[0].rayStartParams.num-gpus",
        "gpu-count",
    )
    assert "1 nvidia.com/gpu" in hit.message
    # Fewer than the Pod has: it runs, with GPUs left idle.
    gpu["rayStartParams"]["num-gpus"] = "0"
    (hit,) = validate(manifest)
    assert (hit.check, hit.severity) == ("gpu-count", "warning")
    assert "idle" in hit.message
    # requests must equal limits for an extended resource
    manifest = full_cluster().to_dict()
    resources = manifest["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0][
        "resources"
    ]
    resources["requests"]["nvidia.com/gpu"] = "2"
    (hit,) = [i for i in validate(manifest) if i.check == "gpu-limits"]
    assert hit.path.endswith("containers[0].resources.requests[nvidia.com/gpu]")


def test_gpu_group_on_cpu_image_warns():
    manifest = full_cluster().to_dict()
    container = manifest["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    container["image"] = f"rayproject/ray:{PINNED}-py311"
    (hit,) = validate(manifest)
    assert (hit.check, hit.severity) == ("image-gpu", "warning")


def test_other_python_than_the_client_matters_to_a_raycluster_only():
    """Ray Client needs the client's Python; a RayJob runs its entrypoint inside the image."""
    cluster = _set_ray(_cluster(), f"{PINNED}-py310")
    (hit,) = validate(cluster)
    assert (hit.path, hit.check, hit.severity) == (
        f"{HEAD_CONTAINER}.image",
        "image-python",
        "warning",
    )
    assert "Ray Client" in hit.message and PYTHON_TAG in hit.message
    job = _set_ray(RayJob("train", "python train.py", cluster=_cluster_builder()).to_dict(),
                   f"{PINNED}-py310")  # fmt: skip
    assert validate(job) == []


def test_legacy_ft_annotation_alone_warns():
    manifest = _cluster()
    manifest["metadata"]["annotations"] = {"ray.io/ft-enabled": "true"}
    (hit,) = validate(manifest)
    assert (hit.check, hit.severity) == ("gcs-ft-legacy", "warning")


def test_wrong_crd_and_unknown_kind(crds):
    manifest = _cluster()
    (hit,) = validate(manifest, crd=crds["RayJob"])
    assert (hit.path, hit.check) == ("kind", "crd-kind")
    (hit,) = validate({"apiVersion": "ray.io/v1", "kind": "RayCronJob"}, crd=crds["RayJob"])
    assert (hit.path, hit.check) == ("kind", "kind")


def test_validate_rejects_text():
    with pytest.raises(ConfigError, match="yaml.safe_load"):
        validate("apiVersion: ray.io/v1")


# --- manifests written by others: what runs is accepted, with a warning where it is worth one --


def _job() -> dict:
    return RayJob("train", "python train.py", cluster=_cluster_builder()).to_dict()


def _service() -> dict:
    return RayService("svc", "app:deployment", cluster=_cluster_builder()).to_dict()


CLIENT_REACH = {
    "RayCluster": (_cluster, "For a RayCluster it matters only to a Ray Client connection"),
    "RayJob": (_job, "A RayJob's entrypoint runs inside the cluster's image, so the local "
               "client's version does not matter there."),
    "RayService": (_service, "A RayService runs inside the cluster's image, so the local "
                   "client's version does not matter there."),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(CLIENT_REACH))
@pytest.mark.parametrize("with_ray_version", [True, False], ids=["rayVersion", "no-rayVersion"])
def test_other_ray_than_the_client_is_a_warning(crds, kind, with_ray_version):
    """A cluster on another Ray than the notebook runs; only Ray Client would mind."""
    make, words = CLIENT_REACH[kind]
    manifest = _set_ray(make(), "2.52.0", "same" if with_ray_version else None)
    issues = validate_or_raise(manifest, crd=crds[kind])  # no error
    (hit,) = issues  # below Ray 2.53 a missing rayVersion changes nothing the operator does
    assert (hit.check, hit.severity) == ("client-version", "warning")
    assert words in hit.message
    assert "2.52.0" in hit.message and PINNED in hit.message
    spec_path = {"RayCluster": "spec", "RayJob": "spec.rayClusterSpec",
                 "RayService": "spec.rayClusterConfig"}[kind]  # fmt: skip
    where = "rayVersion" if with_ray_version else "headGroupSpec.template.spec.containers[0].image"
    assert hit.path == f"{spec_path}.{where}"


def test_missing_ray_version_warns_where_the_operator_acts_on_it(crds):
    """From Ray 2.53 the operator gives Pods HTTP health probes, but only if rayVersion says so;
    token authentication without rayVersion is rejected outright."""
    manifest = _set_ray(_cluster(), "2.55.0", None)
    issues = validate(manifest, crd=crds["RayCluster"])
    assert sorted((i.check, i.severity) for i in issues) == [
        ("client-version", "warning"),
        ("ray-version", "warning"),
    ]
    (hit,) = [i for i in issues if i.check == "ray-version"]
    assert hit.path == "spec.rayVersion" and 'rayVersion: "2.55.0"' in hit.fix
    manifest["spec"]["authOptions"] = {"mode": "token"}
    (hit,) = [i for i in validate(manifest, crd=crds["RayCluster"]) if i.severity == "error"]
    assert (hit.path, hit.check) == ("spec.rayVersion", "ray-version")


@pytest.mark.parametrize(
    "image, words",
    [
        ("rayproject/ray:nightly", "does not pin a Ray version"),
        ("rayproject/ray:latest", "does not pin a Ray version"),
        ("rayproject/ray", "does not pin a Ray version"),
        ("$IMAGE", "the Ray version is not pinned"),
    ],
)
def test_unpinned_image_is_a_warning(crds, image, words):
    manifest = _set_ray(_cluster(), "unused", None)
    for group in [manifest["spec"]["headGroupSpec"], _worker(manifest)]:
        group["template"]["spec"]["containers"][0]["image"] = image
    issues = validate_or_raise(manifest, crd=crds["RayCluster"])  # no error
    by_check = {i.check: i for i in issues}
    assert set(by_check) == {"image-version", "ray-version"}  # nor can rayVersion say which
    hit = by_check["image-version"]
    assert (hit.path, hit.severity) == (f"{HEAD_CONTAINER}.image", "warning")
    assert words in hit.message and "1 more group" in hit.message  # once per image
    assert f"rayproject/ray:{PINNED}-py311" in hit.fix


def test_generate_name_is_valid_for_kubectl_create(crds):
    manifest = _job()
    del manifest["metadata"]["name"]
    manifest["metadata"]["generateName"] = "train-"
    (hit,) = validate_or_raise(manifest, crd=crds["RayJob"])
    assert (hit.path, hit.check, hit.severity) == (
        "metadata.generateName",
        "generate-name",
        "warning",
    )
    assert "kubectl create" in hit.message
    # The generated name gets 5 characters more: 42 + 5 = 47, the RayJob limit, and no further.
    manifest["metadata"]["generateName"] = "j" * 42
    assert [i.severity for i in validate(manifest, crd=crds["RayJob"])] == ["warning"]
    manifest["metadata"]["generateName"] = "j" * 43
    (hit,) = [i for i in validate(manifest, crd=crds["RayJob"]) if i.severity == "error"]
    assert (hit.path, hit.check) == ("metadata.generateName", "name-length")
    manifest["metadata"]["generateName"] = "Train-"
    (hit,) = [i for i in validate(manifest, crd=crds["RayJob"]) if i.severity == "error"]
    assert hit.check == "name-format"
    # Neither name nor generateName: still an error.
    del manifest["metadata"]["generateName"]
    (hit,) = [i for i in validate(manifest, crd=crds["RayJob"]) if i.severity == "error"]
    assert (hit.path, hit.check) == ("metadata.name", "name")


def test_apply_needs_a_name_not_generate_name(monkeypatch, tmp_path):
    """Server-side apply addresses the object by name: generateName cannot be applied."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))  # nothing is ever sent
    manifest = _job()
    del manifest["metadata"]["name"]
    manifest["metadata"]["generateName"] = "train-"
    with pytest.raises(ConfigError, match="metadata.name.*kubectl create"):
        raykit.kuberay.apply(manifest, crd=False)


@pytest.mark.parametrize("where, field", [("rayStartParams", "num-gpus"), ("resources", "GPU")])
def test_logical_gpus_without_nvidia_gpu_are_a_warning(crds, where, field):
    """A scheduling demo tells Ray of GPUs the Pod does not have: it runs, as a demo."""
    manifest = _cluster()
    _worker(manifest)[where] = {field: "2"}
    (hit,) = validate_or_raise(manifest, crd=crds["RayCluster"])
    assert (hit.path, hit.check, hit.severity) == (f"{WORKER}.{where}.{field}", "gpu-count",
                                                   "warning")  # fmt: skip
    assert "no nvidia.com/gpu" in hit.message and "logical" in hit.message


def test_deletion_rules_replace_shutdown_after_job_finishes(crds):
    """The operator rejects deletionRules with shutdownAfterJobFinishes; alone, they end the
    cluster themselves, so the cluster-left-running warning would be wrong."""
    manifest = RayJob("train", "python train.py").to_dict()
    rules = [{"condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 60}, "policy": "DeleteCluster"}]
    manifest["spec"]["deletionStrategy"] = {"deletionRules": rules}
    del manifest["spec"]["ttlSecondsAfterFinished"]
    (hit,) = validate(manifest, crd=crds["RayJob"])
    assert (hit.path, hit.check, hit.severity) == (
        "spec.deletionStrategy.deletionRules",
        "rayjob-deletion",
        "error",
    )
    del manifest["spec"]["shutdownAfterJobFinishes"]
    assert validate(manifest, crd=crds["RayJob"]) == []


def test_autoscaler_v2_with_restart_policy_unset_is_fine():
    """KubeRay 1.7 sets restartPolicy: Never itself for autoscaler v2 when it is unset."""
    manifest = full_cluster().to_dict()
    for group in manifest["spec"]["workerGroupSpecs"]:
        del group["template"]["spec"]["restartPolicy"]
    assert validate(manifest) == []


# --- builders reject bad input, naming the argument -----------------------------------------


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: WorkerGroup("w", min_replicas=3, max_replicas=2), "min_replicas=3"),
        (lambda: WorkerGroup("w", replicas=5, max_replicas=2), "replicas=5"),
        (lambda: WorkerGroup("w", gpus=0.5), "gpus=0.5"),
        (lambda: WorkerGroup("w", cpu=0.0001), "thousandths"),
        (lambda: WorkerGroup("w", memory=1.5), "memory=1.5"),
        (lambda: WorkerGroup("w", capacity="spot"), "cloud="),
        (lambda: WorkerGroup("w", gpus=1, ray_start_params={"num-gpus": 2}), "num-gpus"),
        (lambda: WorkerGroup("Bad_Name"), "name='Bad_Name'"),
        (lambda: RayCluster("c" * 54), "at most 53"),
        (lambda: RayCluster("c", worker_groups=[WorkerGroup("a"), WorkerGroup("a")]), "unique"),
        (lambda: RayCluster("c", redis_password_secret="s"), "redis_address"),
        (lambda: RayJob("j" * 48, "python x.py"), "at most 47"),
        (lambda: RayJob("j", "python x.py", shutdown_after_job_finishes=False), "shutdown"),
        (lambda: RayJob("j", ""), "entrypoint"),
        (lambda: RayService("s", "no_colon"), "import_path"),
    ],
)
def test_builders_reject_bad_input(make, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        make()


def test_builders_convert_sensibly():
    group = WorkerGroup("w", cpu=0.5, ray_start_params={"num-cpus": 4, "block": True})
    assert group.cpu == "500m"
    assert group.ray_start_params == {"num-cpus": "4", "block": "true"}
    assert WorkerGroup("w", cpu=2.0, memory=2**30).cpu == "2"
    assert WorkerGroup("w", memory=2**30).memory == str(2**30)
    assert WorkerGroup("w", replicas=3).max_replicas == 3
    # A job without TTL may keep its cluster.
    job = RayJob(
        "j", "python x.py", shutdown_after_job_finishes=False, ttl_seconds_after_finished=0
    )
    assert "ttlSecondsAfterFinished" not in job.to_dict()["spec"]


@pytest.mark.parametrize(
    "image, version, python, gpu",
    [
        (f"rayproject/ray:{PINNED}-{PYTHON_TAG}-gpu", PINNED, "py311", True),
        (f"rayproject/ray:{PINNED}-py311-cu121", PINNED, "py311", True),
        (f"registry.local:5000/team/ray:{PINNED}", PINNED, None, False),
        # ray-ml tags carry a build; without a platform, ray-ml and ray-llm are CUDA images
        ("rayproject/ray-ml:2.46.0.0e19ea-py39", "2.46.0", "py39", True),
        ("rayproject/ray-ml:2.46.0.0e19ea-py39-cpu", "2.46.0", "py39", False),
        ("rayproject/ray-ml:2.49.2.deprecated-py311-gpu", "2.49.2", "py311", True),
        ("rayproject/ray-llm:2.52.0-py311", "2.52.0", "py311", True),
        ("rayproject/ray:2.52.0", "2.52.0", None, False),
        ("rayproject/ray:nightly-py311", None, None, False),
        ("rayproject/ray@sha256:abc", None, None, False),
        ("rayproject/ray", None, None, False),
    ],
)
def test_parse_image(image, version, python, gpu):
    tag = parse_image(image)
    assert (tag.ray_version, tag.python, tag.gpu) == (version, python, gpu)


def test_load_crd_errors_and_cache(crds, found, tmp_path):
    assert load_crd(found.path("RayJob")) is crds["RayJob"]  # parsed once
    with pytest.raises(ConfigError, match="kind="):
        load_crd(found.folder)
    with pytest.raises(ConfigError, match="not 'RayJob'"):
        load_crd(found.path("RayCluster"), kind="RayJob")
    with pytest.raises(ConfigError, match="no CRD file"):
        load_crd(tmp_path / "missing.yaml")
