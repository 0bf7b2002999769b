"""Builders of KubeRay manifests: ``RayCluster`` and ``WorkerGroup``, ``RayJob``, ``RayService``.

Each builder is a frozen dataclass that checks its arguments when it is made (``ConfigError``
names the argument and the fix) and turns into a plain ``dict`` with ``to_dict()`` or YAML with
``to_yaml()``. Images and ``rayVersion`` come from the one Ray version the kit pins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .._versions import expected_ray_version
from ..exceptions import ConfigError
from ._facts import (
    API_VERSION,
    GPU_RESOURCE,
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    QUANTITY_PATTERN,
    ray_image,
)

_INT32_MAX = 2**31 - 1

# Per cloud: the node label that marks spot capacity and its value on spot nodes. Spot node pools
# usually carry a taint of the same key and value (AKS always does), so spot groups tolerate it.
_SPOT_LABELS = {
    "gke": ("cloud.google.com/gke-spot", "true"),
    "eks": ("eks.amazonaws.com/capacityType", "SPOT"),
    "aks": ("kubernetes.azure.com/scalesetpriority", "spot"),
}
_CAPACITIES = ("any", "on-demand", "spot")

# Ports the head exposes: GCS, dashboard (job submission goes through it), Ray Client, Serve.
_HEAD_PORTS = (("gcs-server", 6379), ("dashboard", 8265), ("client", 10001), ("serve", 8000))


def _check_name(name: Any, kind: str, arg: str = "name") -> None:
    limit = MAX_NAME_LENGTH[kind]
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{arg}={name!r}: a {kind} name must be lower-case letters, digits and '-', starting "
            "with a letter, such as 'my-ray'."
        )
    if len(name) > limit:
        raise ConfigError(
            f"{arg}={name!r} has {len(name)} characters; a {kind} name may have at most {limit} "
            f"because the operator builds Pod and Service names from it. Shorten it."
        )


def _check_count(value: Any, arg: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT32_MAX:
        raise ConfigError(f"{arg}={value!r}: expected a whole number from 0 to {_INT32_MAX}.")


def cpu_quantity(value: Any, arg: str = "cpu") -> str:
    """A CPU amount as a Kubernetes quantity string: 2 -> "2", 0.5 -> "500m", "1500m" kept."""
    if isinstance(value, bool):
        raise ConfigError(f"{arg}={value!r}: expected a number of CPUs such as 2 or 0.5.")
    if isinstance(value, int | float):
        if not value > 0 or not math.isfinite(value):
            raise ConfigError(f"{arg}={value!r}: the number of CPUs must be above 0.")
        if float(value).is_integer():
            return str(int(value))
        millis = value * 1000
        if abs(millis - round(millis)) > 1e-6:
            raise ConfigError(f"{arg}={value!r}: Kubernetes counts CPU in thousandths (1m).")
        return f"{round(millis)}m"
    if isinstance(value, str) and QUANTITY_PATTERN.match(value):
        return value
    raise ConfigError(
        f"{arg}={value!r}: expected a number of CPUs (2, 0.5) or a quantity ('500m')."
    )


def memory_quantity(value: Any, arg: str = "memory") -> str:
    """Memory as a Kubernetes quantity string: "8Gi" kept, an int taken as bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and QUANTITY_PATTERN.match(value):
        return value
    raise ConfigError(
        f"{arg}={value!r}: expected a quantity string such as '8Gi' or '512Mi', or bytes as an int."
    )


def _string_params(params: Mapping[str, Any], arg: str) -> dict[str, str]:
    """rayStartParams must be strings: numbers become "4", booleans "true"/"false"."""
    out = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            out[str(key)] = str(value)
        else:
            raise ConfigError(f"{arg}[{key!r}]={value!r}: expected a string or a number.")
    return out


def _container(
    name: str, image: str, cpu: str, memory: str, gpus: int, ports: Sequence = ()
) -> dict:
    # requests == limits: the Pod gets exactly what Ray is told it has (KubeRay reads limits).
    resources = {"cpu": cpu, "memory": memory}
    if gpus:
        resources[GPU_RESOURCE] = str(gpus)
    container = {
        "name": name,
        "image": image,
        "resources": {"limits": dict(resources), "requests": dict(resources)},
    }
    if ports:
        container["ports"] = [{"name": n, "containerPort": p} for n, p in ports]
    return container


