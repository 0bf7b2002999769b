"""The kit's checks of KubeRay manifests: the rules a CRD schema cannot hold, and ``validate``.

The schema cannot say that ``minReplicas <= maxReplicas``, that a RayJob's TTL needs
``shutdownAfterJobFinishes``, or that the image tag matches ``rayVersion``: the operator finds
those out later, in its logs, or Ray fails at run time. These checks need no CRD and no cluster.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._versions import expected_ray_version
from ..exceptions import ConfigError
from ._crds import KubeRayCRDs, local_crds
from ._facts import (
    API_VERSION,
    AUTOSCALER_V2_ENV,
    CLUSTER_SPEC_PATH,
    FT_ANNOTATION,
    GPU_RESOURCE,
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    PYTHON_TAG,
    QUANTITY_PATTERN,
    ImageTag,
    parse_image,
    quantity_value,
    ray_image,
)
from ._issues import ERROR, WARNING, ManifestError, ValidationIssue, issue
from ._schema import load_crd, quantity_from_float, validate_against_crd

_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class _Group:
    """The head group or one worker group, with where it sits in the manifest."""

    path: tuple
    spec: dict
    label: str  # "head group" or "worker group 'gpu'"
    is_head: bool

    def pod_spec(self) -> dict:
        return _get(self.spec, "template", "spec") or {}

    def ray_container(self) -> tuple[tuple, dict]:
        # KubeRay runs Ray in the first container of each pod template.
        containers = self.pod_spec().get("containers")
        if isinstance(containers, list) and containers and isinstance(containers[0], dict):
            return (*self.path, "template", "spec", "containers", 0), containers[0]
        return (*self.path, "template", "spec", "containers", 0), {}

    def ray_start_params(self) -> dict:
        params = self.spec.get("rayStartParams")
        return params if isinstance(params, dict) else {}

    def gpus(self) -> float:
        """``nvidia.com/gpu`` of the Ray container: limits, else requests (as KubeRay reads it)."""
        container = self.ray_container()[1]
        for side in ("limits", "requests"):
            value = _get(container, "resources", side, GPU_RESOURCE)
            if value is not None:
                return quantity_value(value) or 0.0
        return 0.0


@dataclass(frozen=True)
class _Context:
    manifest: dict
    kind: str
    cluster_path: tuple
    cluster: dict  # the RayClusterSpec; empty for a RayJob that uses clusterSelector
    ray_version: str

    def groups(self) -> Iterator[_Group]:
        head = self.cluster.get("headGroupSpec")
        if isinstance(head, dict):
            yield _Group((*self.cluster_path, "headGroupSpec"), head, "head group", True)
        workers = self.cluster.get("workerGroupSpecs")
        for index, group in enumerate(workers if isinstance(workers, list) else []):
            if isinstance(group, dict):
                label = f"worker group {group.get('groupName', index)!r}"
                path = (*self.cluster_path, "workerGroupSpecs", index)
                yield _Group(path, group, label, False)

    def annotations(self) -> dict:
        found = _get(self.manifest, "metadata", "annotations")
        return found if isinstance(found, dict) else {}


def _get(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...``, or ``None`` where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _check_name(ctx: _Context) -> Iterator[ValidationIssue]:
    """metadata.name (or generateName): a DNS-1035 label, and short enough for the operator."""
    name = _get(ctx.manifest, "metadata", "name")
    limit = MAX_NAME_LENGTH[ctx.kind]
    prefix = _get(ctx.manifest, "metadata", "generateName")
    if (not isinstance(name, str) or not name) and isinstance(prefix, str) and prefix:
        yield from _check_generate_name(ctx.kind, prefix, limit)
        return
    if not isinstance(name, str) or not name:
        yield issue(
            ["metadata", "name"],
            f"A {ctx.kind} needs a name.",
            "Set metadata.name, such as 'my-ray'.",
            "name",
        )
        return
    if len(name) > limit:
        yield issue(
            ["metadata", "name"],
            f"{ctx.kind} names may have at most {limit} characters; {name!r} has {len(name)}. "
            "The operator derives Pod and Service names from it.",
            f"Shorten it to {limit} characters or fewer, such as {name[:limit].rstrip('-')!r}.",
            "name-length",
        )
    if not NAME_PATTERN.match(name):
        yield issue(
            ["metadata", "name"],
            f"{name!r} is not a DNS-1035 label.",
            "Use lower-case letters, digits and '-', starting with a letter.",
            "name-format",
        )


# The API server appends this many random characters to metadata.generateName.
_GENERATED_SUFFIX = 5


def _check_generate_name(kind: str, prefix: str, limit: int) -> Iterator[ValidationIssue]:
    """``generateName`` instead of ``name``: valid with ``kubectl create``, not with apply."""
    at = ["metadata", "generateName"]
    yield issue(
        at,
        f"No metadata.name: the API server names the {kind} {prefix!r} plus "
        f"{_GENERATED_SUFFIX} random characters. That works with `kubectl create`; `kubectl "
        "apply` and raykit.kuberay.apply need a name, and each create makes another " + kind + ".",
        "Keep it for `kubectl create -f`; set metadata.name to apply it or to find it again.",
        "generate-name",
        WARNING,
    )
    if len(prefix) + _GENERATED_SUFFIX > limit:
        keep = limit - _GENERATED_SUFFIX
        yield issue(
            at,
            f"{kind} names may have at most {limit} characters; generateName {prefix!r} makes "
            f"{len(prefix) + _GENERATED_SUFFIX}. The operator derives Pod and Service names "
            "from it.",
            f"Shorten it to {keep} characters or fewer, such as {prefix[:keep]!r}.",
            "name-length",
        )
    if not NAME_PATTERN.match(prefix + "x" * _GENERATED_SUFFIX):
        yield issue(
            at,
            f"generateName {prefix!r} does not start a DNS-1035 label.",
            "Use lower-case letters, digits and '-', starting with a letter.",
            "name-format",
        )


def _check_ray_start_params(ctx: _Context) -> Iterator[ValidationIssue]:
    """rayStartParams is a map of strings: ``num-cpus: 4`` is rejected, ``"4"`` is right."""
    for group in ctx.groups():
        for key, value in group.ray_start_params().items():
            if not isinstance(value, str):
                text = str(value).lower() if isinstance(value, bool) else str(value)
                yield issue(
                    (*group.path, "rayStartParams", key),
                    f"rayStartParams values must be strings; got {type(value).__name__} {value!r}.",
                    f'Quote it: {key}: "{text}".',
                    "ray-start-params-string",
                )


def _check_quantities(ctx: _Context) -> Iterator[ValidationIssue]:
    """Container resource quantities: strings or integers, never floats (0.5 -> "500m")."""
    for parts, value in _resource_quantities(ctx.manifest, ()):
        if isinstance(value, float):
            yield issue(
                parts,
                f"A resource quantity must be a string or an integer; got the float {value}.",
                f'Write "{quantity_from_float(value)}" (a string).',
                "quantity-type",
            )
        elif isinstance(value, bool) or not isinstance(value, int | str):
            yield issue(
                parts,
                f"A resource quantity must be a string or an integer; got {value!r}.",
                'Write a quantity such as "2", "500m" or "4Gi".',
                "quantity-type",
            )
        elif isinstance(value, str) and not QUANTITY_PATTERN.match(value):
            yield issue(
                parts,
                f"{value!r} is not a Kubernetes quantity.",
                'Write a quantity such as "2", "500m", "512Mi" or "4Gi".',
                "quantity-format",
            )


def _resource_quantities(obj: Any, parts: tuple) -> Iterator[tuple[tuple, Any]]:
    """Every ``resources.limits`` / ``resources.requests`` entry, wherever a container has one."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "resources" and isinstance(value, dict):
                for side in ("limits", "requests"):
                    if isinstance(value.get(side), dict):
                        for name, quantity in value[side].items():
                            yield (*parts, key, side, name), quantity
            yield from _resource_quantities(value, (*parts, key))
    elif isinstance(obj, list):
        for index, item in enumerate(obj):
            yield from _resource_quantities(item, (*parts, index))


