"""Runs notebooks with papermill in fresh kernels and reports each one's status and seconds."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import _ray_private, _timing
from .exceptions import NotebookError

SMOKE_ENV = "RAYKIT_SMOKE"
DEFAULT_CELL_TIMEOUT_S = 900


@dataclass
class NotebookResult:
    """The outcome of one notebook run."""

    notebook: str
    output: str
    status: str  # "passed" or "failed"
    seconds: float
    error: str | None = None
    cell_index: int | None = None
    cell_source: str | None = None
    # Of ``seconds``, how long the kit's Ray starts took (raykit.init, MiniCluster nodes; a
    # plain ray.init() in a lesson is not counted): the part that is Ray's fixed cost.
    ray_start_seconds: float = 0.0
    # The calls into Ray's libraries (Train's and Tune's fit, Serve's start and run, RLlib's
    # build and train) as ``{label: [calls, seconds]}``: their start-up and the work they ran.
    library_calls: dict[str, list[float]] = field(default_factory=dict)

    @property
    def library_seconds(self) -> float:
        return _timing.calls_seconds(self.library_calls)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class RunReport:
    """All results of one :func:`run_notebooks` call, as a table, JSON or JUnit XML."""

    results: list[NotebookResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.results)

    def table(self) -> str:
        """A plain-text table of notebook, status and seconds, with a total line."""
        width = max([len("notebook")] + [len(r.notebook) for r in self.results])
        lines = [f"{'notebook':<{width}}  status  seconds  {RAY_COLUMNS}"]
        for r in self.results:
            lines.append(
                f"{r.notebook:<{width}}  {r.status:<6}  {r.seconds:7.1f}  "
                f"{ray_columns(r.seconds, r.ray_start_seconds, r.library_calls)}"
            )
        total = sum(r.seconds for r in self.results)
        starts = sum(r.ray_start_seconds for r in self.results)
        libraries = sum(r.library_seconds for r in self.results)
        passed = sum(r.passed for r in self.results)
        lines.append(
            f"{passed} passed, {len(self.results) - passed} failed in {total:.1f} s, "
            f"{starts:.1f} s of it starting Ray {_share(starts, total)}, "
            f"{libraries:.1f} s in Ray's libraries {_share(libraries, total)}"
        )
        return "\n".join(lines)

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps([asdict(r) for r in self.results], indent=2) + "\n")

    def write_junit(self, path: str | Path) -> None:
        failures = sum(not r.passed for r in self.results)
        suite = ET.Element(
            "testsuite",
            name="raykit notebooks",
            tests=str(len(self.results)),
            failures=str(failures),
            time=f"{sum(r.seconds for r in self.results):.3f}",
        )
        for r in self.results:
            case = ET.SubElement(
                suite, "testcase", classname="notebooks", name=r.notebook, time=f"{r.seconds:.3f}"
            )
            if not r.passed:
                failure = ET.SubElement(case, "failure", message=(r.error or "").splitlines()[0])
                failure.text = _describe_failure(r)
        ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def discover_notebooks(folder: str | Path | None = None) -> list[Path]:
    """Return the lesson notebooks in ``folder`` (default ``notebooks/``) in learning order."""
    folder = Path(folder) if folder else _default_notebook_dir()
    if not folder.is_dir():
        raise NotebookError(f"no notebooks folder at {folder}. Name the notebooks to run instead.")
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def check_notebook(path: str | Path) -> Path:
    """Return ``path`` if it is a notebook with a cell tagged ``parameters``; else NotebookError."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(
            f"notebook not found: {path}. Check the path (run from the kit's root)."
        )
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several types for unreadable files
        raise NotebookError(f"{path} is not a readable notebook: {exc}") from None
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
        raise NotebookError(
            f"{path} has no cell tagged 'parameters'. Tag the cell holding its sizes "
            "(JupyterLab: property inspector > Cell Tags) so the runner can set them."
        )
    return path


def run_notebooks(
    notebooks: Iterable[str | Path] | None = None,
    *,
    parameters: Mapping[str, object] | None = None,
    smoke: bool = False,
    timeout: int = DEFAULT_CELL_TIMEOUT_S,
    output_dir: str | Path = "executed",
    kernel_name: str | None = None,
    echo: bool = True,
) -> RunReport:
    """Execute notebooks in order, each in a fresh kernel, and report how each went.

    Parameters
    ----------
    notebooks
        Paths to run; all of ``notebooks/`` in order when ``None``. Each is checked before any
        runs, so a typo fails at once instead of after the first lesson.
    parameters
        Values injected after the cell tagged ``parameters`` (papermill's mechanism).
    smoke
        Small mode: passes ``SMOKE=True`` as a parameter (unless ``parameters`` sets ``SMOKE``),
        as ``papermill -p SMOKE True`` does, and sets ``RAYKIT_SMOKE=1`` for the kernels, which
        a lesson's ``SMOKE = None`` follows (``raykit.small_mode``). The cell after a lesson's
        parameters cell derives the sizes left ``None`` from ``SMOKE`` (``raykit.given``).
    timeout
        Seconds any one cell may run before it fails.
    output_dir
        Folder for the executed copies (same file names).
    echo
        Print a line per notebook as it finishes, and a failing cell's source and error.
    """
    paths = [check_notebook(p) for p in (discover_notebooks() if notebooks is None else notebooks)]
    if not paths:
        raise NotebookError("no notebooks to run.")
    params = dict(parameters or {})
    if smoke:
        params.setdefault("SMOKE", True)
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    report = RunReport()
    with _environment(_kernel_environment(smoke)):
        for path in paths:
            starts = out_dir / f"{path.stem}.ray-start.jsonl"
            starts.unlink(missing_ok=True)
            with _environment({_timing.STARTUP_LOG_ENV: str(starts.resolve())}):
                result = _execute(path, out_dir / path.name, params, timeout, kernel_name)
            result.ray_start_seconds = _timing.startup_seconds(starts)
            result.library_calls = _timing.library_calls(starts)
            report.results.append(result)
            if echo:
                print(f"{result.status:<6} {result.seconds:7.1f} s  {path}", flush=True)
                if not result.passed:
                    print(_describe_failure(result), flush=True)
    return report


