"""Offline structural validation of a manifest against a CRD, as the Kubernetes API server does it.

The API server, given a custom resource, (1) prunes ``null`` fields, (2) applies the schema's
defaults, (3) with strict field validation rejects fields the schema does not declare, and (4)
validates the rest against ``openAPIV3Schema`` plus the Kubernetes extensions (``format: int32``,
``x-kubernetes-int-or-string``, list-map keys). ``jsonschema`` does the standard keywords; the
Kubernetes-specific parts are walked here by hand. CEL rules (``x-kubernetes-validations``) are
not evaluated.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..exceptions import ConfigError
from ._issues import ValidationIssue, issue

# The C loader parses a 1.4 MB CRD file in about 0.3 s; the pure-Python one takes about 1.5 s.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}

# Fields of metav1.ObjectMeta: the CRD schema declares the root ``metadata`` as a bare object
# because the API server validates it itself.
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def load_crd(
    source: str | os.PathLike | None = None,
    *,
    kind: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    context: str | None = None,
) -> dict:
    """Read a CustomResourceDefinition from a YAML file, a folder of them, or the cluster.

    Parameters
    ----------
    source : str or os.PathLike, optional
        A CRD file such as ``ray.io_rayclusters.yaml``, or a folder holding CRD files, in which
        case ``kind`` picks the file (``ray.io_rayclusters.yaml`` for ``"RayCluster"``). Without
        it the CRD of ``kind`` is read from the cluster the kubeconfig points at.
    kind : str, optional
        The custom resource kind, such as ``"RayJob"``. Needed with a folder or the cluster;
        with a file it is checked against the CRD.
    kubeconfig, context : optional
        Which cluster to read from when ``source`` is not given; as for ``apply``.

    Returns
    -------
    dict
        The CRD document. Files are cached: treat the result as read-only.

    Raises
    ------
    ConfigError
        No such file, no CRD for ``kind`` there, or (reading the cluster) no kubeconfig.
    """
    if source is None:
        from ._apply import read_crd_from_cluster  # imports the slow kubernetes client

        if not kind:
            raise ConfigError("load_crd(): give a CRD file, or kind= to read it from the cluster.")
        return read_crd_from_cluster(kind, kubeconfig=kubeconfig, context=context)
    path = Path(source).expanduser()
    if path.is_dir():
        if not kind:
            raise ConfigError(
                f"load_crd({str(source)!r}): a folder needs kind=, such as kind='RayCluster'."
            )
        path = path / f"ray.io_{kind.lower()}s.yaml"
    if not path.is_file():
        raise ConfigError(
            f"load_crd: no CRD file at {str(path)!r}. Pass the path of a KubeRay CRD file such "
            "as ray.io_rayclusters.yaml, or a folder holding them."
        )
    stat = path.stat()
    crd = _load_crd_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if kind and crd_kind(crd) != kind:
        raise ConfigError(
            f"load_crd: {str(path)!r} defines {crd_kind(crd)!r}, not {kind!r}. "
            f"Pass the CRD file of {kind}."
        )
    return crd


@functools.lru_cache(maxsize=8)
def _load_crd_file(path: str, mtime_ns: int, size: int) -> dict:
    # mtime and size are part of the key so that an edited file is read again.
    with open(path, "rb") as f:
        crd = yaml.load(f, Loader=_YAML_LOADER)
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise ConfigError(f"load_crd: {path!r} is not a CustomResourceDefinition.")
    return crd


def crd_kind(crd: Mapping) -> str | None:
    """The custom resource kind a CRD defines, such as ``"RayCluster"``."""
    return crd.get("spec", {}).get("names", {}).get("kind")


def validate_against_crd(manifest: Mapping, crd: Mapping) -> list[ValidationIssue]:
    """Validate ``manifest`` against ``crd`` as the API server would with strict validation."""
    schema, problem = _schema_for(manifest, crd)
    if problem:
        return [problem]
    obj = copy.deepcopy(dict(manifest))
    _prune_nulls_and_default(obj, schema)
    issues = list(_walk_kubernetes_rules(obj, schema, ()))
    issues.extend(_standard_keyword_issues(obj, schema))
    return issues


def _schema_for(manifest: Mapping, crd: Mapping) -> tuple[dict, ValidationIssue | None]:
    """The ``openAPIV3Schema`` of the CRD version the manifest's ``apiVersion`` names."""
    kind = crd_kind(crd)
    if manifest.get("kind") != kind:
        return {}, issue(
            ["kind"],
            f"The manifest is a {manifest.get('kind')!r} but the CRD given defines {kind!r}.",
            f"Validate against the CRD of {manifest.get('kind')}.",
            "crd-kind",
        )
    group = crd.get("spec", {}).get("group")
    api_version = str(manifest.get("apiVersion", ""))
    served = {f"{group}/{v['name']}": v for v in crd["spec"].get("versions", []) if v.get("served")}
    version = served.get(api_version)
    if version is None:
        return {}, issue(
            ["apiVersion"],
            f"apiVersion {api_version!r} is not served by this CRD.",
            f"Use one of {sorted(served)}.",
            "api-version",
        )
    return version["schema"]["openAPIV3Schema"], None