def _check_replicas(ctx: _Context) -> Iterator[ValidationIssue]:
    """minReplicas <= replicas <= maxReplicas, with the CRD's defaults (0, 0, 2**31-1)."""
    for group in ctx.groups():
        if group.is_head:
            continue
        values = {
            "minReplicas": group.spec.get("minReplicas", 0),
            "replicas": group.spec.get("replicas", 0),
            "maxReplicas": group.spec.get("maxReplicas", _INT32_MAX),
        }
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
            continue  # the schema check reports non-integers
        low, count, high = values["minReplicas"], values["replicas"], values["maxReplicas"]
        for field, value in values.items():
            if value < 0:
                yield issue(
                    (*group.path, field),
                    f"{field} is negative ({value}) in {group.label}.",
                    f"Set {field} to 0 or more.",
                    "replicas-range",
                )
        if low > high:
            yield issue(
                (*group.path, "minReplicas"),
                f"minReplicas ({low}) is greater than maxReplicas ({high}) in {group.label}; "
                "the operator would quietly run maxReplicas.",
                f"Lower minReplicas to {high} or less, or raise maxReplicas to {low} or more.",
                "replicas-range",
            )
        elif not low <= count <= high:
            yield issue(
                (*group.path, "replicas"),
                f"replicas ({count}) lies outside minReplicas..maxReplicas ({low}..{high}) in "
                f"{group.label}; the operator would clamp it.",
                f"Set replicas between {low} and {high}.",
                "replicas-range",
            )


