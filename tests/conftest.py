"""Shared test fixtures: an isolated Ray temp dir, a leftover-process check, executed notebooks."""

from __future__ import annotations

import os
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# This repository's CI keeps the KubeRay CRDs in ../shared beside the checkout, and hands them
# over the way a user would: through RAYKIT_KUBERAY_CRDS, which raykit.kuberay.crds() reads
# first. A user's clone has no ../shared: the lookup goes on to the cache, a cluster, a download.
SHARED_CRDS = ROOT.parent / "shared" / "kuberay" / "crds"
if not os.environ.get("RAYKIT_KUBERAY_CRDS") and SHARED_CRDS.is_dir():
    os.environ["RAYKIT_KUBERAY_CRDS"] = str(SHARED_CRDS)
# KubeRay's own sample manifests of that release, the same way (tests/test_kuberay_samples.py).
SHARED_SAMPLES = SHARED_CRDS.parent / "samples"
if not os.environ.get("RAYKIT_KUBERAY_SAMPLES") and SHARED_SAMPLES.is_dir():
    os.environ["RAYKIT_KUBERAY_SAMPLES"] = str(SHARED_SAMPLES)

# Every Ray cluster the suite starts (in this process, in notebook kernels, in subprocesses) keeps
# its sockets and logs under this folder, so its processes can be told apart from anyone else's
# Ray on the host. Kept short: Unix socket paths are limited to 107 characters.
RAY_TMP = tempfile.mkdtemp(prefix="rk-", dir="/tmp")
os.environ["RAY_TMPDIR"] = RAY_TMP
# Exercise progress the lessons record while the suite runs them goes here, not into the
# developer's own ~/.raykit/progress.json.
os.environ["RAYKIT_HOME"] = os.path.join(RAY_TMP, "raykit-home")
# A lesson's plain ray.init() (lesson 00 shows Ray's own entry points) listens on 127.0.0.1 only
# in Ray's single-host mode, as `raykit run` and `make lab` set it for local clusters.
if not os.environ.get("RAY_ADDRESS"):
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def ray_processes_of_suite() -> list[str]:
    """Processes whose command line mentions the suite's Ray temp dir (raylet, GCS, workers)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if RAY_TMP in cmdline and proc.pid != os.getpid():
            found.append(f"{proc.pid}: {cmdline[:120]}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_ray_left_behind():
    """After the whole suite, no Ray process that the suite started may still run."""
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()
    left = []
    for _ in range(20):  # processes take a moment to exit after shutdown
        left = ray_processes_of_suite()
        if not left:
            break
        psutil.wait_procs([], timeout=0.5)
        import time

        time.sleep(0.5)
    if not left:
        shutil.rmtree(RAY_TMP, ignore_errors=True)
    assert not left, "Ray processes started by the suite are still running:\n" + "\n".join(left)


class _ExecutedNotebooks:
    """Runs each lesson once per session in small mode; tests read the executed copies."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.results = {}

    def __call__(self, name: str):
        from raykit._runner import run_notebooks

        if name not in self.results:
            report = run_notebooks([NOTEBOOKS / name], smoke=True, output_dir=self.out_dir)
            self.results[name] = report.results[0]
        return self.results[name]

    def text(self, name: str) -> str:
        """Run ``name`` (once), fail if a cell failed, and return what its cells printed."""
        result = self(name)
        assert result.passed, f"{name} failed in cell {result.cell_index}: {result.error}"
        return outputs_text(result.output)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """``executed("00_welcome.ipynb")`` runs the lesson once and returns its NotebookResult;
    ``executed.text(name)`` also checks that it passed and returns its printed text."""
    return _ExecutedNotebooks(tmp_path_factory.mktemp("executed"))


def outputs_text(notebook_path: str | Path) -> str:
    """All text a notebook's cells printed or displayed, joined: for asserting figures."""
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


class _TagBalance(HTMLParser):
    VOID = {"br", "hr", "img", "meta", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


def well_formed_text(html: str) -> str:
    """Assert every tag in ``html`` is closed in order; return its visible text, space-joined."""
    parser = _TagBalance()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return " ".join(parser.text)


NAP_S = 0.3


@pytest.fixture(scope="module")
def cluster():
    """A two-CPU local cluster whose two worker processes are already running."""
    import raykit

    session = raykit.init(num_cpus=2)
    _start_two_workers()
    yield session
    raykit.shutdown()


def _remote(fn):
    import ray

    return ray.remote(fn)


@_remote
def _pid():
    import time

    time.sleep(0.5)
    return os.getpid()


def _start_two_workers():
    """Run tasks until two worker processes exist: on a loaded host the second one can take
    seconds to start, and tasks that should overlap would otherwise queue on the first."""
    import ray

    pids = set()
    for _ in range(20):
        pids |= set(ray.get([_pid.remote() for _ in range(2)]))
        if len(pids) >= 2:
            return


@_remote
def nap(i):
    """Sleep NAP_S seconds and return ``i``: a task long enough to overlap with others."""
    import time

    time.sleep(NAP_S)
    return i
