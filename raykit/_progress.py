"""The learner's progress file: each exercise's status and each prediction, on their machine."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

HOME_ENV = "RAYKIT_HOME"
SOLVED, SOLUTION_USED, NOT_YET = "solved by you", "solution used", "not yet"
# A better status is never replaced by a worse one: solving it yourself once counts, even if a
# later Run All with the cell blank fills the solution in again.
_RANK = {NOT_YET: 0, SOLUTION_USED: 1, SOLVED: 2}
_VERSION = 1


def progress_path() -> Path:
    """``$RAYKIT_HOME/progress.json``, or ``~/.raykit/progress.json`` when the variable is unset."""
    home = os.environ.get(HOME_ENV)
    return (Path(home) if home else Path.home() / ".raykit") / "progress.json"


def now() -> str:
    """The local time with its offset, to the second: what the progress file records."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def split_id(exercise_id: str) -> tuple[str, str]:
    """``"01.fix-loop"`` -> ``("01", "fix-loop")``."""
    lesson, _, name = exercise_id.partition(".")
    return lesson, name


def load(path: Path | None = None) -> dict:
    """The progress file's content; an empty record when there is none or it cannot be read."""
    path = path or progress_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _empty()
    except (OSError, ValueError) as exc:
        log.warning("raykit: cannot read %s (%s); showing no progress", path, exc)
        return _empty()
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), dict):
        return _empty()
    return data


def record_exercise(exercise_id: str, status: str, when: str | None = None) -> None:
    """Record an exercise's outcome; the best status so far stays, the last one is kept too."""
    lesson, name = split_id(exercise_id)
    when = when or now()

    def change(data: dict) -> None:
        exercises = data["lessons"].setdefault(lesson, {}).setdefault("exercises", {})
        entry = exercises.get(name) or {"status": NOT_YET, "time": None, "attempts": 0}
        entry["attempts"] = int(entry.get("attempts", 0)) + 1
        entry["last_status"], entry["last_time"] = status, when
        if _RANK.get(status, 0) >= _RANK.get(entry.get("status"), 0):
            entry["status"], entry["time"] = status, when
        exercises[name] = entry

    _update(change)


def record_prediction(key: str, values: dict) -> None:
    """Merge ``values`` into the prediction ``key`` (``"01.speedup"``, or a question's text)."""
    lesson, name = split_id(key) if "." in key and " " not in key else ("other", key)

    def change(data: dict) -> None:
        predictions = data["lessons"].setdefault(lesson, {}).setdefault("predictions", {})
        predictions.setdefault(name, {}).update(values)

    _update(change)


def _empty() -> dict:
    return {"version": _VERSION, "lessons": {}}


def _update(change) -> None:
    """Read, change and atomically replace the file under a lock; never raises into a lesson."""
    path = progress_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_name(path.name + ".lock")):
            data = _read_for_update(path)
            change(data)
            # A temporary file in the same folder, then os.replace: a reader sees the old file
            # or the new one, never half of one.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(data, handle, indent=1, sort_keys=True)
                    handle.write("\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
    except OSError as exc:  # a read-only home must not stop a lesson
        log.warning("raykit: could not record progress in %s: %s", path, exc)


def _read_for_update(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _empty()
    except ValueError:
        # Keep the unreadable file for the learner to look at rather than overwrite it.
        kept = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        os.replace(path, kept)
        log.warning("raykit: %s was not valid JSON; kept it as %s and started afresh", path, kept)
        return _empty()
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), dict):
        data = _empty() | (data if isinstance(data, dict) else {})
        data["lessons"] = {}
    return data


