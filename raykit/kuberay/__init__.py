"""KubeRay manifests from Python: build RayCluster, RayJob and RayService, validate, apply.

Targets the KubeRay operator v1.7.0 (API ``ray.io/v1``); images and ``rayVersion`` follow the
Ray version the kit pins::

    from raykit.kuberay import RayCluster, WorkerGroup, crds, validate

    cluster = RayCluster(
        "demo",
        worker_groups=[WorkerGroup("gpu", gpus=1, replicas=0, max_replicas=4)],
        autoscaling=True,
    )
    assert not validate(cluster, crd=crds())
    print(cluster.to_yaml())  # kubectl apply --server-side -f -

The kit ships no copy of the CRDs: ``crds()`` (and ``raykit kuberay crds``) finds those of
v1.7.0 in ``RAYKIT_KUBERAY_CRDS``, the cache (``~/.cache/raykit/kuberay/1.7.0``), the cluster,
or downloads the release's files (``RAYKIT_KUBERAY_CRDS_URL`` for a mirror), checked by SHA-256.
"""

from ._apply import ApplyResult, apply
from ._build import RayCluster, RayJob, RayService, WorkerGroup
from ._checks import validate, validate_or_raise
from ._crds import CRDDigestMismatch, CRDsNotFound, KubeRayCRDs, cache_dir, crds
from ._facts import KUBERAY_VERSION, PYTHON_TAG
from ._issues import ManifestError, ValidationIssue
from ._scheduling import untolerated
from ._schema import load_crd

__all__ = [
    "KUBERAY_VERSION",
    "PYTHON_TAG",
    "ApplyResult",
    "CRDDigestMismatch",
    "CRDsNotFound",
    "KubeRayCRDs",
    "ManifestError",
    "RayCluster",
    "RayJob",
    "RayService",
    "ValidationIssue",
    "WorkerGroup",
    "apply",
    "cache_dir",
    "crds",
    "load_crd",
    "untolerated",
    "validate",
    "validate_or_raise",
]