def _check_rayjob_lifecycle(ctx: _Context) -> Iterator[ValidationIssue]:
    """A TTL needs ``shutdownAfterJobFinishes: true``; without it the cluster outlives the job."""
    if ctx.kind != "RayJob":
        return
    spec = _get(ctx.manifest, "spec") or {}
    shutdown = spec.get("shutdownAfterJobFinishes", False)
    ttl = spec.get("ttlSecondsAfterFinished", 0)
    if isinstance(ttl, int) and not isinstance(ttl, bool):
        if ttl < 0:
            yield issue(
                ["spec", "ttlSecondsAfterFinished"],
                f"ttlSecondsAfterFinished is negative ({ttl}).",
                "Set it to 0 or more seconds.",
                "rayjob-ttl",
            )
        elif ttl > 0 and shutdown is not True:
            yield issue(
                ["spec", "ttlSecondsAfterFinished"],
                f"ttlSecondsAfterFinished ({ttl}) only takes effect with "
                "shutdownAfterJobFinishes: true; the operator rejects the RayJob without it.",
                "Set spec.shutdownAfterJobFinishes: true, or remove the TTL.",
                "rayjob-ttl",
            )
    strategy = spec.get("deletionStrategy")
    if isinstance(strategy, dict) and strategy.get("deletionRules") and shutdown is True:
        yield issue(
            ["spec", "deletionStrategy", "deletionRules"],
            "deletionStrategy.deletionRules and shutdownAfterJobFinishes: true both say when to "
            "delete the cluster; the operator rejects the pair.",
            "Keep the deletionRules (a DeleteCluster rule deletes the cluster) and remove "
            "shutdownAfterJobFinishes, or the reverse.",
            "rayjob-deletion",
        )
    # A deletionStrategy decides the cluster's end itself: no shutdown warning then.
    if shutdown is not True and ctx.cluster and not spec.get("clusterSelector") and not strategy:
        yield issue(
            ["spec", "shutdownAfterJobFinishes"],
            "shutdownAfterJobFinishes defaults to false: the RayCluster keeps running, and "
            "costing, after the job ends.",
            "Set spec.shutdownAfterJobFinishes: true (and a ttlSecondsAfterFinished), or a "
            "spec.deletionStrategy.",
            "rayjob-shutdown",
            WARNING,
        )


# Where the Ray that runs matters to the notebook's client, by kind: a RayJob's entrypoint and a
# RayService's applications run inside the cluster's image; only Ray Client crosses the border.
_CLIENT_REACH = {
    "RayJob": "A RayJob's entrypoint runs inside the cluster's image, so the local client's "
    "version does not matter there.",
    "RayService": "A RayService runs inside the cluster's image, so the local client's version "
    "does not matter there.",
    "RayCluster": "For a RayCluster it matters only to a Ray Client connection (ray://), which "
    "needs the same Ray and Python on both sides; `ray job submit` runs inside the image.",
}


# KubeRay 1.7 gives Pods the HTTP health probes from this Ray on (common/pod.go).
_UNIFIED_HEALTH_CHECK = (2, 53, 0)


def _release(version: str) -> tuple[int, ...]:
    """``"2.53.0rc1"`` -> ``(2, 53, 0)``: enough to compare against the operator's thresholds."""
    return tuple(int(re.match(r"\d+", part)[0]) for part in version.split(".")[:3])


@dataclass(frozen=True)
class _Image:
    """The Ray container image of one group, read."""

    group: _Group
    path: tuple
    tag: ImageTag


def _images(ctx: _Context) -> Iterator[ValidationIssue | _Image]:
    """Each group's Ray image, read; an error for a Ray container without one."""
    for group in ctx.groups():
        parts, container = group.ray_container()
        image = container.get("image")
        if isinstance(image, str) and image:
            yield _Image(group, (*parts, "image"), parse_image(image))
        elif container:
            yield issue(
                (*parts, "image"),
                f"The Ray container of the {group.label} has no image.",
                f'Set image: "{ray_image(ctx.ray_version, gpu=group.gpus() > 0)}".',
                "image-version",
            )


