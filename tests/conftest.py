"""Shared test fixtures: an isolated Ray temp dir, a leftover-process check, executed notebooks."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import psutil
import pytest
from _tiers import starts_ray

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# The KubeRay CRDs and samples reach the tests only through the kit's own lookup
# (raykit.kuberay.crds(): RAYKIT_KUBERAY_CRDS, the cache, a download; RAYKIT_KUBERAY_SAMPLES);
# without them those tests skip and say why. This repository's CI sets the variables (.ci/run).

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


# --- test tiers: a test that starts Ray says so --------------------------------------------------
# `make test-fast` runs the tests that start no Ray (-m "not ray_cluster and not lesson and not
# browser"). So that tier stays true, a test that starts Ray without the ray_cluster (or lesson,
# browser) marker fails, naming the marker to add. What counts as a start: a line in the kit's
# start-up log (raykit.init and MiniCluster nodes write one, in this process or any child that
# inherits the environment; clusters that delete their folders when they stop still leave it),
# or a new session folder of a plain ray.init(). Tests that use a fixture marked with
# tests/_tiers.starts_ray are marked here.
RAY_MARKERS = {"ray_cluster", "lesson", "browser"}
SUITE_STARTUP_LOG = os.path.join(RAY_TMP, "ray-starts.jsonl")
os.environ["RAYKIT_STARTUP_LOG"] = SUITE_STARTUP_LOG


def ray_starts() -> set[str]:
    """Every Ray start the suite's tests (not its lesson runs, which log elsewhere) made so far."""
    try:
        with open(SUITE_STARTUP_LOG, encoding="utf-8") as log:
            logged = {f"{n}: {line.strip()}" for n, line in enumerate(log)}
    except OSError:
        logged = set()
    return logged | {str(p) for p in Path(RAY_TMP).glob("ray/session_2*")}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_STARTS_BEFORE] = ray_starts()
    # Whatever was waited for, a test that reads a lesson starts them all, not its own alone.
    if _reads_lessons(item) and _lessons_to_start:
        _start_lessons()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when != "teardown" or report.failed or _STARTS_BEFORE not in item.stash:
        return
    if any(item.get_closest_marker(m) for m in RAY_MARKERS):
        return
    new = ray_starts() - item.stash[_STARTS_BEFORE]
    if new:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} started Ray ({len(new)} time(s), e.g. {sorted(new)[0]}) but is "
            "not marked: add @pytest.mark.ray_cluster, so that `make test-fast` leaves it out."
        )


_STARTS_BEFORE = pytest.StashKey[set]()

# Ray Train V2's fit() and Tune's Tuner.fit() install a SIGINT handler of their own (to end a run
# gracefully) and leave it there when the run ends (Ray 2.60): after the first test that trains
# in this process, Ctrl+C no longer stopped the suite (measured: a Tune run, then SIGINT, and a
# sleep went on). A Jupyter kernel puts its own handler back before each cell; the suite does the
# same after each test, so that Ctrl+C ends the session and its lesson runs.
_SIGINT_AT_START = signal.getsignal(signal.SIGINT)


@pytest.fixture(autouse=True)
def _ctrl_c_still_stops_the_suite():
    yield
    if getattr(signal.getsignal(signal.SIGINT), "__module__", "").startswith("ray."):
        signal.signal(signal.SIGINT, _SIGINT_AT_START)


@pytest.fixture(scope="session", autouse=True)
def no_ray_left_behind():
    """After the whole suite, no Ray process that the suite started may still run."""
    yield
    import ray

    if _pool is not None:
        _pool.stop()
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


# Lessons run in a pool (tests/_lessons.py): each once, with its exercises' variants, ``jobs`` at
# a time, in the background while the unit tests run; tests that read a lesson run last.
LESSON_JOBS = int(os.environ.get("RAYKIT_TEST_JOBS", "2"))
LESSONS_OUT = os.environ.get("RAYKIT_TEST_OUT")  # default: a new temporary folder
# Lessons 07-09 hand their models on through this folder, not the developer's ~/raykit_results.
os.environ.setdefault("RAYKIT_RESULTS", os.path.join(RAY_TMP, "results"))
_pool = None


def lesson_pool():
    """The session's LessonPool, made on first use."""
    global _pool
    if _pool is None:
        from _lessons import LessonPool

        out = Path(LESSONS_OUT or tempfile.mkdtemp(prefix="raykit-lessons-"))
        out.mkdir(parents=True, exist_ok=True)
        _pool = LessonPool(out, RAY_TMP, jobs=LESSON_JOBS)
    return _pool


