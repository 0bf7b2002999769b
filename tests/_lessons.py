"""Each lesson run once per test session, with every exercise's variants, lessons in parallel.

One run serves two kinds of tests. The lesson's cells run in order in one kernel (nbclient, the
engine papermill drives), and at each exercise every variant runs in turn: each wrong answer of
tests/exercise_wrong_answers.py (solutions off), the blank cell (solutions on), then the
solution's code typed in, so that the lesson goes on with a right answer of the learner's. The
run leaves two notebooks: ``<out>/<lesson>``, the lesson with its outputs (in the exercise cells,
the blank variant's where it ran here, else the typed one's), which the lesson tests read; and
``<out>/variants/<lesson>``, every cell that ran, each variant's cells marked in their metadata.

The blank variant is a plain Run All's: the lessons of ``SERIES`` run exactly so, blank and with
solutions on, in tests/test_series_ray_address.py, and tests/test_exercises.py reads their
blank exercises there. Running the blank variant here too ran each solution twice: for lesson 12
278 s of a 680 s run (2026-12-06). Only the lessons the series leaves out run it here.

Before, the suite ran every lesson twice (papermill, then the variants): half of its time.
``LessonPool`` runs lessons in subprocesses, ``jobs`` at a time, each on a cluster of its own
(raykit's port isolation makes that safe), the longest first; lesson 09 waits for 08, whose model
it serves. Run one by hand: ``python tests/_lessons.py OUT_DIR notebooks/01_tasks.ipynb``, the
series (or one part of it) with
``python tests/_lessons.py OUT_DIR --series ray-address-series-1 notebooks/00_welcome.ipynb ...``.

Every run also leaves a copy of the executed lesson and its summary in ``build/executed/``
(``RAYKIT_EXECUTED_DIR``), a stable folder that ``make site`` builds the course site from.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from _kernel import CellRun

from raykit import _timing

TESTS = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 900
LESSON_TIMEOUT_S = 3600
# A lesson that reads what an earlier one leaves in RAYKIT_RESULTS starts after it.
NEEDS = {"09_serve.ipynb": ["08_tune.ipynb"]}
# The lessons the RAY_ADDRESS series runs plainly (tests/test_series_ray_address.py). Lesson 05
# is left out: it starts a multi-node MiniCluster of its own whatever RAY_ADDRESS names (starting
# nodes is what it teaches), and run beside the user's cluster, its 05.comeback solution once found
# its target node gone (TaskUnschedulableError, 2026-12-04): a lesson-05 fault to fix on its own.
NOT_IN_SERIES = {"05_cluster.ipynb"}


def in_series(path: Path) -> bool:
    """Whether the RAY_ADDRESS series runs this lesson (and so its blank exercises)."""
    return path.name not in NOT_IN_SERIES


def series_lessons(notebooks: Path) -> list[Path]:
    """The lessons of the RAY_ADDRESS series, in order."""
    return [p for p in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")) if in_series(p)]


# What Ray raises when a new node does not register with its GCS in the 30 s Ray allows.
RAY_START_TIMED_OUT = "The current node timed out during startup"

# The pool's name for the series jobs: queued after every lesson, so that they take the first slots
# the lessons leave free instead of waiting for the last of them (2026-12-06: CPU-bound with two
# lessons, the series alone left half the machine idle for its 21 minutes). In SERIES_PARTS parts,
# each against a user's cluster of its own: as one job, the series ran its last 9 of 15 minutes
# alone, one slot idle (2026-12-07).
SERIES = "ray-address-series"
SERIES_PARTS = 2


def is_series(name: str) -> bool:
    """Whether the pool's job ``name`` is a part of the series."""
    return name.startswith(SERIES)