def _check_versions(ctx: _Context) -> Iterator[ValidationIssue]:
    """Every group runs one Ray; rayVersion names it; and what that means for the client.

    Errors are what Ray or the operator act on: a worker of another Ray or Python than the head
    fails Ray's version check and never joins, and the operator picks features by rayVersion.
    The notebook's client is another matter: see ``_CLIENT_REACH``.
    """
    images = []
    for found in _images(ctx):
        if isinstance(found, ValidationIssue):
            yield found
        else:
            images.append(found)
    yield from _check_unread_images(ctx, images)
    head = next((i for i in images if i.group.is_head), None)
    declared = ctx.cluster.get("rayVersion")
    # The Ray that runs: rayVersion's where an image runs it, else the head's, else any group's.
    read = [i for i in sorted(images, key=lambda i: not i.group.is_head) if i.tag.ray_version]
    running = read[0].tag.ray_version if read else None
    basis = f"the {read[0].group.label} runs" if read else ""
    if declared is not None and str(declared) in {i.tag.ray_version for i in read}:
        running, basis = str(declared), "rayVersion says"
    yield from _check_same_ray(images, running, basis)
    rv_path = (*ctx.cluster_path, "rayVersion")
    set_it = (
        f'Set rayVersion: "{running}", the Ray your images run.'
        if running
        else "Set rayVersion to the Ray your images run."
    )
    if declared is None and _get(ctx.cluster, "authOptions", "mode") == "token":
        yield issue(
            rv_path,
            "authOptions.mode is 'token' but rayVersion is not set; the operator rejects it "
            "(token authentication needs Ray 2.52 or later, and rayVersion to say so).",
            set_it,
            "ray-version",
        )
    elif declared is None and (running is None or _release(running) >= _UNIFIED_HEALTH_CHECK):
        # Below 2.53 an unset rayVersion changes nothing the operator does.
        yield issue(
            rv_path,
            "rayVersion is not set, so the operator assumes a Ray older than 2.53: it gives the "
            "Pods the older exec probes instead of Ray's HTTP health check, and rejects "
            "features keyed on the version (token authentication, worker group priority).",
            set_it,
            "ray-version",
            WARNING,
        )
    elif declared is not None and running and str(declared) != running:
        yield issue(
            rv_path,
            f"rayVersion {declared!r} but the images run Ray {running}; the operator picks "
            "features by rayVersion (health probes, token authentication, the job submitter), "
            "so they would not fit the Ray that runs.",
            f'Set rayVersion: "{running}".',
            "ray-version",
        )
    cluster_ray = running or (str(declared) if declared is not None else None)
    pinned = ctx.ray_version
    if cluster_ray and cluster_ray != pinned:
        yield issue(
            rv_path if declared is not None else (head.path if head else rv_path),
            f"The cluster's Ray ({cluster_ray}) differs from your notebook's client (Ray "
            f"{pinned}). " + _CLIENT_REACH[ctx.kind],
            f'To run the Ray the notebook runs, use images "{ray_image(pinned)}" (-gpu for GPU '
            f'groups) and rayVersion "{pinned}".',
            "client-version",
            WARNING,
        )
    elif ctx.kind == "RayCluster" and head is not None and cluster_ray == pinned:
        yield from _check_client_python(head, pinned)
    for image in images:
        yield from _check_image_gpu(image)


