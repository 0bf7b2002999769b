"""KubeRay and Ray image facts that the builders and the checks share (operator v1.7.0)."""

from __future__ import annotations

import re
from dataclasses import dataclass

API_VERSION = "ray.io/v1"
KUBERAY_VERSION = "1.7.0"

# The kit's Python: requires-python in pyproject.toml pins 3.11, so images pin py311 too. A client
# and a cluster on different Python minors cannot exchange pickled functions.
PYTHON_TAG = "py311"

# Where each kind keeps its RayClusterSpec.
CLUSTER_SPEC_PATH = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
}
# The operator derives Service and Pod names from the CR's name; longer names break them.
MAX_NAME_LENGTH = {"RayCluster": 53, "RayJob": 47, "RayService": 47}
PLURALS = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}

# KubeRay requires a DNS-1035 label: lower case, starts with a letter.
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# resource.Quantity, as the CRDs' pattern writes it.
QUANTITY_PATTERN = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

GPU_RESOURCE = "nvidia.com/gpu"
FT_ANNOTATION = "ray.io/ft-enabled"  # the pre-1.3 way to turn on GCS fault tolerance
AUTOSCALER_V2_ENV = "RAY_enable_autoscaler_v2"  # the pre-1.4 way to pick autoscaler v2

# A build after the version, as ray-ml tags have it: "2.46.0.0e19ea-py39-gpu" is Ray 2.46.0.
_VERSION_TAG = re.compile(
    r"^(?P<version>\d+\.\d+\.\d+(?:rc\d+)?)(?:\.[0-9a-z]+)?(?P<suffixes>(?:-[\w.]+)*)$"
)


_CUDA_BY_DEFAULT = frozenset({"ray-ml", "ray-llm"})


@dataclass(frozen=True)
class ImageTag:
    """What a Ray image reference says about its Ray version, Python minor and GPU support."""

    image: str
    tag: str | None
    ray_version: str | None
    python: str | None
    gpu: bool


def parse_image(image: str) -> ImageTag:
    """Read ``rayproject/ray:2.60.0-py311-gpu`` into its parts; unknown parts are ``None``."""
    name = image.split("@", 1)[0]  # drop a digest
    last = name.rsplit("/", 1)[-1]  # a registry port holds a colon too: host:5000/ray:tag
    tag = last.split(":", 1)[1] if ":" in last else None
    match = _VERSION_TAG.match(tag or "")
    if not match:
        return ImageTag(image, tag, None, None, False)
    suffixes = match["suffixes"].split("-")[1:]
    python = next((s for s in suffixes if re.fullmatch(r"py3\d+", s)), None)
    gpu = any(s == "gpu" or re.fullmatch(r"cu\d+", s) for s in suffixes)
    # Without a platform suffix rayproject/ray is the CPU image, ray-ml and ray-llm the CUDA one.
    repository = last.split(":", 1)[0]
    gpu = gpu or (repository in _CUDA_BY_DEFAULT and "cpu" not in suffixes)
    return ImageTag(image, tag, match["version"], python, gpu)


def ray_image(ray_version: str, *, gpu: bool = False) -> str:
    """The official image for a Ray version and the kit's Python, with CUDA when ``gpu``."""
    return f"rayproject/ray:{ray_version}-{PYTHON_TAG}{'-gpu' if gpu else ''}"


def quantity_value(quantity: object) -> float | None:
    """A CPU or GPU quantity as a number ("500m" -> 0.5, "2" -> 2.0); ``None`` if unreadable."""
    if isinstance(quantity, bool):
        return None
    if isinstance(quantity, int | float):
        return float(quantity)
    if not isinstance(quantity, str) or not QUANTITY_PATTERN.match(quantity):
        return None
    if quantity.endswith("m"):
        return float(quantity[:-1]) / 1000
    try:
        return float(quantity)
    except ValueError:  # binary or decimal suffixes: not used for CPU and GPU counts
        return None