def _lessons_of(item) -> list[Path]:
    """The lessons a test reads: its ``path`` parameter, or its module's lesson (its name
    ``test_lesson_NN_...``) when it uses the ``executed`` fixture."""
    params = getattr(item, "callspec", None) and item.callspec.params
    if params and isinstance(params.get("path"), Path) and "lesson_runs" in item.fixturenames:
        return [params["path"]]
    if "executed" not in item.fixturenames:
        return []
    if params and isinstance(params.get("name"), str) and params["name"].endswith(".ipynb"):
        return [NOTEBOOKS / params["name"]]
    stem = item.module.__name__.removeprefix("test_lesson_")
    return [p for p in NOTEBOOKS.glob(f"{stem[:2]}_*.ipynb")] if stem[:2].isdigit() else []


def pytest_collection_modifyitems(session, config, items):
    """Tests that read a lesson run after all the others, which run while the lessons do."""
    needed = {id(item): bool(_lessons_of(item)) for item in items}
    last = {id(item): bool(item.get_closest_marker("after_lessons")) for item in items}
    later = {id(item): not item.get_closest_marker("browser") for item in items}
    # stable: the order within each group stays. The browser tests come first, before the lesson
    # runs start (pytest_runtest_logfinish): a learner's browser has the machine to itself.
    items.sort(key=lambda item: (last[id(item)], needed[id(item)], later[id(item)]))
    for item in items:
        if needed[id(item)]:
            item.add_marker(pytest.mark.lesson)
        elif _uses_a_ray_fixture(item):
            item.add_marker(pytest.mark.ray_cluster)


def _uses_a_ray_fixture(item) -> bool:
    defs = getattr(item, "_fixtureinfo", None)  # pytest's record of the fixtures a test uses
    if defs is None:
        return False
    return any(
        getattr(d.func, "starts_ray", False) for fs in defs.name2fixturedefs.values() for d in fs
    )


def pytest_collection_finish(session):
    """Start the lessons the selected tests read (after -k and -m have deselected the rest),
    once the browser tests are done: in lesson 00 they run a plain ray.init(), which Ray 2.60 gives
    30 s to register its node, and beside two lessons starting on 2 cores it took longer
    (2026-12-06: both browser tests failed so). The lessons are not the critical path."""
    if session.config.option.collectonly:
        return
    after = lessons_wait_for(session.items)
    _lessons_to_start.update(
        paths=sorted({p for item in session.items for p in _lessons_of(item)}),
        series=_series_wanted(session.items),
        after=after,
    )
    if after is None:
        _start_lessons()


_lessons_to_start: dict = {}


def _reads_lessons(item) -> bool:
    return bool(item.get_closest_marker("lesson") or item.get_closest_marker("after_lessons"))


def lessons_wait_for(items) -> str | None:
    """The browser test the lesson runs start after: the last one before the first test that
    reads a lesson. A browser test that reads a lesson itself (the course site's) comes among those
    and is not waited for: waiting for it left the pool idle until the end of the unit tests, then
    ran the lessons one at a time as each test asked (CI 2026-12-07: 4775 s instead of ~3600 s)."""
    first_reader = next((i for i, item in enumerate(items) if _reads_lessons(item)), len(items))
    browser = [item.nodeid for item in items[:first_reader] if item.get_closest_marker("browser")]
    return browser[-1] if browser else None


def _start_lessons() -> None:
    paths, series = _lessons_to_start.get("paths", []), _lessons_to_start.get("series", [])
    _lessons_to_start.clear()
    if paths:
        lesson_pool().prefetch(paths)
    if series:
        lesson_pool().prefetch_series(series)


def pytest_runtest_logfinish(nodeid, location):
    if _lessons_to_start.get("after") == nodeid:
        _start_lessons()


def pytest_terminal_summary(terminalreporter):
    from raykit import _timing
    from raykit._runner import RAY_COLUMNS, _share, ray_columns

    if _pool is not None and _pool.seconds:
        terminalreporter.write_sep("=", "lesson runs (seconds, with their exercises' variants)")
        terminalreporter.write_line(f"{'lesson':<28} {'status':<6} {'seconds':>7}  {RAY_COLUMNS}")
        for name, seconds in sorted(_pool.seconds.items()):
            status = "passed" if _pool.passed(name) else "FAILED"
            starts, calls = _pool.ray_start.get(name, 0.0), _pool.library_calls.get(name, {})
            terminalreporter.write_line(
                f"{name:<28} {status:<6} {seconds:7.1f}  {ray_columns(seconds, starts, calls)}"
            )
        for name, why in sorted(_pool.retried.items()):
            terminalreporter.write_line(f"{name} ran twice: its first run failed, {why}")
        total = sum(_pool.seconds.values())
        starts = sum(_pool.ray_start.values())
        library_total = sum(_timing.calls_seconds(c) for c in _pool.library_calls.values())
        terminalreporter.write_line(
            f"{len(_pool.seconds)} runs, {total:.1f} s in all, "
            f"{starts:.1f} s of it starting Ray {_share(starts, total)}, "
            f"{library_total:.1f} s in Ray's libraries {_share(library_total, total)}"
        )
        terminalreporter.write_line(f"executed notebooks and logs in {_pool.out_dir}")