def _check_unread_images(ctx: _Context, images: list[_Image]) -> Iterator[ValidationIssue]:
    """A warning for each distinct image whose Ray version the kit cannot read."""
    declared = ctx.cluster.get("rayVersion")
    seen: dict[str, list[_Image]] = {}
    for image in images:
        if image.tag.ray_version is None:
            seen.setdefault(image.tag.image, []).append(image)
    for text, users in seen.items():
        first, tag = users[0], users[0].tag
        also = f" ({len(users) - 1} more group(s) use it)" if len(users) > 1 else ""
        gpu = first.group.gpus() > 0 or "gpu" in (tag.tag or "")
        suggested = ray_image(ctx.ray_version, gpu=gpu)
        if "$" in text or "{{" in text:
            yield issue(
                first.path,
                f"Image {text!r}{also} is a placeholder: the Ray version is not pinned here, and "
                "the kubelet cannot pull it as written.",
                "Substitute it before applying (envsubst, Helm, Kustomize) with an image that "
                f"pins a Ray version, such as {suggested!r}.",
                "image-version",
                WARNING,
            )
        elif (tag.tag is None and "@" not in text) or (tag.tag or "").startswith(
            ("latest", "nightly")
        ):
            yield issue(
                first.path,
                f"Image {text!r}{also} does not pin a Ray version: each pull may bring another "
                "Ray, which rayVersion cannot describe.",
                f"Pin a release, such as {suggested!r}.",
                "image-version",
                WARNING,
            )
        else:
            want = f"Ray {declared} (its rayVersion)" if declared is not None else "one Ray"
            yield issue(
                first.path,
                f"Cannot read a Ray version from image {text!r}{also}.",
                f"Make sure every group's image holds {want}, or use a tag like {suggested!r}.",
                "image-version",
                WARNING,
            )


def _check_same_ray(
    images: list[_Image], running: str | None, basis: str
) -> Iterator[ValidationIssue]:
    """Every group must run one Ray and one Python: Ray's version check stops any other node."""
    pythons = [i.tag.python for i in sorted(images, key=lambda i: not i.group.is_head)]
    python = next((p for p in pythons if p), None)
    for image in images:
        ray = image.tag.ray_version
        if running and ray and ray != running:
            yield issue(
                image.path,
                f"The {image.group.label} runs Ray {ray} but {basis} Ray {running}; Ray's "
                "version check stops a node of another Ray from joining the cluster.",
                f"Use Ray {running} in every group (or change the others and rayVersion).",
                "image-version",
            )
        elif python and image.tag.python and image.tag.python != python:
            yield issue(
                image.path,
                f"The {image.group.label} runs {image.tag.python} but another group runs "
                f"{python}; Ray's version check stops a node on another Python from joining.",
                f"Use one Python in every group, such as {python}.",
                "image-python",
            )


def _check_client_python(head: _Image, pinned: str) -> Iterator[ValidationIssue]:
    """A RayCluster on the client's Ray: Ray Client also needs the client's Python minor."""
    python = head.tag.python
    if python == PYTHON_TAG:
        return
    suggested = ray_image(pinned, gpu=head.tag.gpu)
    said = f"runs {python}" if python else "does not pin the Python minor"
    yield issue(
        head.path,
        f"Image {head.tag.image!r} {said}; the notebook runs {PYTHON_TAG}. A Ray Client "
        "connection (ray://) needs the same Python minor: functions pickled on one may not load "
        "on another.",
        f'Use "{suggested}" if you connect with Ray Client.',
        "image-python",
        WARNING,
    )


def _check_image_gpu(image: _Image) -> Iterator[ValidationIssue]:
    """A group that asks for nvidia.com/gpu on a Ray image without CUDA."""
    if image.tag.ray_version and image.group.gpus() > 0 and not image.tag.gpu:
        yield issue(
            image.path,
            f"The {image.group.label} asks for GPUs but image {image.tag.image!r} has no CUDA.",
            f'Use a GPU image, such as "{ray_image(image.tag.ray_version, gpu=True)}".',
            "image-gpu",
            WARNING,
        )


