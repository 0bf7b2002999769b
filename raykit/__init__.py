"""raykit: a Jupyter-first kit for learning and experimenting with Ray."""

from . import check
from ._datasets import dataset_path, generate_rows, load_dataset, read_dataset, write_generated
from ._doctor import doctor
from ._loadgen import LoadReport, load_test
from ._measure import Comparison, Timing, compare, measure
from ._minicluster import MiniCluster
from ._prometheus import Prometheus, scrape_metrics
from ._session import Session, init, shutdown
from ._store import StoreWatch, store_stats, watch_store
from ._timeline import Timeline, timeline
from ._widgets import ClusterView, progress
from .exceptions import ClusterUnreachable, ConfigError, NotebookError, RaykitError

__all__ = [
    "ClusterView",
    "ClusterUnreachable",
    "Comparison",
    "ConfigError",
    "NotebookError",
    "Prometheus",
    "RaykitError",
    "Session",
    "Timeline",
    "Timing",
    "check",
    "compare",
    "dataset_path",
    "doctor",
    "generate_rows",
    "init",
    "LoadReport",
    "MiniCluster",
    "load_test",
    "load_dataset",
    "progress",
    "read_dataset",
    "scrape_metrics",
    "measure",
    "shutdown",
    "store_stats",
    "StoreWatch",
    "timeline",
    "watch_store",
    "write_generated",
]