@contextlib.contextmanager
def _locked(lock_path: Path):
    """An exclusive lock between processes (two kernels checking at once); none on Windows."""
    with open(lock_path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: os.replace alone keeps the file whole
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class ProgressReport:
    """Each exercise's status per lesson, as ``raykit progress`` prints it; shows as a table in a
    notebook. ``rows`` holds one dict per exercise (lesson, exercise, status, time, attempts)."""

    rows: list[dict] = field(default_factory=list)
    predictions: list[dict] = field(default_factory=list)
    path: str = ""

    def counts(self) -> dict[str, int]:
        """How many exercises have each status."""
        counts = {SOLVED: 0, SOLUTION_USED: 0, NOT_YET: 0}
        for row in self.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{len(self.rows)} exercises: {c[SOLVED]} solved by you, "
            f"{c[SOLUTION_USED]} with the solution, {c[NOT_YET]} not yet"
        )

    def table(self) -> str:
        """Plain text: a line per exercise, grouped by lesson, then a summary line."""
        if not self.rows:
            return f"No exercise checked yet (progress file: {self.path})."
        width = max(len("exercise"), *(len(r["exercise"]) for r in self.rows))
        lines = [f"{'lesson':<14}  {'exercise':<{width}}  {'status':<13}  when"]
        for row in self.rows:
            lines.append(
                f"{row['lesson_title']:<14}  {row['exercise']:<{width}}  {row['status']:<13}  "
                f"{row['time'] or '-'}"
            )
        lines.append(self.summary())
        for p in self.predictions:
            lines.append(f"prediction {p['lesson']}.{p['name']}: {p.get('verdict') or 'made'}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        from ._html import render

        return render("progress.html", rows=self.rows, summary=self.summary(), path=self.path)


def report(notebooks: str | Path | None = None) -> ProgressReport:
    """Build the progress table from the progress file, listing too the exercises of the lessons
    in ``notebooks`` (default: the kit's ``notebooks/`` when there is one) not tried yet."""
    from ._exercise import find_exercises
    from ._runner import discover_notebooks

    data = load()
    known: dict[str, str] = {}  # lesson number -> notebook stem
    order: list[tuple[str, str]] = []
    try:
        paths = discover_notebooks(notebooks)
    except Exception:  # no notebooks folder: show what the file holds
        paths = []
    for path in paths:
        try:
            found = find_exercises(path)
        except Exception:  # a notebook being edited must not break the table
            continue
        known[path.name[:2]] = path.stem
        order += [split_id(e.id) for e in found]
    recorded = data["lessons"]
    for lesson in sorted(recorded):
        for name in (recorded[lesson] or {}).get("exercises", {}):
            if (lesson, name) not in order:
                order.append((lesson, name))
    order.sort(key=lambda pair: pair[0])  # stable: a lesson's exercises keep notebook order
    rows = []
    for lesson, name in order:
        entry = ((recorded.get(lesson) or {}).get("exercises") or {}).get(name) or {}
        rows.append(
            {
                "lesson": lesson,
                "lesson_title": known.get(lesson, lesson),
                "exercise": name,
                "id": f"{lesson}.{name}",
                "status": entry.get("status", NOT_YET),
                "time": entry.get("time"),
                "attempts": entry.get("attempts", 0),
            }
        )
    predictions = [
        {"lesson": lesson, "name": name, **values}
        for lesson in sorted(recorded)
        for name, values in ((recorded[lesson] or {}).get("predictions") or {}).items()
    ]
    return ProgressReport(rows=rows, predictions=predictions, path=str(progress_path()))


def my_progress(notebooks: str | Path | None = None) -> ProgressReport:
    """Your progress through the exercises, per lesson: solved by you, solution used, not yet.

    Read from the progress file on this machine (``~/.raykit/progress.json``, or under
    ``$RAYKIT_HOME``), which every exercise check updates. In a notebook it shows as a table;
    ``print()`` it for text, or read ``.rows``.

    Parameters
    ----------
    notebooks
        Folder of lessons whose exercises are listed even when not tried yet; the kit's
        ``notebooks/`` by default.

    Returns
    -------
    ProgressReport
    """
    from .exceptions import ConfigError

    if notebooks is not None and (
        not isinstance(notebooks, str | os.PathLike) or not Path(notebooks).is_dir()
    ):
        raise ConfigError(
            f"notebooks={notebooks!r} is not a folder of lessons: pass the folder that holds "
            "the .ipynb files, or leave it out for the kit's notebooks/."
        )
    return report(notebooks)


def progress_command(args) -> int:
    """``raykit progress``: print the table (or ``--json`` rows); always exits 0."""
    result = report()
    if getattr(args, "json", False):
        print(
            json.dumps(
                {"path": result.path, "exercises": result.rows, "predictions": result.predictions},
                indent=2,
            )
        )
    else:
        print(result.table())
    return 0