def _check_gpus(ctx: _Context) -> Iterator[ValidationIssue]:
    """``nvidia.com/gpu`` in the pod should match the GPUs Ray is told about; more is an error."""
    for group in ctx.groups():
        parts, container = group.ray_container()
        limit = _get(container, "resources", "limits", GPU_RESOURCE)
        request = _get(container, "resources", "requests", GPU_RESOURCE)
        resources_path = (*parts, "resources")
        if request is not None and limit is None:
            yield issue(
                (*resources_path, "requests", GPU_RESOURCE),
                "GPUs are requested but not limited; Kubernetes rejects the Pod.",
                f"Set resources.limits[{GPU_RESOURCE}] to the same number.",
                "gpu-limits",
            )
        elif request is not None and quantity_value(request) != quantity_value(limit):
            yield issue(
                (*resources_path, "requests", GPU_RESOURCE),
                f"GPU requests ({request}) differ from limits ({limit}); Kubernetes requires "
                "them equal.",
                "Set both to the same number, or drop requests (they default to limits).",
                "gpu-limits",
            )
        pod_gpus = group.gpus()
        ray_gpu_settings = [
            ((*group.path, "rayStartParams", "num-gpus"), group.ray_start_params().get("num-gpus")),
            ((*group.path, "resources", "GPU"), _get(group.spec, "resources", "GPU")),
        ]
        for where, value in ray_gpu_settings:
            if value is None:
                continue
            ray_gpus = quantity_value(value)
            if ray_gpus is None or ray_gpus == pod_gpus:
                continue
            if pod_gpus == 0:
                # Logical GPUs: Ray schedules by them and nothing else checks; a scheduling demo
                # may mean exactly that, real GPU work does not.
                yield issue(
                    where,
                    f"Ray is told of {value} logical GPU(s) but the {group.label}'s Pod has no "
                    f"{GPU_RESOURCE}: Ray will place GPU tasks there, and code that needs CUDA "
                    "will find no GPU.",
                    f'For real GPUs add resources.limits[{GPU_RESOURCE}]: "{value}" to the Ray '
                    "container; for a scheduling demo, nothing to change.",
                    "gpu-count",
                    WARNING,
                )
            elif ray_gpus > pod_gpus:
                yield issue(
                    where,
                    f"Ray is told of {value} GPU(s) but the {group.label}'s Pod gets "
                    f"{pod_gpus:g} {GPU_RESOURCE}: Ray would hand tasks GPU ids the Pod lacks.",
                    f'Set it to "{pod_gpus:g}", or remove it to let KubeRay copy the limit.',
                    "gpu-count",
                )
            else:
                yield issue(
                    where,
                    f"Ray is told of {value} GPU(s) but the {group.label}'s Pod gets "
                    f"{pod_gpus:g} {GPU_RESOURCE}: Ray leaves the others idle.",
                    f'Set it to "{pod_gpus:g}", or remove it to let KubeRay copy the limit.',
                    "gpu-count",
                    WARNING,
                )


def _check_fractional_cpu(ctx: _Context) -> Iterator[ValidationIssue]:
    """KubeRay rounds a fractional CPU limit up when it sets Ray's num-cpus."""
    for group in ctx.groups():
        if "num-cpus" in group.ray_start_params():
            continue
        parts, container = group.ray_container()
        for side in ("limits", "requests"):  # KubeRay reads limits first, then requests
            value = _get(container, "resources", side, "cpu")
            if value is None:
                continue
            cpus = quantity_value(value)
            if cpus is not None and cpus > 0 and not cpus.is_integer():
                fix = f'Use whole CPUs, such as cpu: "{math.ceil(cpus)}"'
                if cpus >= 1:
                    fix += f', or set rayStartParams num-cpus: "{math.floor(cpus)}"'
                yield issue(
                    (*parts, "resources", side, "cpu"),
                    f"The Pod gets {cpus:g} CPU but Ray will advertise {math.ceil(cpus)}: "
                    "KubeRay rounds up, so Ray oversubscribes the Pod.",
                    fix + ".",
                    "fractional-cpu",
                    WARNING,
                )
            break


def _check_autoscaler_v2(ctx: _Context) -> Iterator[ValidationIssue]:
    """Autoscaler v2 needs ``restartPolicy: Never`` or unset (the operator then sets Never);
    and it is chosen one way, not two."""
    spec, path = ctx.cluster, ctx.cluster_path
    autoscaling = spec.get("enableInTreeAutoscaling") is True
    version = _get(spec, "autoscalerOptions", "version")
    head = next((g for g in ctx.groups() if g.is_head), None)
    env_path, env_value = None, None
    if head is not None:
        container_path, container = head.ray_container()
        env = container.get("env")
        for index, var in enumerate(env if isinstance(env, list) else []):
            if isinstance(var, dict) and var.get("name") == AUTOSCALER_V2_ENV:
                env_path, env_value = (*container_path, "env", index), var.get("value")
    env_wants_v2 = str(env_value).lower() in ("1", "true")
    if env_path and version is not None and autoscaling:
        yield issue(
            env_path,
            f"Both autoscalerOptions.version and the head env var {AUTOSCALER_V2_ENV} choose "
            "the autoscaler version; the operator rejects the pair.",
            f"Remove {AUTOSCALER_V2_ENV} and keep autoscalerOptions.version.",
            "autoscaler-v2",
        )
    if env_wants_v2 and not autoscaling:
        yield issue(
            (*path, "enableInTreeAutoscaling"),
            f"{AUTOSCALER_V2_ENV} is set but enableInTreeAutoscaling is not true; the operator "
            "rejects it.",
            "Set enableInTreeAutoscaling: true, or remove the env var.",
            "autoscaler-v2",
        )
    if not autoscaling or not (version == "v2" or env_wants_v2):
        return
    for group in ctx.groups():
        policy = group.pod_spec().get("restartPolicy")
        where = (*group.path, "template", "spec", "restartPolicy")
        if policy is not None and policy != "Never":
            yield issue(
                where,
                f"Autoscaler v2 needs restartPolicy: Never; the {group.label} has {policy!r}, "
                "which the operator rejects: a restarted Pod would rejoin as a new node that the "
                "autoscaler never asked for.",
                "Set template.spec.restartPolicy: Never, or remove it (the operator sets Never).",
                "autoscaler-v2-restart-policy",
            )