def _prune_nulls_and_default(value: Any, schema: Mapping) -> None:
    """Drop ``null`` fields (unless ``nullable``) then fill in defaults, in place, recursively."""
    if isinstance(value, dict) and _is_type(schema, "object"):
        properties = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        for key in list(value):
            sub = properties.get(key, additional if isinstance(additional, dict) else {})
            if value[key] is None and not sub.get("nullable"):
                del value[key]
        for key, sub in properties.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            sub = properties.get(key, additional if isinstance(additional, dict) else None)
            if sub is not None:
                _prune_nulls_and_default(item, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _prune_nulls_and_default(item, schema["items"])


def _is_type(schema: Mapping, name: str) -> bool:
    return schema.get("type", name) == name


def _walk_kubernetes_rules(value: Any, schema: Mapping, parts: tuple) -> Iterator[ValidationIssue]:
    """Unknown fields, int32/int64 ranges, int-or-string, list-map and set uniqueness."""
    if value is None:
        return
    if schema.get("x-kubernetes-int-or-string"):
        yield from _int_or_string(value, schema, parts)
        return
    if isinstance(value, dict) and _is_type(schema, "object"):
        yield from _walk_object(value, schema, parts)
    elif isinstance(value, list) and schema.get("type") == "array":
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                yield from _walk_kubernetes_rules(item, items, (*parts, index))
        yield from _list_uniqueness(value, schema, parts)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        bounds = _INT_RANGES.get(schema.get("format", ""))
        if bounds and schema.get("type") == "integer" and not bounds[0] <= value <= bounds[1]:
            name = schema["format"]
            yield issue(
                parts,
                f"{value} does not fit in an {name} (range {bounds[0]} to {bounds[1]}).",
                f"Use a value between {bounds[0]} and {bounds[1]}.",
                f"{name}-range",
            )


def _walk_object(value: dict, schema: Mapping, parts: tuple) -> Iterator[ValidationIssue]:
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True or additional is True
    for key, item in value.items():
        here = (*parts, key)
        if key in properties:
            if parts == () and key == "metadata":
                yield from _object_meta(item, here)
            else:
                yield from _walk_kubernetes_rules(item, properties[key], here)
        elif isinstance(additional, dict):
            yield from _walk_kubernetes_rules(item, additional, here)
        elif not keeps_unknown:
            # The schemas carry no ``additionalProperties: false``: the API server would prune
            # this field silently, or reject it under strict field validation.
            yield _unknown_field(key, list(properties), here)


def _unknown_field(key: str, known: list[str], parts: tuple) -> ValidationIssue:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        fix = f"Did you mean {close[0]!r}? Rename the field."
    elif known:
        fix = f"Remove it; the fields allowed here are: {', '.join(sorted(known))}."
    else:
        fix = "Remove it; this object takes no fields."
    return issue(parts, f"Unknown field {key!r}.", fix, "unknown-field")


def _object_meta(meta: Any, parts: tuple) -> Iterator[ValidationIssue]:
    """The root ``metadata``: known ObjectMeta fields only, string maps for labels/annotations."""
    if not isinstance(meta, dict):
        return  # jsonschema reports the wrong type
    for key, item in meta.items():
        if key not in _OBJECT_META_FIELDS:
            yield _unknown_field(key, sorted(_OBJECT_META_FIELDS), (*parts, key))
        elif key in ("labels", "annotations") and isinstance(item, dict):
            for name, text in item.items():
                if not isinstance(text, str):
                    shown = str(text).lower() if isinstance(text, bool) else text
                    yield issue(
                        (*parts, key, name),
                        f"{key} values must be strings; got {type(text).__name__} {text!r}.",
                        f'Quote the value: "{shown}".',
                        "metadata-string",
                    )


def _int_or_string(value: Any, schema: Mapping, parts: tuple) -> Iterator[ValidationIssue]:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return
    is_quantity = "pattern" in schema  # quantities carry the resource.Quantity pattern
    if isinstance(value, float) and is_quantity:
        yield issue(
            parts,
            f"A resource quantity must be a string or an integer; got the float {value}.",
            f'Write "{quantity_from_float(value)}" (a string).',
            "quantity-type",
        )
    else:
        yield issue(
            parts,
            f"Must be an integer or a string; got {type(value).__name__} {value!r}.",
            'Write an integer, or a string such as "25%".',
            "int-or-string",
        )


def quantity_from_float(value: float) -> str:
    """The quantity string for a float: 0.5 -> "500m", 2.0 -> "2"."""
    if float(value).is_integer():
        return str(int(value))
    millis = value * 1000
    if abs(millis - round(millis)) < 1e-9:
        return f"{round(millis)}m"
    return repr(value)


def _list_uniqueness(value: list, schema: Mapping, parts: tuple) -> Iterator[ValidationIssue]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen: dict[tuple, int] = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            identity = tuple(_hashable(item.get(k)) for k in keys)
            if identity in seen:
                shown = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
                yield issue(
                    (*parts, index),
                    f"Duplicate entry: {shown} is already used by [{seen[identity]}].",
                    f"Give each entry of this list a unique {' + '.join(keys)}, or merge the two.",
                    "list-map-duplicate",
                )
            else:
                seen[identity] = index
    elif list_type == "set":
        seen_items: dict = {}
        for index, item in enumerate(value):
            key = _hashable(item)
            if key in seen_items:
                yield issue(
                    (*parts, index),
                    f"Duplicate value {item!r} in a set (first at [{seen_items[key]}]).",
                    "Remove the repeated value.",
                    "set-duplicate",
                )
            else:
                seen_items[key] = index


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _nullable_type(validator, types, instance, schema):
    # OpenAPI's ``nullable: true`` lets null through whatever ``type`` says.
    if instance is None and schema.get("nullable"):
        return
    yield from jsonschema.Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


def _is_integer(checker, instance) -> bool:
    # Kubernetes decodes 2.0 as an integral number and accepts it where an integer is due.
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())


_KubernetesValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    validators={"type": _nullable_type},
    type_checker=jsonschema.Draft4Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def _standard_keyword_issues(obj: dict, schema: Mapping) -> Iterator[ValidationIssue]:
    """Types, required fields, enums, patterns, minimums: the keywords jsonschema knows."""
    for error in _KubernetesValidator(schema).iter_errors(obj):
        if error.schema.get("x-kubernetes-int-or-string") and error.validator == "anyOf":
            continue  # reported with a better fix by _int_or_string
        yield _from_jsonschema_error(error)


def _from_jsonschema_error(error: jsonschema.ValidationError) -> ValidationIssue:
    parts = list(error.absolute_path)
    kind, value = error.validator, error.validator_value
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return issue([*parts, missing], "Required field is missing.", "Add it.", "required-field")
    if kind == "type":
        hint = ' Quote it: "4", not 4.' if value == "string" else ""
        got = type(error.instance).__name__
        return issue(
            parts,
            f"Must be of type {value}; got {got} {error.instance!r}.",
            f"Write a {value}.{hint}",
            "type",
        )
    if kind == "enum":
        return issue(parts, f"{error.instance!r} is not allowed.", f"Use one of {value}.", "enum")
    if kind == "pattern" and error.schema.get("x-kubernetes-int-or-string"):
        return issue(
            parts,
            f"{error.instance!r} is not a Kubernetes quantity.",
            'Write a quantity such as "2", "500m", "512Mi" or "4Gi".',
            "quantity-format",
        )
    return issue(parts, error.message, f"Satisfy the schema's {kind!r} rule ({value}).", kind)
