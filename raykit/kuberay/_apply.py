"""Sending a manifest to a Kubernetes cluster: server-side dry run, then server-side apply.

``kubernetes`` is imported only once a kubeconfig has been found: the import is slow, and
without a cluster there is nothing to import it for.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from ._checks import as_manifest, validate_or_raise
from ._facts import API_VERSION, PLURALS

FIELD_MANAGER = "raykit"
_IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply`` did.

    Attributes
    ----------
    attempted : bool
        Whether anything was sent to a cluster.
    applied : bool
        Whether the object was created or updated (false after a dry run only, or a rejection).
    message : str
        One sentence saying what happened, and what to do next if it failed.
    kind, name, namespace : str
        The object.
    response : dict, optional
        The object as the API server returned it.
    warnings : list of ValidationIssue
        The kit's warnings about the manifest, found before sending it.
    """

    attempted: bool
    applied: bool
    message: str
    kind: str = ""
    name: str = ""
    namespace: str = ""
    response: dict | None = None
    warnings: list = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class _KubeConfig:
    """Where the credentials come from: a kubeconfig file (list), or the Pod's service account."""

    config_file: str | None  # None: in-cluster
    description: str


def find_kubeconfig(kubeconfig: str | os.PathLike | None = None) -> tuple[_KubeConfig | None, str]:
    """Locate credentials the way kubectl does; return them, or ``None`` and where we looked."""
    if kubeconfig is not None:
        path = Path(kubeconfig).expanduser()
        if path.is_file():
            return _KubeConfig(str(path), str(path)), ""
        return None, f"kubeconfig={str(kubeconfig)!r} (no such file)"
    from_env = os.environ.get("KUBECONFIG")
    if from_env:
        # kubectl reads only the KUBECONFIG files when the variable is set, merging them.
        present = [p for p in from_env.split(os.pathsep) if p and Path(p).expanduser().is_file()]
        if present:
            return _KubeConfig(os.pathsep.join(present), "KUBECONFIG"), ""
        looked = f"KUBECONFIG={from_env!r} (no such file)"
    else:
        default = Path("~/.kube/config").expanduser()
        if default.is_file():
            return _KubeConfig(str(default), str(default)), ""
        looked = f"{default} (no such file)"
    if os.environ.get("KUBERNETES_SERVICE_HOST") and _IN_CLUSTER_TOKEN.is_file():
        return _KubeConfig(None, "in-cluster service account"), ""
    return None, looked


def _api_client(found: _KubeConfig, context: str | None):
    import kubernetes  # slow: imported only when there is a cluster to talk to

    if found.config_file is None:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_incluster_config(client_configuration=configuration)
        return kubernetes.client.ApiClient(configuration)
    return kubernetes.config.new_client_from_config(
        config_file=found.config_file, context=context, persist_config=False
    )


def _context_namespace(found: _KubeConfig, context: str | None) -> str:
    """The namespace of the kubeconfig context in use, else ``default``."""
    if found.config_file is None:
        path = _IN_CLUSTER_TOKEN.with_name("namespace")
        return path.read_text().strip() if path.is_file() else "default"
    import kubernetes

    contexts, active = kubernetes.config.list_kube_config_contexts(config_file=found.config_file)
    chosen = next((c for c in contexts if c["name"] == context), active) if context else active
    return ((chosen or {}).get("context") or {}).get("namespace") or "default"


def _custom_objects_api(api_client):
    import kubernetes

    return kubernetes.client.CustomObjectsApi(api_client)


def _failure_message(error: Exception, stage: str, where: str) -> str:
    """Say why a request failed: the API server's own words, or that it could not be reached."""
    status = getattr(error, "status", None)
    if status is None:
        return (
            f"Could not reach the cluster for the {stage} of {where}: {error}. "
            "Check the kubeconfig's server address and that the cluster is up."
        )
    try:
        reason = json.loads(error.body)["message"]
    except (AttributeError, TypeError, ValueError, KeyError):
        reason = str(error).strip()
    hint = " Is the KubeRay operator 1.7.0, with its CRDs, installed?" if status == 404 else ""
    return f"The server rejected the {stage} of {where} (HTTP {status}): {reason}.{hint}"