@pytest.fixture(scope="session", name="lesson_runs")
def lesson_runs_fixture():
    """The pool: ``lesson_runs.get(path)`` waits for that lesson's run (a ``LessonRun``)."""
    return lesson_pool()


@dataclass
class SeriesRun:
    """The lessons run plainly against a cluster the user already has (``series_run``), in parts
    that each had a user's cluster of their own."""

    report: object  # raykit's RunReport: a NotebookResult per lesson, in the lessons' order
    parts: list[dict]  # per part: its cluster's address (RAY_ADDRESS), its lessons, the cluster's
    # CPUs after them (still there?) and RAY_ADDRESS as the runner left it

    def result(self, path: Path):
        """The lesson's NotebookResult; fail if the series did not run it."""
        for result in self.report.results:
            if Path(result.notebook).name == path.name:
                return result
        raise AssertionError(f"the series did not run {path.name}")

    def address_of(self, name: str) -> str:
        """The address of the user's cluster that RAY_ADDRESS named for the lesson ``name``."""
        return next(part["address"] for part in self.parts if name in part["lessons"])


def _series_wanted(items) -> list[Path]:
    """The series lessons the selected tests read: a test with a lesson ``path`` parameter reads
    that one, any other test that uses ``series_run`` reads them all."""
    from _lessons import series_lessons

    every = series_lessons(NOTEBOOKS)
    wanted = set()
    for item in items:
        if "series_run" not in getattr(item, "fixturenames", ()):
            continue
        params = getattr(item, "callspec", None) and item.callspec.params
        if params and isinstance(params.get("path"), Path):
            wanted.add(params["path"].name)
        else:
            return every
    return [p for p in every if p.name in wanted]


@pytest.fixture(scope="session")
@starts_ray
def series_run() -> SeriesRun:
    """The lesson series against a cluster the user already has: ``RAY_ADDRESS`` names a
    MiniCluster, the kit's runner runs the lessons in small mode one after another, every exercise
    blank with solutions on (tests/_lessons.py, ``run_series``). The pool runs it as its last
    jobs, in parts, in the first slots the lessons leave free; tests that read it are marked
    ``after_lessons``."""
    from raykit._runner import NotebookResult, RunReport

    parts = lesson_pool().get_series()
    results = [NotebookResult(**r) for part in parts for r in part["results"]]
    report = RunReport(sorted(results, key=lambda r: Path(r.notebook).name))
    print(report.table())
    return SeriesRun(report, parts)


class _ExecutedNotebooks:
    """``executed(name)``: the lesson's run from the pool, as a NotebookResult."""

    def __call__(self, name: str):
        from raykit._runner import NotebookResult

        run = lesson_pool().get(NOTEBOOKS / name)
        result = NotebookResult(name, str(run.path), "passed", run.summary.get("seconds") or 0.0)
        if not run.passed:
            where, ename, evalue = run.summary["failed"]
            result.status, result.error = "failed", f"{ename}: {evalue}"
            result.cell_index = where if isinstance(where, int) else None
        return result

    def text(self, name: str) -> str:
        """The lesson's run; fail if a cell failed, and return what its cells printed."""
        result = self(name)
        assert result.passed, f"{name} failed in cell {result.cell_index}: {result.error}"
        return outputs_text(result.output)


@pytest.fixture(scope="session")
def executed():
    """``executed("00_welcome.ipynb")`` waits for the lesson's run and returns its
    NotebookResult; ``executed.text(name)`` also checks that it passed and returns its text."""
    return _ExecutedNotebooks()


def outputs_text(notebook_path: str | Path) -> str:
    """All text a notebook's cells printed or displayed, joined: for asserting figures.

    The kernel sends a stream in pieces, cut wherever its flush timer fires, even inside one
    ``print`` (a run held "routes of the api application:" and " ['/predict']" as two outputs).
    Consecutive pieces of the same stream are joined as they are, as Jupyter shows them; only
    between different outputs does a newline go."""
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    parts, stream = [], None  # stream: the name of the stream the last part came from
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                if out.get("name") == stream:
                    parts[-1] += out.get("text", "")
                else:
                    parts.append(out.get("text", ""))
                stream = out.get("name")
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
                stream = None
        stream = None  # a new cell starts a new output area
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
@starts_ray
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
