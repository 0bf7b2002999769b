"""raykit.kuberay.validate on KubeRay's own samples: manifests the API server and operator accept.

The samples are not in this repository. ``RAYKIT_KUBERAY_SAMPLES`` names a folder of them (KubeRay
1.7.0's ``ray-operator/config/samples``); this repository's CI sets it (.ci/run), as it does
``RAYKIT_KUBERAY_CRDS``. Without it these tests skip and say so.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from raykit.kuberay import KUBERAY_VERSION, CRDsNotFound, crds, validate
from raykit.kuberay._facts import CLUSTER_SPEC_PATH

SAMPLES_ENV = "RAYKIT_KUBERAY_SAMPLES"
PINNED = "2.60.0"

# The rules that may warn on a sample, each reviewed as worth a reader's attention there. A rule
# that starts warning on KubeRay's own manifests should be looked at before it joins this list.
REVIEWED_WARNINGS = {
    "client-version",  # the cluster's Ray is not the notebook's: says where that matters
    "rayjob-shutdown",  # the RayCluster outlives the job, and costs
    "ray-version",  # rayVersion unset where the operator acts on it
    "generate-name",  # fine for kubectl create, not for apply
    "image-version",  # nightly, a $PLACEHOLDER, or a custom image: no Ray version to read
    "gpu-count",  # logical GPUs on a Pod without nvidia.com/gpu
    "gcs-ft-legacy",  # the pre-1.3 fault tolerance annotation
    "image-gpu",
    "image-python",
    "fractional-cpu",
}


def _folder() -> Path | None:
    value = os.environ.get(SAMPLES_ENV)
    return Path(value).expanduser() if value else None


def _documents(folder: Path | None) -> dict[str, list[dict]]:
    """The RayCluster/RayJob/RayService documents of each sample file, by relative path."""
    if folder is None or not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.rglob("*.y*ml")):
        docs = [
            doc
            for doc in yaml.safe_load_all(path.read_text())
            if isinstance(doc, dict) and doc.get("kind") in CLUSTER_SPEC_PATH
        ]
        if docs:
            found[str(path.relative_to(folder))] = docs
    return found


FOLDER = _folder()
SAMPLES = _documents(FOLDER)
SKIP = pytest.mark.skip(
    reason=f"no KubeRay samples: set {SAMPLES_ENV} to the ray-operator/config/samples folder of "
    f"KubeRay {KUBERAY_VERSION}"
)
FILES = sorted(SAMPLES) or [pytest.param(None, marks=SKIP)]


@pytest.fixture(scope="module")
def crd():
    """The real CRDs where the lookup finds them; else only the kit's own checks run."""
    try:
        return crds(sources=("env", "cache"))
    except CRDsNotFound:
        return False


@pytest.fixture(scope="module")
def issues(crd) -> dict[str, list[list]]:
    """validate() of every sample document, once for the module."""
    return {name: [validate(doc, crd=crd) for doc in docs] for name, docs in SAMPLES.items()}


def test_the_samples_are_found_where_they_are_kept():
    """Where the env var names a folder (this repository's CI sets it), the samples must be
    found there: a wrong path fails here instead of skipping every sample."""
    if FOLDER is None:
        pytest.skip(f"{SAMPLES_ENV} is not set: nothing to find")
    assert FOLDER is not None and FOLDER.is_dir(), f"{SAMPLES_ENV}={FOLDER}: not a folder"
    kinds = {doc["kind"] for docs in SAMPLES.values() for doc in docs}
    assert kinds == set(CLUSTER_SPEC_PATH), f"{FOLDER}: only {sorted(kinds)}"


@pytest.mark.parametrize("name", FILES)
def test_no_error_on_a_kuberay_sample(name, issues):
    """KubeRay's maintainers wrote these and the operator runs them: an error is a false alarm."""
    for found in issues[name]:
        errors = [str(i) for i in found if i.severity == "error"]
        assert errors == [], "\n".join(errors)


@pytest.mark.skipif(not SAMPLES, reason=f"no KubeRay samples ({SAMPLES_ENV})")
def test_sample_warnings_are_the_reviewed_ones(issues):
    checks = {i.check for found in issues.values() for doc in found for i in doc}
    assert checks <= REVIEWED_WARNINGS, sorted(checks - REVIEWED_WARNINGS)
    for name, found in issues.items():
        for doc in found:
            messages = [i.message for i in doc]
            assert len(messages) == len(set(messages)), f"{name}: a warning repeats"


@pytest.mark.skipif(not SAMPLES, reason=f"no KubeRay samples ({SAMPLES_ENV})")
def test_sample_warnings_follow_the_manifest(issues):
    """Each rule warns exactly where the manifest has what it is about, read here directly."""
    for name, docs in SAMPLES.items():
        for doc, found in zip(docs, issues[name], strict=True):
            checks = [i.check for i in found]
            meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
            generated = "name" not in meta and "generateName" in meta
            assert ("generate-name" in checks) == generated, name
            cluster = (
                spec
                if doc["kind"] == "RayCluster"
                else spec.get("rayClusterSpec" if doc["kind"] == "RayJob" else "rayClusterConfig")
            )
            declared = (cluster or {}).get("rayVersion")
            if declared is not None:  # a cluster on another Ray: one warning, that says where
                assert checks.count("client-version") == (declared != PINNED), name
            leaves_cluster = (
                doc["kind"] == "RayJob"
                and spec.get("shutdownAfterJobFinishes") is not True
                and not spec.get("deletionStrategy")
                and not spec.get("clusterSelector")
            )
            assert ("rayjob-shutdown" in checks) == leaves_cluster, name