@dataclass(frozen=True)
class WorkerGroup:
    """One group of identical Ray worker Pods.

    Parameters
    ----------
    name : str
        The group's name (``groupName``), unique within the cluster.
    replicas, min_replicas, max_replicas : int
        Pods to start with, and the autoscaler's bounds. ``max_replicas`` defaults to
        ``max(replicas, min_replicas)``. Needs ``min_replicas <= replicas <= max_replicas``.
    cpu : int, float or str
        CPUs per Pod. Floats are converted: 0.5 becomes ``"500m"``. Prefer whole CPUs: KubeRay
        rounds a fraction up when it tells Ray.
    memory : int or str
        Memory per Pod, such as ``"16Gi"``; an int is bytes.
    gpus : int
        ``nvidia.com/gpu`` per Pod. Sets the matching Ray ``num-gpus``, the ``-gpu`` image, and a
        toleration of the usual ``nvidia.com/gpu`` taint.
    capacity : {"any", "on-demand", "spot"}
        Which nodes to run on. ``"spot"`` selects and tolerates the cloud's spot nodes;
        ``"on-demand"`` keeps the group off them with node affinity. Needs ``cloud``.
    cloud : {"gke", "eks", "aks"}, optional
        Whose node labels ``capacity`` uses.
    node_selector, tolerations :
        Extra scheduling constraints, added to those ``capacity`` and ``gpus`` imply.
    ray_start_params : mapping
        Extra ``ray start`` flags. Values are converted to strings (``4`` -> ``"4"``,
        ``True`` -> ``"true"``), as the CRD requires.
    image : str, optional
        Overrides the image. Keep the kit's Ray version in its tag; ``validate`` checks it.
    """

    name: str
    replicas: int = 1
    min_replicas: int = 0
    max_replicas: int | None = None
    cpu: int | float | str = 1
    memory: int | str = "4Gi"
    gpus: int = 0
    capacity: str = "any"
    cloud: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    ray_start_params: Mapping[str, Any] = field(default_factory=dict)
    image: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise ConfigError(
                f"WorkerGroup name={self.name!r}: use lower-case letters, digits and '-', "
                "such as 'gpu-workers'."
            )
        _check_count(self.replicas, "replicas")
        _check_count(self.min_replicas, "min_replicas")
        _check_count(self.max_replicas, "max_replicas", allow_none=True)
        if self.max_replicas is None:
            object.__setattr__(self, "max_replicas", max(self.replicas, self.min_replicas))
        if self.min_replicas > self.max_replicas:
            raise ConfigError(
                f"WorkerGroup {self.name!r}: min_replicas={self.min_replicas} is greater than "
                f"max_replicas={self.max_replicas}. Lower min_replicas or raise max_replicas."
            )
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ConfigError(
                f"WorkerGroup {self.name!r}: replicas={self.replicas} must lie between "
                f"min_replicas={self.min_replicas} and max_replicas={self.max_replicas}."
            )
        object.__setattr__(self, "cpu", cpu_quantity(self.cpu))
        object.__setattr__(self, "memory", memory_quantity(self.memory))
        if isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or self.gpus < 0:
            raise ConfigError(
                f"WorkerGroup {self.name!r}: gpus={self.gpus!r}: expected a whole number of GPUs."
            )
        if self.capacity not in _CAPACITIES:
            raise ConfigError(f"capacity={self.capacity!r}: use one of {_CAPACITIES}.")
        if self.capacity != "any" and self.cloud not in _SPOT_LABELS:
            raise ConfigError(
                f"WorkerGroup {self.name!r}: capacity={self.capacity!r} needs cloud= one of "
                f"{sorted(_SPOT_LABELS)} (spot node labels differ per cloud), or pass "
                "node_selector= and tolerations= yourself with capacity='any'."
            )
        params = _string_params(self.ray_start_params, "ray_start_params")
        if self.gpus and params.setdefault("num-gpus", str(self.gpus)) != str(self.gpus):
            raise ConfigError(
                f"WorkerGroup {self.name!r}: ray_start_params num-gpus={params['num-gpus']!r} "
                f"differs from gpus={self.gpus}. Drop num-gpus; gpus= sets it."
            )
        object.__setattr__(self, "ray_start_params", params)
        object.__setattr__(self, "node_selector", dict(self.node_selector))
        object.__setattr__(self, "tolerations", tuple(dict(t) for t in self.tolerations))

    def _scheduling(self) -> dict:
        """nodeSelector, tolerations and affinity for the group's capacity and GPUs."""
        selector = dict(self.node_selector)
        tolerations = [dict(t) for t in self.tolerations]
        affinity = None
        if self.capacity != "any":
            key, value = _SPOT_LABELS[self.cloud]
            if self.capacity == "spot":
                selector[key] = value
                tolerations.append(
                    {"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}
                )
            else:
                # Spot nodes carry the label; on-demand nodes may carry it with another value
                # or not at all, which NotIn allows.
                term = {"matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]}]}
                affinity = {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [term]
                        }
                    }
                }
        if self.gpus:
            tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
        out: dict[str, Any] = {}
        if selector:
            out["nodeSelector"] = selector
        if tolerations:
            out["tolerations"] = tolerations
        if affinity:
            out["affinity"] = affinity
        return out

    def _to_spec(self, ray_version: str, default_image: str | None, restart_never: bool) -> dict:
        # The group's own image wins. GPU groups need the CUDA image, so the cluster-wide
        # override (default_image) applies to CPU groups only.
        if self.image:
            image = self.image
        elif self.gpus:
            image = ray_image(ray_version, gpu=True)
        else:
            image = default_image or ray_image(ray_version)
        pod_spec: dict[str, Any] = {
            "containers": [_container("ray-worker", image, self.cpu, self.memory, self.gpus)]
        }
        pod_spec.update(self._scheduling())
        if restart_never:
            pod_spec["restartPolicy"] = "Never"
        spec: dict[str, Any] = {
            "groupName": self.name,
            "replicas": self.replicas,
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
        }
        if self.ray_start_params:
            spec["rayStartParams"] = dict(self.ray_start_params)
        spec["template"] = {"spec": pod_spec}
        return spec