def _check_gcs_fault_tolerance(ctx: _Context) -> Iterator[ValidationIssue]:
    """GCS fault tolerance: ``gcsFaultToleranceOptions`` alone, not also the old annotation."""
    options = ctx.cluster.get("gcsFaultToleranceOptions")
    annotation = ctx.annotations().get(FT_ANNOTATION)
    at = ["metadata", "annotations", FT_ANNOTATION]
    if options is not None and annotation:
        yield issue(
            at,
            f"GCS fault tolerance is configured twice: the old annotation {FT_ANNOTATION} and "
            "gcsFaultToleranceOptions. The operator rejects the pair.",
            f"Remove the {FT_ANNOTATION} annotation; gcsFaultToleranceOptions alone turns it on.",
            "gcs-ft-both",
        )
    elif annotation:
        yield issue(
            at,
            f"The {FT_ANNOTATION} annotation is the old way to turn on GCS fault tolerance.",
            "Use spec.gcsFaultToleranceOptions.redisAddress (and redisPassword) instead.",
            "gcs-ft-legacy",
            WARNING,
        )
    if not isinstance(options, dict):
        return
    if options.get("backend", "redis") == "redis" and not options.get("redisAddress"):
        yield issue(
            (*ctx.cluster_path, "gcsFaultToleranceOptions", "redisAddress"),
            "GCS fault tolerance with the Redis backend needs the Redis address.",
            'Set redisAddress, such as "redis:6379".',
            "gcs-ft-redis",
        )
    head = next((g for g in ctx.groups() if g.is_head), None)
    if head is None:
        return
    if "redis-password" in head.ray_start_params():
        yield issue(
            (*head.path, "rayStartParams", "redis-password"),
            "redis-password in rayStartParams conflicts with gcsFaultToleranceOptions.",
            "Move it to gcsFaultToleranceOptions.redisPassword (from a Secret).",
            "gcs-ft-redis",
        )
    container_path, container = head.ray_container()
    env = container.get("env")
    for index, var in enumerate(env if isinstance(env, list) else []):
        name = var.get("name") if isinstance(var, dict) else None
        if name in ("RAY_REDIS_ADDRESS", "REDIS_PASSWORD"):
            field = "redisAddress" if name == "RAY_REDIS_ADDRESS" else "redisPassword"
            yield issue(
                (*container_path, "env", index),
                f"The head env var {name} conflicts with gcsFaultToleranceOptions.",
                f"Remove it and set gcsFaultToleranceOptions.{field}.",
                "gcs-ft-redis",
            )


# Run in this order; each yields issues and never raises on malformed input.
_CLUSTER_CHECKS: tuple[Callable[[_Context], Iterator[ValidationIssue]], ...] = (
    _check_name,
    _check_ray_start_params,
    _check_quantities,
    _check_replicas,
    _check_rayjob_lifecycle,
    _check_versions,
    _check_gpus,
    _check_fractional_cpu,
    _check_autoscaler_v2,
    _check_gcs_fault_tolerance,
)


def kit_checks(manifest: dict, ray_version: str) -> list[ValidationIssue]:
    """Run every kit check on ``manifest``; no CRD and no cluster needed."""
    kind = manifest.get("kind")
    if kind not in CLUSTER_SPEC_PATH:
        return [
            issue(
                ["kind"],
                f"kind {kind!r} is not a KubeRay resource the kit knows.",
                f"Use one of {sorted(CLUSTER_SPEC_PATH)}.",
                "kind",
            )
        ]
    issues = []
    api_version = manifest.get("apiVersion")
    if api_version != API_VERSION:
        issues.append(
            issue(
                ["apiVersion"],
                f"apiVersion {api_version!r} is not {API_VERSION!r}, the one KubeRay 1.7 stores.",
                f"Set apiVersion: {API_VERSION}.",
                "api-version",
                WARNING if api_version == "ray.io/v1alpha1" else ERROR,
            )
        )
    cluster_path = CLUSTER_SPEC_PATH[kind]
    cluster = _get(manifest, *cluster_path)
    if kind == "RayJob" and cluster is None and _get(manifest, "spec", "clusterSelector"):
        cluster = {}  # the job runs on an existing cluster: no cluster spec to check
    elif not isinstance(cluster, dict):
        issues.append(
            issue(
                cluster_path,
                f"A {kind} needs its cluster spec here.",
                "Add it, with at least headGroupSpec.",
                "cluster-spec",
            )
        )
        cluster = {}
    ctx = _Context(manifest, kind, cluster_path, cluster, ray_version)
    for check in _CLUSTER_CHECKS:
        if not cluster and check not in (_check_name, _check_rayjob_lifecycle):
            continue
        issues.extend(check(ctx))
    return issues


