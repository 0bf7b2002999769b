"""What validation reports: one ``ValidationIssue`` per problem, ``ManifestError`` to raise them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..exceptions import ConfigError

ERROR = "error"
WARNING = "warning"

PathParts = Sequence[str | int]


@dataclass(frozen=True)
class ValidationIssue:
    """One problem in a manifest, at one field.

    Attributes
    ----------
    path : str
        The field at fault, as Kubernetes writes it: ``spec.workerGroupSpecs[0].rayStartParams``.
        Map keys holding dots or slashes are bracketed: ``limits[nvidia.com/gpu]``.
    message : str
        What is wrong.
    fix : str
        What to write instead.
    check : str
        A stable name of the rule that found it, such as ``"unknown-field"``.
    severity : str
        ``"error"`` (the API server or the operator would reject or misrun it) or ``"warning"``
        (it runs, but probably not as meant).
    """

    path: str
    message: str
    fix: str
    check: str
    severity: str = ERROR

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message} Fix: {self.fix}"


class ManifestError(ConfigError):
    """A manifest failed validation; ``issues`` holds every problem found, errors first."""

    def __init__(self, issues: Iterable[ValidationIssue], what: str = "manifest"):
        self.issues = list(issues)
        errors = [i for i in self.issues if i.severity == ERROR]
        lines = "\n".join(f"  - {issue}" for issue in errors)
        super().__init__(f"The {what} has {len(errors)} error(s):\n{lines}")


def format_path(parts: PathParts) -> str:
    """Join path parts the way Kubernetes error messages do: ``spec.groups[0].name``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or "/" in part:
            out += f"[{part}]"  # e.g. limits[nvidia.com/gpu]: a dot here would read as nesting
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def issue(
    parts: PathParts, message: str, fix: str, check: str, severity: str = ERROR
) -> ValidationIssue:
    """Build a ``ValidationIssue`` from path parts."""
    return ValidationIssue(format_path(parts), message, fix, check, severity)