@dataclass(frozen=True)
class RayCluster:
    """A RayCluster: one head Pod and any number of worker groups.

    Parameters
    ----------
    name : str
        The RayCluster's name: at most 53 characters, a DNS-1035 label. Inside a ``RayJob`` or
        ``RayService`` it is not used; the operator names the cluster after them.
    worker_groups : sequence of WorkerGroup
        The worker groups, with unique names.
    head_cpu, head_memory :
        The head Pod's size, converted as for ``WorkerGroup``.
    head_runs_tasks : bool
        When false the head advertises no CPUs (``num-cpus: "0"``), so tasks and actors go to
        workers: advisable with autoscaling, and for a head that must stay responsive.
    autoscaling : bool
        Turns on the in-tree autoscaler, version 2, which needs ``restartPolicy: Never`` on every
        Pod; the builder sets it.
    idle_timeout_seconds : int
        How long an idle worker lives before the autoscaler removes it.
    redis_address : str, optional
        Turns on GCS fault tolerance with this external Redis (``gcsFaultToleranceOptions``).
    redis_password_secret : str, optional
        Name of a Secret holding the Redis password under ``redis_password_key``.
    namespace : str, optional
        The namespace; without it ``apply`` uses the kubeconfig context's.
    image : str, optional
        Overrides the head's and CPU workers' image. Keep the kit's Ray version in its tag.
    labels : mapping, optional
        Labels on the RayCluster object.
    """

    name: str
    worker_groups: Sequence[WorkerGroup] = ()
    head_cpu: int | float | str = 2
    head_memory: int | str = "8Gi"
    head_runs_tasks: bool = True
    autoscaling: bool = False
    idle_timeout_seconds: int = 60
    redis_address: str | None = None
    redis_password_secret: str | None = None
    redis_password_key: str = "password"
    namespace: str | None = None
    image: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name, "RayCluster")
        groups = tuple(self.worker_groups)
        for group in groups:
            if not isinstance(group, WorkerGroup):
                raise ConfigError(
                    f"worker_groups: expected WorkerGroup(...) items, got {type(group).__name__}."
                )
        names = [g.name for g in groups]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"worker_groups: names must be unique; repeated: {duplicates}.")
        object.__setattr__(self, "worker_groups", groups)
        object.__setattr__(self, "head_cpu", cpu_quantity(self.head_cpu, "head_cpu"))
        object.__setattr__(self, "head_memory", memory_quantity(self.head_memory, "head_memory"))
        _check_count(self.idle_timeout_seconds, "idle_timeout_seconds")
        if self.redis_password_secret and not self.redis_address:
            raise ConfigError(
                "redis_password_secret is set but redis_address is not: GCS fault tolerance "
                "needs the Redis address, such as redis_address='redis:6379'."
            )
        object.__setattr__(self, "labels", dict(self.labels))

    def spec(self) -> dict:
        """The ``RayClusterSpec``: what a RayJob or RayService embeds."""
        ray_version = expected_ray_version()
        head_image = self.image or ray_image(ray_version)
        head_pod: dict[str, Any] = {
            "containers": [
                _container("ray-head", head_image, self.head_cpu, self.head_memory, 0, _HEAD_PORTS)
            ]
        }
        if self.autoscaling:
            head_pod["restartPolicy"] = "Never"
        head: dict[str, Any] = {}
        if not self.head_runs_tasks:
            head["rayStartParams"] = {"num-cpus": "0"}
        head["template"] = {"spec": head_pod}
        spec: dict[str, Any] = {"rayVersion": ray_version}
        if self.autoscaling:
            spec["enableInTreeAutoscaling"] = True
            spec["autoscalerOptions"] = {
                "version": "v2",
                "idleTimeoutSeconds": self.idle_timeout_seconds,
                "upscalingMode": "Default",
            }
        if self.redis_address:
            options: dict[str, Any] = {"redisAddress": self.redis_address}
            if self.redis_password_secret:
                ref = {"name": self.redis_password_secret, "key": self.redis_password_key}
                options["redisPassword"] = {"valueFrom": {"secretKeyRef": ref}}
            spec["gcsFaultToleranceOptions"] = options
        spec["headGroupSpec"] = head
        spec["workerGroupSpecs"] = [
            g._to_spec(ray_version, self.image, self.autoscaling) for g in self.worker_groups
        ]
        return spec

    def to_dict(self) -> dict:
        """The RayCluster manifest as a plain dict."""
        return {
            "apiVersion": API_VERSION,
            "kind": "RayCluster",
            "metadata": _metadata(self.name, self.namespace, self.labels),
            "spec": self.spec(),
        }

    def to_yaml(self) -> str:
        """The manifest as YAML, for ``kubectl apply --server-side -f``."""
        return to_yaml(self.to_dict())


