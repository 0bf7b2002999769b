"""A lesson's time for a learner, from a reading-and-doing model; keeps the stated times true.

    python scripts/lesson_times.py                   # the table: stated vs modelled minutes
    python scripts/lesson_times.py --record OUT_DIR  # run seconds from `raykit run`'s copies
                                   [--mode small]    # ... of a small-mode run
    python scripts/lesson_times.py --write           # set each "**Time:** about N minutes"

The model adds up what a learner does, at plain rates: reading the text (technical prose at 200
words a minute), reading and running the code (6 s a line, 10 lines a minute), each exercise (3
minutes to think plus 30 s per line the solution has: two lines a minute), each prediction
(1 minute) and waiting for the cells to run (the seconds papermill measured in a real run of the
lesson, recorded in the notebook's metadata by ``--record``). tests/test_lesson_times.py keeps
every stated time within 20% of the model.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

READ_WORDS_PER_MIN = 200
CODE_S_PER_LINE = 6
EXERCISE_BASE_MIN = 3.0
EXERCISE_MIN_PER_SOLUTION_LINE = 0.5
PREDICTION_MIN = 1.0
TOLERANCE = 0.20

STATED = re.compile(r"\*\*Time:\*\* about (\d+) minutes")
_WORD = re.compile(r"[A-Za-z0-9_']+")
_URL = re.compile(r"\(https?://[^)]*\)|https?://\S+")


@dataclass
class LessonTime:
    """The model's parts for one lesson, in minutes, and the time the lesson states."""

    name: str
    words: int
    code_lines: int
    exercises: int
    solution_lines: int
    predictions: int
    run_seconds: float | None
    stated_min: int | None

    @property
    def reading_min(self) -> float:
        return self.words / READ_WORDS_PER_MIN

    @property
    def code_min(self) -> float:
        return self.code_lines * CODE_S_PER_LINE / 60

    @property
    def exercise_min(self) -> float:
        return (
            self.exercises * EXERCISE_BASE_MIN
            + self.solution_lines * EXERCISE_MIN_PER_SOLUTION_LINE
        )

    @property
    def run_min(self) -> float:
        return (self.run_seconds or 0.0) / 60

    @property
    def modelled_min(self) -> float:
        return (
            self.reading_min
            + self.code_min
            + self.exercise_min
            + self.predictions * PREDICTION_MIN
            + self.run_min
        )

    @property
    def rounded_min(self) -> int:
        """The model rounded to the nearest 5 minutes (at least 5): what a lesson states."""
        return max(5, int(5 * round(self.modelled_min / 5)))


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _code_lines(source: str) -> int:
    return sum(
        1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#")
    )


def model(path: Path) -> LessonTime:
    """The model's figures for the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    words = code = exercises = solution = predictions = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            words += len(_WORD.findall(_URL.sub("", cell.source)))
        elif cell.cell_type == "code":
            tags = _tags(cell)
            if "exercise" in tags:
                exercises += 1
            elif "solution" in tags:  # hidden: the learner writes it, not reads it
                solution += _code_lines(cell.source.partition("\n")[2])
            else:
                code += _code_lines(cell.source)
                predictions += cell.source.count("raykit.predict(")
    stated = STATED.search(nb.cells[0].source) if nb.cells else None
    return LessonTime(
        name=path.name,
        words=words,
        code_lines=code,
        exercises=exercises,
        solution_lines=solution,
        predictions=predictions,
        run_seconds=nb.metadata.get("raykit", {}).get("run_seconds"),
        stated_min=int(stated.group(1)) if stated else None,
    )


def record(path: Path, executed: Path, mode: str) -> float:
    """Copy the run's seconds (papermill's measure) from ``executed`` into ``path``'s metadata,
    with the ``mode`` it ran in ("full", as a learner runs it, or "small")."""
    run = nbformat.read(executed, as_version=4).metadata.get("papermill", {})
    seconds = run.get("duration")
    if seconds is None:
        raise SystemExit(f"{executed} has no papermill duration: run it with `raykit run` first.")
    nb = nbformat.read(path, as_version=4)
    nb.metadata.setdefault("raykit", {}).update(run_seconds=round(float(seconds), 1), run_mode=mode)
    nbformat.write(nb, path)
    return float(seconds)


def write_stated(path: Path) -> int:
    """Set the lesson's stated time to the rounded model; returns the minutes written."""
    minutes = model(path).rounded_min
    nb = nbformat.read(path, as_version=4)
    source = nb.cells[0].source
    if not STATED.search(source):
        raise SystemExit(f"{path.name}: its first cell has no '**Time:** about N minutes'.")
    nb.cells[0].source = STATED.sub(f"**Time:** about {minutes} minutes", source)
    nbformat.write(nb, path)
    return minutes


def table(paths: list[Path]) -> str:
    rows = [
        "lesson                 read  code  exer  pred   run  model  stated",
    ]
    for path in paths:
        t = model(path)
        rows.append(
            f"{t.name[:22]:<22} {t.reading_min:5.1f} {t.code_min:5.1f} {t.exercise_min:5.1f} "
            f"{t.predictions * PREDICTION_MIN:5.1f} {t.run_min:5.1f} {t.modelled_min:6.1f} "
            f"{t.stated_min if t.stated_min is not None else '-':>7}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="lessons (default: notebooks/)")
    parser.add_argument("--record", type=Path, metavar="OUT_DIR", help="executed copies' folder")
    parser.add_argument("--mode", choices=["full", "small"], default="full", help="of --record")
    parser.add_argument("--write", action="store_true", help="set each lesson's stated time")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        if args.record:
            executed = args.record / path.name
            if executed.exists():
                record(path, executed, args.mode)
        if args.write:
            write_stated(path)
    print(table(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