def _execute(
    path: Path,
    output: Path,
    params: Mapping[str, object],
    timeout: int,
    kernel_name: str | None,
    allow_errors: bool = False,
) -> NotebookResult:
    """Run one notebook with papermill into ``output``; a failure is recorded, not raised. With
    ``allow_errors`` every cell runs even after one fails; the first error is still reported."""
    import papermill

    start = time.perf_counter()
    result = NotebookResult(str(path), str(output), "passed", 0.0)
    try:
        with kernel_sockets() as config:
            papermill.execute_notebook(
                str(path),
                str(output),
                parameters=dict(params),
                kernel_name=kernel_name,
                execution_timeout=timeout,
                progress_bar=False,
                cwd=str(path.parent),
                allow_errors=allow_errors,
                config=config,
            )
    except papermill.PapermillExecutionError as exc:
        result.status = "failed"
        result.error = f"{exc.ename}: {exc.evalue}"
        result.cell_index = exc.cell_index
        result.cell_source = exc.source
    except Exception as exc:  # kernel died, cell timeout, unreadable output...
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _share(part: float, whole: float) -> str:
    return f"({100 * part / whole:.0f}%)" if whole else ""


RAY_COLUMNS = "ray start      in Ray's libraries"  # the header over ``ray_columns``


def ray_columns(seconds: float, ray_start: float, calls: dict[str, list[float]]) -> str:
    """``"  4.1 s (5%)      62.6 s (82%)   Train fit 3x 62.6 s"``: of a run's seconds, those
    starting Ray and those in Ray's libraries, with the calls; in the runner's table and the
    suite's lesson summary."""
    library = _timing.calls_seconds(calls)
    called = ", ".join(f"{label} {n:g}x {s:.1f} s" for label, (n, s) in calls.items())
    return (
        f"{ray_start:6.1f} s {_share(ray_start, seconds):<6}  "
        f"{library:6.1f} s {_share(library, seconds):<6}  {called}"
    ).rstrip()


def _describe_failure(result: NotebookResult) -> str:
    lines = [f"  {result.notebook} failed"]
    if result.cell_index is not None:
        lines[0] += f" in cell {result.cell_index}:"
        lines += [f"    | {line}" for line in (result.cell_source or "").splitlines()]
    lines.append(f"  {result.error}")
    return "\n".join(lines)


def _default_notebook_dir() -> Path:
    here = Path("notebooks")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "notebooks"


def _kernel_environment(smoke: bool) -> dict[str, str]:
    """What the lessons' kernels get: small mode when asked, and Ray's single-host mode when the
    lessons start local clusters (no ``RAY_ADDRESS``), so that even a plain ``ray.init()`` in a
    lesson listens on 127.0.0.1 only, as ``raykit.init()`` does. The commands installed beside
    this Python (``ray``, ``serve``) come first on ``PATH``, so ``!ray status`` in a cell runs
    the Ray the kernel imports, as in an activated virtual environment."""
    values = {SMOKE_ENV: "1"} if smoke else {}
    if not os.environ.get("RAY_ADDRESS"):
        values[_ray_private.SINGLE_HOST_ENV] = "0"
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        values["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir
    return values


@contextmanager
def kernel_sockets():
    """Jupyter config for the kernels started inside the block: their ZMQ sockets are files in a
    private folder (``ipc``), not TCP ports. A TCP port jupyter_client picks is free when it
    looks, but a Ray cluster or another kernel starting at the same moment can bind it first: the
    kernel then dies with "Address already in use" and the run fails before its first cell (seen
    in this project's CI, lessons running in parallel). Windows has no ipc transport: TCP there."""
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    # Short: a socket path has at most 107 characters; the kernel adds "-1" to "-5".
    with tempfile.TemporaryDirectory(prefix="rk-kernel-") as folder:
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "k")}})


@contextmanager
def _environment(values: Mapping[str, str]):
    """Set environment variables for the kernels started inside the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def save_and_print(report, output_dir: Path, json_name: str) -> None:
    """What ``raykit run`` and ``raykit grade`` do with their report: JSON and JUnit XML beside
    the executed notebooks, then the table."""
    report.write_json(output_dir / json_name)
    report.write_junit(output_dir / "junit.xml")
    print()
    print(report.table())
    print(f"executed notebooks, {json_name} and junit.xml in {output_dir}/")