def as_manifest(manifest: Any) -> dict:
    """A plain dict from a manifest dict or a builder (anything with ``to_dict()``)."""
    if isinstance(manifest, Mapping):
        return dict(manifest)
    to_dict = getattr(manifest, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise ConfigError(
        f"manifest: expected a dict or a raykit.kuberay builder, got {type(manifest).__name__}. "
        "For YAML text, pass yaml.safe_load(text)."
    )


def validate(
    manifest: Any,
    crd: KubeRayCRDs | Mapping | str | os.PathLike | bool | None = None,
    *,
    ray_version: str | None = None,
) -> list[ValidationIssue]:
    """Check a KubeRay manifest, offline, and list every problem found.

    Parameters
    ----------
    manifest : dict or builder
        A RayCluster, RayJob or RayService manifest as a dict, or a ``RayCluster``/``RayJob``/
        ``RayService`` builder.
    crd : KubeRayCRDs, dict, str, os.PathLike or bool, optional
        The CRD to validate the structure against, as the API server would with strict field
        validation: what ``crds()`` returns, a loaded CRD (see ``load_crd``), a CRD file, or a
        folder of CRD files. ``None`` (the default) uses the CRDs that ``crds()`` finds without
        the network (``RAYKIT_KUBERAY_CRDS``, then the cache), and only the kit's own checks
        when there are none; ``False`` runs only the kit's own checks.
    ray_version : str, optional
        The Ray version the client runs. Defaults to the version the kit pins.

    Returns
    -------
    list of ValidationIssue
        Errors first, then warnings. Empty when the manifest is fine.

    Raises
    ------
    ConfigError
        ``RAYKIT_KUBERAY_CRDS`` names a folder without the CRDs (with ``crd=None``), or ``crd``
        names no CRD file.
    CRDDigestMismatch
        With ``crd=None``: a cached CRD file is not the release's.
    """
    obj = as_manifest(manifest)
    issues = kit_checks(obj, ray_version or expected_ray_version())
    if crd is None:
        crd = local_crds()  # no network here: a download is crds()'s, or the CLI's, to do
    if crd is True:
        raise ConfigError("crd=True: pass what crds() returns, a CRD file or folder, or False.")
    if crd is not None and crd is not False and obj.get("kind") in CLUSTER_SPEC_PATH:
        if isinstance(crd, KubeRayCRDs):
            crd = crd.load(obj["kind"])
        elif not isinstance(crd, Mapping):
            folder = Path(crd).expanduser().is_dir()
            crd = load_crd(crd, kind=obj["kind"] if folder else None)
        # A field the kit already flagged keeps the kit's message: it carries the better fix.
        flagged = {i.path for i in issues if i.severity == ERROR}
        issues.extend(i for i in validate_against_crd(obj, crd) if i.path not in flagged)
    return sorted(issues, key=lambda i: i.severity != ERROR)


def validate_or_raise(
    manifest: Any,
    crd: KubeRayCRDs | Mapping | str | os.PathLike | bool | None = None,
    *,
    ray_version: str | None = None,
) -> list[ValidationIssue]:
    """Like ``validate``, but raise ``ManifestError`` if any issue is an error.

    Returns
    -------
    list of ValidationIssue
        The warnings, when there is no error.

    Raises
    ------
    ManifestError
        With every issue in ``.issues`` and the errors in its message.
    """
    obj = as_manifest(manifest)
    issues = validate(obj, crd, ray_version=ray_version)
    if any(i.severity == ERROR for i in issues):
        name = _get(obj, "metadata", "name") or _get(obj, "metadata", "generateName")
        raise ManifestError(issues, what=f"{obj.get('kind', 'manifest')} {name!r}")
    return issues
