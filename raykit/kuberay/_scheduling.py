"""Taints and tolerations: which node taints keep a group's Pods off a node, by Kubernetes' rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import ConfigError
from ._checks import as_manifest
from ._facts import CLUSTER_SPEC_PATH

# PreferNoSchedule only steers the scheduler away; these two keep a Pod off the node.
_BLOCKING = ("NoSchedule", "NoExecute")
_EFFECTS = (*_BLOCKING, "PreferNoSchedule")


def tolerates(toleration: Mapping, taint: Mapping) -> bool:
    """Whether one toleration matches one taint, by Kubernetes' rule (``ToleratesTaint``).

    An empty effect matches every effect; an empty key with ``operator: Exists`` matches every
    key; ``Exists`` ignores the value; ``Equal`` (the default operator) needs the same value.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def _check_taints(taints: Any) -> list[dict]:
    if isinstance(taints, Mapping) or not isinstance(taints, Sequence) or isinstance(taints, str):
        raise ConfigError(
            f"taints={taints!r}: expected a list of taints such as "
            "[{'key': 'nvidia.com/gpu', 'value': 'present', 'effect': 'NoSchedule'}]."
        )
    for taint in taints:
        if (
            not isinstance(taint, Mapping)
            or not taint.get("key")
            or taint.get("effect") not in (_EFFECTS)
        ):
            raise ConfigError(
                f"taints: {taint!r} is not a taint: give a key, an optional value and an effect, "
                f"one of {_EFFECTS}."
            )
    return [dict(t) for t in taints]


def group_pod_spec(manifest: Any, group: str) -> dict:
    """The Pod template's spec of worker group ``group`` (``"head"`` for the head group)."""
    obj = as_manifest(manifest)
    cluster = obj
    for key in CLUSTER_SPEC_PATH.get(obj.get("kind"), ("spec",)):
        cluster = cluster.get(key) if isinstance(cluster, Mapping) else None
    cluster = cluster if isinstance(cluster, Mapping) else {}
    if group == "head":
        spec = cluster.get("headGroupSpec") or {}
    else:
        groups = [g for g in cluster.get("workerGroupSpecs") or [] if isinstance(g, Mapping)]
        found = [g for g in groups if g.get("groupName") == group]
        if not found:
            names = [g.get("groupName") for g in groups]
            raise ConfigError(
                f"group={group!r}: the manifest has no such worker group; it has {names} "
                "(or 'head')."
            )
        spec = found[0]
    pod = (spec.get("template") or {}).get("spec") if isinstance(spec, Mapping) else None
    return dict(pod) if isinstance(pod, Mapping) else {}


def untolerated(manifest: Any, group: str, taints: Sequence[Mapping]) -> list[dict]:
    """The taints of a node that keep ``group``'s Pods off it: an empty list means they may land.

    A **taint** on a Kubernetes node (``key=value:effect``) repels every Pod that does not carry
    a matching **toleration**; GPU node pools are usually tainted so that only Pods that asked
    for GPUs land there. Only ``NoSchedule`` and ``NoExecute`` taints keep a Pod off a node.

    Parameters
    ----------
    manifest : dict or builder
        A RayCluster, RayJob or RayService, as a dict or a ``raykit.kuberay`` builder.
    group : str
        The worker group's ``groupName``, or ``"head"``.
    taints : list of dict
        The node's taints, as ``kubectl describe node`` lists them: ``key``, ``value`` (optional)
        and ``effect``.

    Returns
    -------
    list of dict
        The blocking taints that none of the group's tolerations matches.

    Raises
    ------
    ConfigError
        ``taints`` is not a list of taints, or ``group`` names no group of the manifest.
    """
    wanted = _check_taints(taints)
    tolerations = group_pod_spec(manifest, group).get("tolerations") or []
    tolerations = [t for t in tolerations if isinstance(t, Mapping)]
    return [
        taint
        for taint in wanted
        if taint["effect"] in _BLOCKING and not any(tolerates(t, taint) for t in tolerations)
    ]