def series_parts(lessons: list[Path], parts: int = SERIES_PARTS) -> dict[str, list[Path]]:
    """The series split into ``parts`` jobs of about equal recorded time (the longest first, each
    to the part with the least so far), a lesson always in the part of the one it ``NEEDS``; each
    part keeps the lessons' order. Named ``<SERIES>-1``, ``-2``...; no empty part."""
    groups: dict[str, list[Path]] = {}
    for path in lessons:
        head = next((n for n in NEEDS.get(path.name, []) if n in groups), path.name)
        groups.setdefault(head, []).append(path)
    timed = [(sum(map(_recorded_seconds, g)), g) for g in groups.values()]
    timed.sort(key=lambda item: -item[0])  # stable: equal times keep the lessons' order
    loads = [[0.0, []] for _ in range(max(1, parts))]
    for seconds, group in timed:
        least = min(loads, key=lambda load: load[0])
        least[0] += seconds
        least[1].extend(group)
    filled = [sorted(paths, key=lessons.index) for _, paths in loads if paths]
    return {f"{SERIES}-{i}": paths for i, paths in enumerate(filled, start=1)}


def run_series(lessons: list[Path], out_dir: Path, name: str = SERIES) -> dict:
    """The lessons under the kit's runner, in small mode, one after another, with RAY_ADDRESS
    naming a MiniCluster started here (the user's cluster: two CPUs and a store that Ray Data,
    Train and Serve can work in), every exercise blank with solutions on: a learner's Run All, and
    a team's CI against its own cluster. Writes ``<out>/<name>.json``."""
    import ray

    import raykit
    from raykit._runner import run_notebooks

    folder = out_dir / name
    # Its own results folder: lessons 07-09 hand models on through it, and the pool's run beside
    # this one must not read this one's.
    os.environ["RAYKIT_RESULTS"] = str(folder / "results")
    os.environ.pop("RAYKIT_SOLUTIONS", None)
    with raykit.MiniCluster(num_cpus=2, object_store_memory=600 * 2**20) as users:
        os.environ["RAY_ADDRESS"] = users.address
        report = run_notebooks(lessons, smoke=True, output_dir=folder, echo=True)
        print(report.table(), flush=True)
        after = os.environ.get("RAY_ADDRESS")
        ray.init(address=users.address)  # is the user's cluster still there, as it was?
        try:
            cpus = ray.cluster_resources().get("CPU")
        finally:
            ray.shutdown()
    summary = {
        "address": users.address,
        "lessons": [p.name for p in lessons],
        "cpus_after": cpus,
        "ray_address_after": after,
        "results": [asdict(r) for r in report.results],
    }
    (out_dir / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


VARIANT_KEY = "raykit_variant"  # cell metadata: {"id", "variant", "role"}
LESSON_INDEX_KEY = "raykit_lesson_index"  # cell metadata: the cell's index in the lesson
# The executed lessons the course site is built from (site/build_site.py reads this folder).
EXECUTED_DIR = Path(os.environ.get("RAYKIT_EXECUTED_DIR") or TESTS.parent / "build" / "executed")


# --- one lesson (runs in a subprocess of the pool) --------------------------------------------


def variant_notebook(path: Path, blank: bool = True):
    """The lesson's cells, with each exercise's three cells replaced by one group of cells per
    variant: reset the exercise's names and switch solutions on or off, the learner's cell, the
    solution cell, the check. ``blank=False`` leaves out the blank variant (see the top)."""
    from exercise_wrong_answers import WRONG_ANSWERS

    from raykit._exercise import find_exercises

    nb = nbformat.read(path, as_version=4)
    exercises = {
        ex.check_index: ex for ex in find_exercises(nb) if not ex.problems and ex.check_index
    }
    replaced = {i for ex in exercises.values() for i in (ex.exercise_index, ex.solution_index)}
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or index in replaced:
            continue
        ex = exercises.get(index)
        if ex is None:
            cells.append(_cell(cell.source, **{LESSON_INDEX_KEY: index}))
            continue
        variants = [(f"wrong-{n}", wrong, "off") for n, wrong in enumerate(WRONG_ANSWERS[ex.id])]
        if blank:
            variants.append(("blank", nb.cells[ex.exercise_index].source, "on"))
        variants.append(("typed", ex.solution_code, "off"))  # last: the lesson goes on with it
        for variant, learner_source, solutions in variants:
            # A fresh start for this exercise's names, so one variant's answer cannot pass another.
            cells.append(
                _cell(
                    f"for _name in {json.dumps(ex.names)}:\n    globals().pop(_name, None)\n"
                    f"__import__('os').environ['RAYKIT_SOLUTIONS'] = {solutions!r}"
                )
            )
            for role, source in (
                ("learner", learner_source),
                ("solution", nb.cells[ex.solution_index].source),
                ("check", cell.source),
            ):
                mark = {"id": ex.id, "variant": variant, "role": role}
                cells.append(_cell(source, allow_error=True, **{VARIANT_KEY: mark}))
        cells.append(_cell("__import__('os').environ['RAYKIT_SOLUTIONS'] = 'on'"))
    derived = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    return nb, derived


def _cell(source: str, allow_error: bool = False, **metadata):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.update(metadata)
    if allow_error:  # nbclient runs on after an error in such a cell (a wrong answer's check)
        cell.metadata["tags"] = ["raises-exception"]
    return cell


def run_lesson(path: Path, out_dir: Path) -> dict:
    """Run ``path`` with its variants; write both notebooks and ``<lesson>.json`` (the summary)."""
    from nbclient import NotebookClient

    from raykit._runner import _environment, _kernel_environment, kernel_sockets

    lesson, derived = variant_notebook(path, blank=not in_series(path))
    summary = {"lesson": path.name, "failed": None, "last_cell": None, "seconds": None}
    start = time.perf_counter()
    with _environment({**_kernel_environment(smoke=True), "RAYKIT_SOLUTIONS": "on"}):
        with kernel_sockets() as config:
            client = NotebookClient(
                derived,
                timeout=CELL_TIMEOUT_S,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
                config=config,
            )
            with client.setup_kernel():
                _run_cells(client, derived, summary)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    _fill_outputs(lesson, derived)
    (out_dir / "variants").mkdir(parents=True, exist_ok=True)
    nbformat.write(derived, out_dir / "variants" / path.name)
    nbformat.write(lesson, out_dir / path.name)
    (out_dir / f"{path.stem}.json").write_text(json.dumps(summary, indent=1) + "\n")
    keep_for_site(out_dir, path)
    return summary


def _run_cells(client, derived, summary: dict) -> None:
    """Run the cells in order; at the first failure record where and why, then clean up."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    for index, cell in enumerate(derived.cells):
        try:
            client.execute_cell(cell, index)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            where = cell.metadata.get(LESSON_INDEX_KEY, cell.metadata.get(VARIANT_KEY))
            summary["failed"] = [where, type(exc).__name__, str(exc)[-2000:]]
            _clean_up(client, derived)
            break
        if LESSON_INDEX_KEY in cell.metadata:
            summary["last_cell"] = cell.metadata[LESSON_INDEX_KEY]
    client.set_widgets_metadata()


def keep_for_site(out_dir: Path, path: Path) -> None:
    """Copy the executed lesson and its summary to EXECUTED_DIR, each file replaced whole."""
    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    for name in (path.name, f"{path.stem}.json"):
        partial = EXECUTED_DIR / f".{name}.partial"
        shutil.copy2(out_dir / name, partial)
        os.replace(partial, EXECUTED_DIR / name)


def _clean_up(client, derived) -> None:
    """After a failed cell, the lesson's last cell (its clean-up) still runs: no Ray left."""
    last = nbformat.v4.new_code_cell(derived.cells[-1].source)
    for cell in reversed(derived.cells):
        if LESSON_INDEX_KEY in cell.metadata:
            last = nbformat.v4.new_code_cell(cell.source)
            break
    try:
        client.execute_cell(last, len(derived.cells))
    except Exception:  # noqa: BLE001 - a kernel that died has nothing left to stop
        pass


def _fill_outputs(lesson, derived) -> None:
    """Copy outputs into the lesson's own cells; into the exercise cells, the blank variant's
    (what a plain papermill run shows, the kit's solution filling in) where it ran, else the typed
    one's: its check's, and its answer's under the (hidden) solution cell, so that the learner's
    cell stays blank as the lesson has it."""
    from raykit._exercise import find_exercises

    by_index = {
        c.metadata[LESSON_INDEX_KEY]: c for c in derived.cells if LESSON_INDEX_KEY in c.metadata
    }
    ran: dict[tuple[str, str], dict] = {}  # (exercise id, variant): {role: cell}
    for c in derived.cells:
        mark = c.metadata.get(VARIANT_KEY, {})
        if mark.get("variant") in ("blank", "typed"):
            ran.setdefault((mark["id"], mark["variant"]), {})[mark["role"]] = c
    for ex in find_exercises(lesson):
        roles = ran.get((ex.id, "blank"))
        if roles is None and (ex.id, "typed") in ran:
            typed = ran[ex.id, "typed"]
            roles = {
                "learner": _no_outputs(),
                "solution": typed["learner"],
                "check": typed["check"],
            }
        for role, index in (
            ("learner", ex.exercise_index),
            ("solution", ex.solution_index),
            ("check", ex.check_index),
        ):
            if roles and role in roles and index is not None:
                by_index[index] = roles[role]
    for index, cell in enumerate(lesson.cells):
        if cell.cell_type == "code" and index in by_index:
            cell.outputs = by_index[index].get("outputs", [])
            cell.execution_count = by_index[index].get("execution_count")
    lesson.metadata = derived.metadata


def _no_outputs():
    return nbformat.v4.new_code_cell("")


# --- what the tests read ------------------------------------------------------------------------


@dataclass
class LessonRun:
    """One lesson's run: the summary, the executed lesson and the variants' cells."""

    path: Path  # the executed lesson
    summary: dict
    variants: dict = field(default_factory=dict)  # {exercise id: {variant: {role: CellRun}}}

    @property
    def passed(self) -> bool:
        return self.summary.get("failed") is None

    @classmethod
    def load(cls, out_dir: Path, name: str) -> LessonRun:
        summary_file = out_dir / f"{Path(name).stem}.json"
        if not summary_file.is_file():  # the run's process ended before its summary: say why
            log = out_dir / f"{Path(name).stem}.log"
            tail = log.read_text(errors="replace")[-1500:] if log.is_file() else "(no log)"
            why = f"the lesson run wrote nothing; its log ends:\n{tail}"
            return cls(out_dir / name, {"failed": [None, "NoRun", why]})
        run = cls(out_dir / name, json.loads(summary_file.read_text()))
        variants_file = out_dir / "variants" / name
        if variants_file.is_file():
            for cell in nbformat.read(variants_file, as_version=4).cells:
                mark = cell.metadata.get(VARIANT_KEY)
                if mark:
                    by_variant = run.variants.setdefault(mark["id"], {})
                    by_variant.setdefault(mark["variant"], {})[mark["role"]] = CellRun.of(cell)
        return run


class LessonPool:
    """Runs lessons in subprocesses, ``jobs`` at a time, and hands each test its lesson's run.

    ``prefetch`` queues lessons (the longest first); ``get`` queues one if it is not yet and
    waits for it. Each lesson gets its own Ray temp dir under ``ray_tmp``, so its clusters are
    told apart from the suite's, and the progress file and results folder the suite chose.
    """

    def __init__(self, out_dir: Path, ray_tmp: str, jobs: int = 2):
        self.out_dir = out_dir
        self.ray_tmp = ray_tmp
        self.jobs = max(1, jobs)
        self.queued: list[Path] = []
        self.running: dict[str, subprocess.Popen] = {}
        self.done: dict[str, LessonRun] = {}
        self.seconds: dict[str, float] = {}
        self.ray_start: dict[str, float] = {}  # of those seconds, the kit's Ray start-ups
        self.library_calls: dict[str, dict] = {}  # and the calls into Ray's libraries
        self.lock = threading.Condition()
        self.series_parts: dict[str, list[Path]] = {}  # job name: its lessons
        self.retried: dict[str, str] = {}  # lesson: why its first run was run again
        self.thread: threading.Thread | None = None
        # The environment as the session began: tests running meanwhile set variables for a
        # while (RAY_ADDRESS to a MiniCluster of theirs, or to a port where nothing listens),
        # and a lesson started then must not inherit them.
        self.env = dict(os.environ)

    def prefetch(self, paths) -> None:
        with self.lock:
            known = {p.name for p in self.queued} | set(self.running) | set(self.done)
            for path in paths:
                for need in NEEDS.get(path.name, []):
                    if need not in known:
                        self.queued.append(path.parent / need)
                        known.add(need)
                if path.name not in known:
                    self.queued.append(path)
                    known.add(path.name)
            self.queued.sort(key=_expected_seconds, reverse=True)
            if self.thread is None:
                self.thread = threading.Thread(target=self._schedule, daemon=True)
                self.thread.start()
            self.lock.notify_all()

    def get(self, path: Path) -> LessonRun:
        self.prefetch([path])
        with self.lock:
            while path.name not in self.done:
                self.lock.wait(timeout=5)
            return self.done[path.name]

    def passed(self, name: str) -> bool:
        """Whether the lesson (or a part of the series: every lesson of it) ran to its end."""
        if not is_series(name):
            return self.done[name].passed
        try:
            return all(r["status"] == "passed" for r in self._part_summary(name)["results"])
        except AssertionError:
            return False

    def prefetch_series(self, lessons: list[Path]) -> None:
        """Queue the RAY_ADDRESS series of ``lessons`` (once), in parts, after every lesson."""
        with self.lock:
            if not self.series_parts:
                self.series_parts = series_parts(lessons)
            names = list(self.series_parts)
        self.prefetch([Path(name) for name in names])

    def get_series(self) -> list[dict]:
        """Wait for every part of the series and return their summaries (see ``run_series``)."""
        with self.lock:
            while not set(self.series_parts) <= set(self.done):
                self.lock.wait(timeout=5)
        return [self._part_summary(name) for name in self.series_parts]

    def _part_summary(self, name: str) -> dict:
        summary_file = self.out_dir / f"{name}.json"
        if not summary_file.is_file():
            log = self.out_dir / f"{name}.log"
            tail = log.read_text(errors="replace")[-3000:] if log.is_file() else "(no log)"
            raise AssertionError(f"{name} wrote no summary; its log ends:\n{tail}")
        return json.loads(summary_file.read_text())

    def _ready(self, path: Path) -> bool:
        return all(need in self.done for need in NEEDS.get(path.name, []))

    def _record_ray_figures(self, name: str) -> None:
        """A finished job's seconds starting Ray and in Ray's libraries, from its log. A part of
        the series runs its lessons under the kit's runner, which gives each lesson a log of its
        own: its summary's per-lesson figures are added to the part's (its user's cluster)."""
        starts = self.out_dir / f"{Path(name).stem}.ray-start.jsonl"
        self.ray_start[name] = _timing.startup_seconds(starts)
        calls = self.library_calls[name] = _timing.library_calls(starts)
        summary = self.out_dir / f"{name}.json"
        if not is_series(name) or not summary.is_file():
            return
        for result in json.loads(summary.read_text())["results"]:
            self.ray_start[name] = round(self.ray_start[name] + result["ray_start_seconds"], 2)
            _timing.add_calls(calls, result["library_calls"])

    def _start_timed_out_first_time(self, run: LessonRun) -> bool:
        """Whether the run failed because Ray's own start timed out, for the first time: then
        it runs once more. Ray 2.60 gives a new node 30 s to register with its GCS, a wait it
        hard-codes (ray/_private/node.py); on this 2-core host, with two lessons and the unit
        tests' clusters starting at once, lesson 00's plain ``ray.init()`` once took longer
        (2026-12-06). Not a fault of the lesson; a second time in one session fails the lesson.
        The first try's summary and log are kept as ``<lesson>.first-try.*``, and the test
        summary names the lesson."""
        name = run.path.name
        if run.passed or name in self.retried or RAY_START_TIMED_OUT not in str(run.summary):
            return False
        stem = Path(name).stem
        for suffix in (".json", ".log"):
            first = self.out_dir / f"{stem}{suffix}"
            if first.is_file():
                os.replace(first, self.out_dir / f"{stem}.first-try{suffix}")
        self.retried[name] = "Ray's start-up timed out (node.py: 30 s)"
        return True

    def _schedule(self) -> None:
        started: dict[str, float] = {}
        paths: dict[str, Path] = {}
        while True:
            with self.lock:
                for name, proc in list(self.running.items()):
                    if proc.poll() is not None:
                        del self.running[name]
                        self.seconds[name] = round(time.perf_counter() - started[name], 1)
                        self._record_ray_figures(name)
                        run = None if is_series(name) else LessonRun.load(self.out_dir, name)
                        if run is not None and self._start_timed_out_first_time(run):
                            self.queued.insert(0, paths[name])  # once more, before the rest
                            continue
                        self.done[name] = run
                        self.lock.notify_all()
                while len(self.running) < self.jobs:
                    ready = [p for p in self.queued if self._ready(p)]
                    if not ready:
                        break
                    path = ready[0]
                    self.queued.remove(path)
                    paths[path.name] = path
                    started[path.name] = time.perf_counter()
                    self.running[path.name] = self._start(path)
            time.sleep(1)

    def run_processes(self) -> set[int]:
        """The PIDs of the runs going on: each run's subprocess and all it started, and the
        processes naming a run's Ray temp dir (a MiniCluster's daemons leave its process tree).
        They are this pytest process's descendants too, but none of a unit test's cluster."""
        with self.lock:
            roots = [proc.pid for proc in self.running.values()]
            dirs = [self._run_tmp(name) + os.sep for name in {*self.running, *self.done}]
        return set(process_trees(dirs, roots))

    def _run_tmp(self, name: str) -> str:
        short = f"s{name.rsplit('-', 1)[-1]}" if is_series(name) else name[:2]
        return os.path.join(self.ray_tmp, short)  # short: socket paths <= 107 chars

    def _start(self, path: Path) -> subprocess.Popen:
        ray_tmp = self._run_tmp(path.name)
        os.makedirs(ray_tmp, exist_ok=True)
        log = open(self.out_dir / f"{path.stem}.log", "w")  # noqa: SIM115 - the child writes it
        starts = self.out_dir / f"{path.stem}.ray-start.jsonl"
        starts.unlink(missing_ok=True)
        lessons = self.series_parts.get(path.name)
        args = [str(path)] if lessons is None else ["--series", path.name, *map(str, lessons)]
        return subprocess.Popen(
            [sys.executable, str(Path(__file__)), str(self.out_dir), *args],
            env=self.lesson_env(ray_tmp, starts),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def lesson_env(self, ray_tmp: str, starts: Path) -> dict[str, str]:
        """A lesson run's environment: the session's as it began, its own Ray temp dir and
        start-up log."""
        return {**self.env, "RAY_TMPDIR": ray_tmp, _timing.STARTUP_LOG_ENV: str(starts)}

    def stop(self) -> None:
        """End runs still going (a test session cut short). SIGINT first: the run then shuts
        its kernel down, whose exit stops the lesson's cluster."""
        with self.lock:
            self.queued.clear()
            for proc in self.running.values():
                proc.send_signal(signal.SIGINT)
            for proc in self.running.values():
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.running.clear()


def process_trees(texts: list[str], roots: list[int] = ()) -> dict:
    """``{pid: psutil.Process}`` of the processes whose command line holds one of ``texts``, of
    ``roots``, and of all their descendants (Ray's workers rename themselves)."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid in roots or any(t in " ".join(proc.info["cmdline"] or []) for t in texts):
            found[proc.pid] = proc
    for proc in list(found.values()):
        try:
            found.update({c.pid: c for c in proc.children(recursive=True)})
        except psutil.Error:
            pass
    return found


def _expected_seconds(path: Path) -> float:
    """How long the lesson took when its time was last measured (recorded in its metadata);
    the chain a lesson heads (08 before 09) counts whole. The series goes last (-1)."""
    if is_series(path.name):
        return -1.0
    seconds = _recorded_seconds(path)
    for name, needs in NEEDS.items():
        if path.name in needs:
            seconds += _recorded_seconds(path.parent / name)
    return seconds


def _recorded_seconds(path: Path) -> float:
    try:
        meta = nbformat.read(path, as_version=4).metadata.get("raykit", {})
    except OSError:
        return 0.0
    return float(meta.get("run_seconds", 0.0))


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    # A SIGTERM (a CI job cancelled) also shuts the kernel down on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if sys.argv[2] == "--series":
        run_series([Path(p) for p in sys.argv[4:]], out, name=sys.argv[3])
    else:
        print(json.dumps(run_lesson(Path(sys.argv[2]), out)), flush=True)
