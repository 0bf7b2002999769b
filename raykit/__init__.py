"""raykit: a Jupyter-first kit for learning and experimenting with Ray."""

from . import check
from ._doctor import doctor
from ._session import Session, init, shutdown
from .exceptions import ClusterUnreachable, ConfigError, NotebookError, RaykitError

__all__ = [
    "ClusterUnreachable",
    "ConfigError",
    "NotebookError",
    "RaykitError",
    "Session",
    "check",
    "doctor",
    "init",
    "shutdown",
]