@dataclass(frozen=True)
class RayJob:
    """A RayJob: a cluster made for one entrypoint, torn down after it by default.

    Parameters
    ----------
    name : str
        At most 47 characters, a DNS-1035 label.
    entrypoint : str
        The command to run, such as ``"python train.py"``.
    cluster : RayCluster, optional
        The cluster to create for the job (its name is not used). Defaults to a head-only cluster.
    runtime_env : mapping, optional
        Ray runtime environment (``pip``, ``working_dir``, ``env_vars`` ...).
    shutdown_after_job_finishes : bool
        Delete the cluster when the job ends. On by default: KubeRay's own default is off, which
        leaves a cluster running, and billing, after the job.
    ttl_seconds_after_finished : int
        Seconds to keep the cluster after the job, for looking at logs. Needs
        ``shutdown_after_job_finishes``.
    active_deadline_seconds : int, optional
        Fail the job if it runs longer than this.
    namespace : str, optional
        The namespace; without it ``apply`` uses the kubeconfig context's.
    """

    name: str
    entrypoint: str
    cluster: RayCluster | None = None
    runtime_env: Mapping[str, Any] | None = None
    shutdown_after_job_finishes: bool = True
    ttl_seconds_after_finished: int = 300
    active_deadline_seconds: int | None = None
    namespace: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "RayJob")
        if not isinstance(self.entrypoint, str) or not self.entrypoint.strip():
            raise ConfigError("entrypoint: give the command to run, such as 'python train.py'.")
        _check_count(self.ttl_seconds_after_finished, "ttl_seconds_after_finished")
        if self.ttl_seconds_after_finished > 0 and not self.shutdown_after_job_finishes:
            raise ConfigError(
                f"ttl_seconds_after_finished={self.ttl_seconds_after_finished} needs "
                "shutdown_after_job_finishes=True (KubeRay rejects a TTL without it). "
                "Set ttl_seconds_after_finished=0 to keep the cluster."
            )
        _check_count(self.active_deadline_seconds, "active_deadline_seconds", allow_none=True)
        if self.active_deadline_seconds == 0:
            raise ConfigError("active_deadline_seconds=0: give a positive number of seconds.")
        if self.cluster is None:
            object.__setattr__(self, "cluster", RayCluster(name=self.name))
        elif not isinstance(self.cluster, RayCluster):
            raise ConfigError(
                f"cluster: expected RayCluster(...), got {type(self.cluster).__name__}."
            )

    def to_dict(self) -> dict:
        """The RayJob manifest as a plain dict."""
        spec: dict[str, Any] = {"entrypoint": self.entrypoint}
        if self.runtime_env:
            spec["runtimeEnvYAML"] = to_yaml(dict(self.runtime_env))
        spec["shutdownAfterJobFinishes"] = self.shutdown_after_job_finishes
        if self.ttl_seconds_after_finished:
            spec["ttlSecondsAfterFinished"] = self.ttl_seconds_after_finished
        if self.active_deadline_seconds:
            spec["activeDeadlineSeconds"] = self.active_deadline_seconds
        spec["rayClusterSpec"] = self.cluster.spec()
        return {
            "apiVersion": API_VERSION,
            "kind": "RayJob",
            "metadata": _metadata(self.name, self.namespace, {}),
            "spec": spec,
        }

    def to_yaml(self) -> str:
        """The manifest as YAML, for ``kubectl apply --server-side -f``."""
        return to_yaml(self.to_dict())