def apply(
    manifest: Any,
    *,
    namespace: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    context: str | None = None,
    dry_run: bool = False,
    force_conflicts: bool = False,
    crd: Any = None,
) -> ApplyResult:
    """Validate a manifest, then server-side apply it: a dry run first, then for real.

    Both requests use ``fieldManager=raykit`` and strict field validation, so the server rejects
    unknown fields instead of dropping them. ``validate`` runs first, offline (against the CRDs
    of ``RAYKIT_KUBERAY_CRDS`` or the cache, when there are some).

    Parameters
    ----------
    manifest : dict or builder
        A RayCluster, RayJob or RayService manifest, or a builder.
    namespace : str, optional
        Overrides ``metadata.namespace`` and the kubeconfig context's namespace.
    kubeconfig : str or os.PathLike, optional
        A kubeconfig file. Defaults to ``KUBECONFIG``, then ``~/.kube/config``, then the Pod's
        service account when running inside a cluster.
    context : str, optional
        The kubeconfig context to use; defaults to the current one.
    dry_run : bool
        Stop after the server-side dry run.
    force_conflicts : bool
        Take over fields another field manager owns (``kubectl apply --force-conflicts``).
    crd : optional
        The CRDs for the offline check, as for ``validate``: what ``crds()`` returns, a file or
        folder, or ``False`` for the kit's own checks only. ``None`` (the default) uses
        ``RAYKIT_KUBERAY_CRDS`` or the cache when they hold them.

    Returns
    -------
    ApplyResult
        ``attempted=False`` with a message when no kubeconfig was found: nothing was sent.

    Raises
    ------
    ManifestError
        The kit's checks found errors; nothing was sent.
    ConfigError
        The manifest has ``generateName`` but no ``name``: server-side apply needs a name.
    """
    obj = as_manifest(manifest)
    warnings = validate_or_raise(obj, crd)
    kind = obj["kind"]
    name = obj["metadata"].get("name")
    if not name:  # validate accepts generateName, which only `kubectl create` honours
        raise ConfigError(
            f"manifest: server-side apply needs metadata.name; this {kind} has only "
            f"generateName {obj['metadata'].get('generateName')!r}. Set metadata.name, or "
            "create it with `kubectl create -f`."
        )
    found, looked = find_kubeconfig(kubeconfig)
    if found is None:
        return ApplyResult(
            attempted=False,
            applied=False,
            message=(
                f"No kubeconfig found (looked at {looked}); nothing was sent to any cluster. "
                "Point KUBECONFIG at your cluster's kubeconfig, or pass kubeconfig=, to apply "
                f"this {kind}; to just look at it, print its to_yaml()."
            ),
            kind=kind,
            name=name,
            warnings=warnings,
        )

    api_client = _api_client(found, context)
    target_ns = namespace or obj["metadata"].get("namespace") or _context_namespace(found, context)
    body = {**obj, "metadata": {**obj["metadata"], "namespace": target_ns}}
    group, version = API_VERSION.split("/")
    api = _custom_objects_api(api_client)
    common = dict(
        group=group,
        version=version,
        namespace=target_ns,
        plural=PLURALS[kind],
        name=name,
        body=body,
        field_manager=FIELD_MANAGER,
        field_validation="Strict",
        force=force_conflicts or None,  # sent only when asked for, as kubectl does
        _content_type="application/apply-patch+yaml",  # server-side apply
    )
    where = f"{kind} {target_ns}/{name} (via {found.description})"
    # The dry run goes first: a rejected manifest then changes nothing on the cluster.
    stages = ["All"] if dry_run else ["All", None]
    for stage_dry_run in stages:
        try:
            response = api.patch_namespaced_custom_object(**common, dry_run=stage_dry_run)
        except Exception as error:  # ApiException, or a connection error from urllib3
            stage = "dry run" if stage_dry_run else "apply"
            return ApplyResult(
                attempted=True,
                applied=False,
                message=_failure_message(error, stage, where),
                kind=kind,
                name=name,
                namespace=target_ns,
                warnings=warnings,
            )
    applied = not dry_run
    return ApplyResult(
        attempted=True,
        applied=applied,
        message=f"{'Applied' if applied else 'Dry run passed for'} {where}.",
        kind=kind,
        name=name,
        namespace=target_ns,
        response=response,
        warnings=warnings,
    )


def read_crd_from_cluster(
    kind: str,
    *,
    kubeconfig: str | os.PathLike | None = None,
    context: str | None = None,
    timeout: float | None = None,
) -> dict:
    """Read the CRD of ``kind`` (``"RayCluster"`` ...) from the cluster the kubeconfig names;
    ``timeout`` bounds the request, in seconds (none by default, as for kubectl)."""
    if kind not in PLURALS:
        raise ConfigError(f"kind={kind!r}: use one of {sorted(PLURALS)}.")
    found, looked = find_kubeconfig(kubeconfig)
    if found is None:
        raise ConfigError(
            f"No kubeconfig found (looked at {looked}), so the CRD cannot be read from a "
            "cluster. Pass a CRD file to load_crd instead."
        )
    import kubernetes

    api = kubernetes.client.ApiextensionsV1Api(_api_client(found, context))
    group = API_VERSION.split("/")[0]
    # The raw JSON keeps the schema's own key names (x-kubernetes-*, $ref), unlike the models.
    response = api.read_custom_resource_definition(
        f"{PLURALS[kind]}.{group}", _preload_content=False, _request_timeout=timeout
    )
    return json.loads(response.data)