@dataclass(frozen=True)
class RayService:
    """A RayService: a cluster serving one Ray Serve application, upgraded without downtime.

    Parameters
    ----------
    name : str
        At most 47 characters, a DNS-1035 label.
    import_path : str
        The application to serve, ``module:attribute``, such as ``"app:deployment"``.
    cluster : RayCluster, optional
        The cluster to run it on (its name is not used). Defaults to a head-only cluster.
    app_name, route_prefix :
        The application's name and HTTP route.
    runtime_env : mapping, optional
        The application's runtime environment.
    deployments : sequence of mapping, optional
        Per-deployment overrides, as in a Serve config file (``name``, ``num_replicas`` ...).
    namespace : str, optional
        The namespace; without it ``apply`` uses the kubeconfig context's.
    """

    name: str
    import_path: str
    cluster: RayCluster | None = None
    app_name: str = "app"
    route_prefix: str = "/"
    runtime_env: Mapping[str, Any] | None = None
    deployments: Sequence[Mapping[str, Any]] = ()
    namespace: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "RayService")
        if not isinstance(self.import_path, str) or ":" not in self.import_path:
            raise ConfigError(
                f"import_path={self.import_path!r}: expected 'module:attribute', such as "
                "'app:deployment'."
            )
        if not str(self.route_prefix).startswith("/"):
            raise ConfigError(f"route_prefix={self.route_prefix!r}: it must start with '/'.")
        if self.cluster is None:
            object.__setattr__(self, "cluster", RayCluster(name=self.name))
        elif not isinstance(self.cluster, RayCluster):
            raise ConfigError(
                f"cluster: expected RayCluster(...), got {type(self.cluster).__name__}."
            )
        object.__setattr__(self, "deployments", tuple(dict(d) for d in self.deployments))

    def serve_config(self) -> dict:
        """The Serve config (``serveConfigV2``) as a dict."""
        app: dict[str, Any] = {
            "name": self.app_name,
            "import_path": self.import_path,
            "route_prefix": self.route_prefix,
        }
        if self.runtime_env:
            app["runtime_env"] = dict(self.runtime_env)
        if self.deployments:
            app["deployments"] = [dict(d) for d in self.deployments]
        return {"applications": [app]}

    def to_dict(self) -> dict:
        """The RayService manifest as a plain dict; ``serveConfigV2`` is a YAML string."""
        return {
            "apiVersion": API_VERSION,
            "kind": "RayService",
            "metadata": _metadata(self.name, self.namespace, {}),
            "spec": {
                "serveConfigV2": to_yaml(self.serve_config()),
                "rayClusterConfig": self.cluster.spec(),
            },
        }

    def to_yaml(self) -> str:
        """The manifest as YAML, for ``kubectl apply --server-side -f``."""
        return to_yaml(self.to_dict())


def _metadata(name: str, namespace: str | None, labels: Mapping[str, str]) -> dict:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (serveConfigV2, runtimeEnvYAML) as readable ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(manifest: Mapping) -> str:
    """A manifest as YAML in the order it was built, multi-line strings as ``|`` blocks."""
    return yaml.dump(dict(manifest), Dumper=_Dumper, sort_keys=False, default_flow_style=False)
