"""The exercise system: a solution fills in only what the learner left blank and says so; progress,
grading and predictions. Plain-Python checks (``raykit.check.equal``): no Ray cluster starts."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from _kernel import Kernel
from conftest import ROOT

import raykit
import raykit.cli
from raykit import _exercise, _predict, _progress
from raykit._runner import kernel_sockets
from raykit.check import CheckFailed
from raykit.exceptions import ConfigError

KIT_SAID = "passed with the kit's solution, not your code"

# --- notebooks built for the tests -----------------------------------------------------------

PAIR = {
    "id": "90.pair",
    "names": ["low", "high"],
    "solution": "low, high = 1, 9",
    "checks": ['raykit.check.equal("low", 1)', 'raykit.check.equal("high", 9, hint="nine.")'],
}
DOUBLE = {
    "id": "90.double",
    "names": ["doubled"],
    "solution": "doubled = [2 * i for i in range(5)]",
    "checks": ['raykit.check.equal("doubled", [0, 2, 4, 6, 8], hint="multiply each by 2.")'],
}
WORDS = {
    "id": "90.words",
    "names": ["words"],
    "solution": 'words = "a b c".split()',
    "checks": ['raykit.check.equal("words", ["a", "b", "c"], hint="str.split().")'],
}


def code(source: str, *tags: str, hidden: bool = False):
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    if hidden:
        cell.metadata["jupyter"] = {"source_hidden": True}
    return cell


def check_source(ex: dict) -> str:
    body = "\n".join("    " + line for line in ex["checks"])
    return f'with raykit.exercise("{ex["id"]}", names={ex["names"]!r}):\n{body}'


def exercise_cells(ex: dict, answer: str = "# Your code here") -> list:
    return [
        nbformat.v4.new_markdown_cell(f"## Exercise {ex['id']}"),
        code(answer, "exercise"),
        code(f"%%solution {ex['id']}\n{ex['solution']}", "solution", hidden=True),
        code(check_source(ex), "self-check"),
    ]


def lesson(path: Path, *parts) -> Path:
    """A notebook: a parameters cell, ``import raykit``, then ``parts`` (cells or lists)."""
    cells = [code("N = 1", "parameters"), code("import raykit")]
    for part in parts:
        cells += part if isinstance(part, list) else [part]
    cells.append(code("print('the last cell ran')"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def papermill_run(path: Path, home: Path, env: dict | None = None):
    """Plain papermill, as a CI user runs a lesson: no kit runner, no parameters."""
    import papermill

    saved = dict(os.environ)
    os.environ.update({"RAYKIT_HOME": str(home), **(env or {})})
    try:
        out = path.with_name(path.stem + ".out.ipynb")
        try:
            with kernel_sockets() as config:
                papermill.execute_notebook(
                    str(path),
                    str(out),
                    progress_bar=False,
                    execution_timeout=300,
                    cwd=str(path.parent),
                    config=config,
                )
            error = None
        except papermill.PapermillExecutionError as exc:
            error = exc
        return nbformat.read(out, as_version=4), error
    finally:
        os.environ.clear()
        os.environ.update(saved)


def cell_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def checks_of(nb) -> list:
    return [c for c in nb.cells if "self-check" in c.metadata.get("tags", [])]


def progress_file(home: Path) -> dict:
    return json.loads((home / "progress.json").read_text())


def statuses(home: Path, lesson_key: str = "90") -> dict:
    exercises = progress_file(home)["lessons"][lesson_key]["exercises"]
    return {name: entry["status"] for name, entry in exercises.items()}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Progress in a temp folder; a clean solution registry; solutions on, no grade log."""
    home = tmp_path / "home"
    monkeypatch.setenv("RAYKIT_HOME", str(home))
    monkeypatch.delenv("RAYKIT_SOLUTIONS", raising=False)
    monkeypatch.delenv("RAYKIT_GRADE_LOG", raising=False)
    monkeypatch.setattr(_exercise, "_solutions", {})
    monkeypatch.setattr(_exercise, "_filled", {})
    monkeypatch.setattr(_predict, "_last", None)
    return home


# --- the mechanism, in this process (a dict stands for the notebook's namespace) -------------


def run_check(ex: dict, namespace: dict) -> None:
    exec(check_source(ex), namespace)


def fresh_namespace() -> dict:
    namespace = {"__name__": "__main__"}
    exec("import raykit", namespace)
    return namespace


def test_blank_answer_runs_the_solution_and_says_so(capsys, isolated):
    _exercise.register_solution(PAIR["id"], PAIR["solution"])
    namespace = fresh_namespace()
    run_check(PAIR, namespace)
    out = capsys.readouterr().out
    assert "Nothing of yours for `low`, `high` yet" in out
    assert f"\u2713 90.pair: {KIT_SAID}" in out and "write your answer in that cell" in out
    assert (namespace["low"], namespace["high"]) == (1, 9)
    assert statuses(isolated) == {"pair": "solution used"}


def test_the_learners_answer_is_judged_and_never_replaced(capsys, isolated):
    _exercise.register_solution(PAIR["id"], PAIR["solution"])
    namespace = fresh_namespace()
    exec("low, high = 1, 8", namespace)  # the learner's (wrong) answer
    with pytest.raises(CheckFailed) as info:
        run_check(PAIR, namespace)
    assert info.value.problem == "`high` is 8, which is not the expected value."
    assert info.value._render_traceback_() == [
        "\u2717 Not yet: `high` is 8, which is not the expected value.",
        "  Hint: nine.",
    ]
    assert namespace["high"] == 8, "the solution did not run over the learner's answer"
    assert "Nothing of yours" not in capsys.readouterr().out
    assert statuses(isolated) == {"pair": "not yet"}
    exec("high = 9", namespace)
    run_check(PAIR, namespace)
    assert "\u2713 90.pair: solved by you." in capsys.readouterr().out
    assert statuses(isolated) == {"pair": "solved by you"}


def test_run_all_twice_with_a_blank_answer_still_uses_the_solution(capsys):
    _exercise.register_solution(DOUBLE["id"], DOUBLE["solution"])
    namespace = fresh_namespace()
    run_check(DOUBLE, namespace)
    first = namespace["doubled"]
    run_check(DOUBLE, namespace)  # `doubled` still holds the solution's own list
    out = capsys.readouterr().out
    assert out.count(KIT_SAID) == 2
    assert namespace["doubled"] is not first, "the solution ran afresh"
    # An equal list of the learner's own is the learner's: identity, not equality, decides.
    exec("doubled = [0, 2, 4, 6, 8]", namespace)
    run_check(DOUBLE, namespace)
    assert "\u2713 90.double: solved by you." in capsys.readouterr().out


def test_a_partial_answer_fills_in_nothing_and_names_what_is_missing(capsys):
    _exercise.register_solution(PAIR["id"], PAIR["solution"])
    namespace = fresh_namespace()
    exec("low = 1", namespace)
    with pytest.raises(CheckFailed, match="`high` is not defined yet"):
        run_check(PAIR, namespace)
    assert "high" not in namespace, "nothing was filled in"
    out = capsys.readouterr().out
    assert "you defined `low` but not `high`" in out and 'raykit.solution("90.pair")' in out


def test_the_solutions_leftovers_do_not_complete_a_learners_answer():
    _exercise.register_solution(PAIR["id"], PAIR["solution"])
    namespace = fresh_namespace()
    run_check(PAIR, namespace)  # blank: the solution defines low and high
    exec("low = 2 - 1", namespace)  # now the learner writes low only (the same int object 1)
    # Outside IPython only identity is known, so mark the rebinding as the IPython hook does.
    _exercise._forget_assigned_names(type("Info", (), {"raw_cell": "low = 2 - 1"}))
    with pytest.raises(CheckFailed, match="`high` is not defined yet"):
        run_check(PAIR, namespace)
    assert namespace["high"] == 9, "the leftover is hidden from the check, not deleted"


def test_solutions_off_never_fills_in(monkeypatch, isolated):
    monkeypatch.setenv("RAYKIT_SOLUTIONS", "off")
    _exercise.register_solution(PAIR["id"], PAIR["solution"])
    namespace = fresh_namespace()
    with pytest.raises(CheckFailed, match="`low` is not defined yet") as info:
        run_check(PAIR, namespace)
    assert info.value.hint == "run your exercise cell first."
    assert "low" not in namespace
    assert statuses(isolated) == {"pair": "not yet"}


def test_a_check_without_its_solution_cell_run_judges_and_says_why(capsys):
    namespace = fresh_namespace()
    with pytest.raises(CheckFailed, match="not defined yet"):
        run_check(PAIR, namespace)
    assert "hidden solution cell of 90.pair has not run" in capsys.readouterr().out


@pytest.mark.parametrize(
    "solution, message",
    [
        ("low = 1 / 0", "failed with ZeroDivisionError"),
        ("low = 1", r"did not define \['high'\]"),
        ("low, high = 1, 7", "did not pass its own check"),
    ],
)
def test_a_broken_solution_is_a_kit_error_not_the_learners(solution, message):
    _exercise.register_solution(PAIR["id"], solution)
    with pytest.raises(raykit.SolutionError, match=message) as info:
        run_check(PAIR, fresh_namespace())
    assert "a fault in the lesson" in str(info.value)


def test_a_solution_with_a_syntax_error_fails_when_stored():
    with pytest.raises(raykit.SolutionError, match="not valid Python"):
        _exercise.register_solution("90.bad", "low = = 1")


@pytest.mark.parametrize(
    "exercise_id, names, argument",
    [
        ("pair", ["low"], "exercise_id='pair'"),
        ("90.pair", [], "names=[]"),
        ("90.pair", "low", "names='low'"),
        ("90.pair", ["not a name"], "names="),
    ],
)
def test_bad_arguments_raise_config_error_naming_them(exercise_id, names, argument):
    with pytest.raises(ConfigError, match=argument.replace("[", r"\[").replace("]", r"\]")):
        raykit.exercise(exercise_id, names=names)


def test_solution_prints_the_stored_code_and_refuses_unknown_ids(capsys):
    _exercise.register_solution(PAIR["id"], PAIR["solution"] + "\n")
    raykit.solution("90.pair")
    assert "low, high = 1, 9" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="has no solution stored in this kernel"):
        raykit.solution("90.other")


def test_assigned_names_are_the_cells_global_bindings_only():
    import ast

    source = (
        "x = 1\nfor i in range(3):\n    pass\nimport os.path\nimport numpy as np\n"
        "def f():\n    y = 2\nclass C:\n    z = 3\n[w for w in range(2)]\n(v := 4)\ndel x\n"
        "a, (b, c) = 1, (2, 3)\n"
    )
    found = _exercise._assigned_names(ast.parse(source))
    assert found == {"x", "i", "os", "np", "f", "C", "v", "a", "b", "c"}


def test_a_check_appends_its_outcome_to_the_grade_log(tmp_path, monkeypatch):
    log = tmp_path / "grade.jsonl"
    monkeypatch.setenv("RAYKIT_GRADE_LOG", str(log))
    monkeypatch.setenv("RAYKIT_SOLUTIONS", "off")
    namespace = fresh_namespace()
    exec("low, high = 1, 9", namespace)
    run_check(PAIR, namespace)
    exec("doubled = [1]", namespace)
    with pytest.raises(CheckFailed):
        run_check(DOUBLE, namespace)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["exercise"], e["status"], e["by"]) for e in entries] == [
        ("90.pair", "passed", "learner"),
        ("90.double", "failed", "learner"),
    ]
    assert "multiply each by 2." in entries[1]["message"]


# --- the progress file ------------------------------------------------------------------------


def test_progress_keeps_the_best_status_and_the_last_one(isolated):
    _progress.record_exercise("01.loop", "solved by you", "2025-01-01T10:00:00+00:00")
    _progress.record_exercise("01.loop", "solution used", "2025-01-02T10:00:00+00:00")
    _progress.record_exercise("02.actor", "not yet", "2025-01-03T10:00:00+00:00")
    data = progress_file(isolated)
    loop = data["lessons"]["01"]["exercises"]["loop"]
    assert loop["status"] == "solved by you" and loop["time"] == "2025-01-01T10:00:00+00:00"
    assert loop["last_status"] == "solution used" and loop["attempts"] == 2
    assert data["lessons"]["02"]["exercises"]["actor"]["status"] == "not yet"
    assert sorted(p.name for p in isolated.iterdir()) == ["progress.json", "progress.json.lock"], (
        "no temporary file is left behind"
    )


def test_an_unreadable_progress_file_is_kept_aside_not_overwritten(isolated):
    isolated.mkdir(parents=True)
    (isolated / "progress.json").write_text("{ not json")
    _progress.record_exercise("01.loop", "not yet")
    kept = list(isolated.glob("progress.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{ not json"
    assert statuses(isolated, "01") == {"loop": "not yet"}


def _record_many(worker: int) -> None:
    for i in range(15):
        _progress.record_exercise(f"{worker:02d}.ex-{i}", "solved by you")


def test_concurrent_writers_lose_no_entry(isolated):
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_record_many, args=(w,)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert all(proc.exitcode == 0 for proc in procs)
    lessons = progress_file(isolated)["lessons"]
    assert sorted(lessons) == ["00", "01", "02", "03"]
    assert all(len(lessons[k]["exercises"]) == 15 for k in lessons)


def raykit_cli(*args, env=None, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "raykit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
        env=dict(os.environ) | (env or {}),
    )


def test_raykit_progress_prints_the_table_per_lesson(tmp_path, isolated, capsys):
    _progress.record_exercise("90.pair", "solved by you", "2025-01-01T10:00:00+00:00")
    _progress.record_exercise("90.double", "solution used", "2025-01-01T11:00:00+00:00")
    _progress.record_exercise("91.words", "not yet", "2025-01-01T12:00:00+00:00")
    nb_dir = tmp_path / "lessons"
    nb_dir.mkdir()
    lesson(nb_dir / "90_test.ipynb", exercise_cells(PAIR), exercise_cells(DOUBLE))
    report = raykit.my_progress(nb_dir)
    assert [(r["lesson_title"], r["exercise"], r["status"]) for r in report.rows] == [
        ("90_test", "pair", "solved by you"),
        ("90_test", "double", "solution used"),
        ("91", "words", "not yet"),
    ]
    assert "3 exercises: 1 solved by you, 1 with the solution, 1 not yet" in str(report)
    html = report._repr_html_()
    assert html.count("<tr>") == 4 and "solution used" in html

    proc = raykit_cli("progress", env={"RAYKIT_HOME": str(isolated)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["lesson", "exercise", "status", "when"]
    assert any(line.split()[:2] == ["90", "pair"] and "solved by you" in line for line in lines)
    assert any("2025-01-01T11:00:00+00:00" in line and "solution used" in line for line in lines)
    raykit.cli.main(["progress", "--json"])
    rows = json.loads(capsys.readouterr().out)["exercises"]
    assert {r["id"]: r["status"] for r in rows if r["lesson"] in ("90", "91")} == {
        "90.pair": "solved by you",
        "90.double": "solution used",
        "91.words": "not yet",
    }


# --- predict, then observe -------------------------------------------------------------------


def test_a_number_prediction_given_in_code_is_recorded_and_compared(capsys, isolated):
    p = raykit.predict("Speed-up of 4 tasks?", answer=3, key="90.speedup", unit="x")
    assert p.made and p.value == 3.0
    result = p.observe(3.6)
    out = capsys.readouterr().out
    assert "Your prediction: 3x (recorded)" in out
    assert "You predicted 3x; measured 3.6x: close: off by 17%." in out
    assert result.relative_error == pytest.approx(0.6 / 3.6)
    stored = progress_file(isolated)["lessons"]["90"]["predictions"]["speedup"]
    assert stored["prediction"] == 3.0 and stored["measured"] == 3.6
    assert stored["verdict"] == result.verdict


def test_a_choice_prediction_is_judged_by_the_nearest_choice(capsys):
    p = raykit.predict("Speed-up?", choices=["1x", "2x", "4x"], answer="2x")
    assert p.observe(3.7, unit="x").expected_choice == "4x"
    assert "You predicted '2x'; measured 3.7x, so the right choice was '4x'." in (
        capsys.readouterr().out
    )
    right = raykit.predict("Speed-up?", choices=["1x", "2x", "4x"], answer="4x")
    assert right.observe(3.7, unit="x").verdict.endswith(": right.")
    raykit.predict("Which is faster?", choices=["loop", "tasks"], answer="loop")
    assert "the right choice was 'tasks'" in raykit.observe(2.0, correct="tasks").verdict


def test_a_choice_with_several_right_answers_counts_each_of_them():
    choices = ["loop", "Dask", "Ray"]
    raykit.predict("Fastest?", choices=choices, answer="Dask")
    tie = raykit.observe("Ray", correct=["Ray", "Dask"])
    assert (
        tie.verdict == "You predicted 'Dask'; measured Ray: right ('Dask' or 'Ray' counts: a tie)."
    )
    assert tie.expected_choice == ("Dask", "Ray"), "in the question's order"
    raykit.predict("Fastest?", choices=choices, answer="loop")
    wrong = raykit.observe("Ray", correct=("Ray", "Dask")).verdict
    assert wrong.endswith(", so the right choices were 'Dask' or 'Ray'.")
    raykit.predict("Fastest?", choices=choices, answer="loop")
    assert raykit.observe("Ray", correct=["Ray"]).verdict.endswith("the right choice was 'Ray'.")
    unmade = raykit.Prediction("Fastest?", choices).observe("Ray", correct={"Ray", "Dask"})
    assert (
        unmade.verdict
        == "No prediction made. Measured: Ray. The right choices were 'Dask' or 'Ray'."
    )
    with pytest.raises(raykit.ConfigError, match=r"correct='Spark' is not one of the choices"):
        raykit.observe("Ray", correct=["Ray", "Spark"])
    with pytest.raises(raykit.ConfigError, match=r"correct=\[\] names no choice"):
        raykit.observe("Ray", correct=[])


def test_without_an_answer_it_says_no_prediction_made_and_carries_on(capsys):
    p = raykit.predict("Speed-up?", choices=["1x", "2x", "4x"])
    out = capsys.readouterr().out
    assert "1. 1x" in out and "answer='1x'" in out, "the text fallback outside a kernel"
    assert not p.made
    assert p.observe(1.9, unit="x").verdict == (
        "No prediction made. Measured: 1.9x. The right choice was '2x'."
    )
    _predict._last = None
    assert raykit.observe(2.5, "s").verdict == "No prediction made. Measured: 2.5 s."


def test_the_widgets_button_records_the_choice(isolated):
    p = raykit.predict("Speed-up?", choices=["1x", "2x", "4x"], key="90.widget")
    box = p.widget()
    pick, (button, status) = box.children[1], box.children[2].children
    button.click()
    assert not p.made and status.value == "Pick an answer first."
    pick.value = "4x"
    button.click()
    assert p.value == "4x" and pick.disabled and button.disabled
    assert "Your prediction: 4x (recorded)" in status.value
    assert progress_file(isolated)["lessons"]["90"]["predictions"]["widget"]["prediction"] == "4x"
    number = raykit.predict("Seconds?", unit="s", answer=None)
    number_box = number.widget()
    number_box.children[1].value = "fast"
    number_box.children[2].children[0].click()
    assert not number.made and "not a number" in number_box.children[2].children[1].value
    number_box.children[1].value = "2.5"
    number_box.children[2].children[0].click()
    assert number.value == 2.5


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"question": ""}, "question"),
        ({"question": "q", "choices": ["only"]}, "choices="),
        ({"question": "q", "choices": ["a", "b"], "answer": "c"}, "answer='c'"),
        ({"question": "q", "answer": "lots"}, "answer='lots'"),
    ],
)
def test_bad_prediction_arguments_raise_config_error(kwargs, argument):
    with pytest.raises(ConfigError, match=argument):
        raykit.predict(**kwargs)


# --- whole notebooks, through plain papermill and in a kernel ---------------------------------


def test_plain_papermill_runs_a_blank_lesson_green(tmp_path, isolated):
    path = lesson(
        tmp_path / "blank.ipynb",
        exercise_cells(PAIR),
        exercise_cells(DOUBLE),
        code('p = raykit.predict("Speed-up?", choices=["1x", "2x", "4x"], key="90.speedup")'),
        code('p.observe(3.7, unit="x")'),
        exercise_cells(WORDS),
    )
    nb, error = papermill_run(path, isolated)
    assert error is None, error
    checks = checks_of(nb)
    assert all(KIT_SAID in cell_text(c) for c in checks)
    assert "\u2713 `doubled` is right." in cell_text(checks[1])
    assert "the last cell ran" in cell_text(nb.cells[-1])
    solution_out = cell_text(nb.cells[4])
    assert solution_out.startswith("Solution of 90.pair stored, not run")
    assert statuses(isolated) == dict.fromkeys(["pair", "double", "words"], "solution used")
    # Nobody clicked the prediction widget: the observation says so, and the lesson went on.
    observed = next(c for c in nb.cells if c.source.startswith("p.observe"))
    assert "No prediction made. Measured: 3.7x. The right choice was '4x'." in cell_text(observed)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    radios = [m["state"] for m in state.values() if m["model_name"] == "RadioButtonsModel"]
    assert radios and radios[0]["_options_labels"] == ["1x", "2x", "4x"]


def test_plain_papermill_the_solution_typed_in_passes_as_the_learners(tmp_path, isolated):
    parts = [exercise_cells(ex, answer=ex["solution"]) for ex in (PAIR, DOUBLE)]
    nb, error = papermill_run(lesson(tmp_path / "typed.ipynb", *parts), isolated)
    assert error is None, error
    for check_cell, ex in zip(checks_of(nb), (PAIR, DOUBLE), strict=True):
        assert f"\u2713 {ex['id']}: solved by you." in cell_text(check_cell)
        assert "Nothing of yours" not in cell_text(check_cell)
    assert statuses(isolated) == {"pair": "solved by you", "double": "solved by you"}


def test_plain_papermill_fails_on_a_wrong_answer_with_the_hint(tmp_path, isolated):
    parts = [exercise_cells(PAIR), exercise_cells(DOUBLE, answer="doubled = list(range(5))")]
    nb, error = papermill_run(lesson(tmp_path / "wrong.ipynb", *parts), isolated)
    assert error is not None and error.ename == "CheckFailed"
    failed = checks_of(nb)[1]
    (err,) = [o for o in failed.outputs if o.output_type == "error"]
    assert err.traceback == [
        "\u2717 Not yet: `doubled` is [0, 1, 2, 3, 4], which is not the expected value.",
        "  Hint: multiply each by 2.",
    ], "the hint, not a traceback"
    assert statuses(isolated) == {"pair": "solution used", "double": "not yet"}


def test_run_all_twice_in_one_kernel_then_the_learner_answers(tmp_path, isolated):
    path = lesson(tmp_path / "twice.ipynb", exercise_cells(PAIR))
    cells = [c.source for c in nbformat.read(path, as_version=4).cells]
    with Kernel(tmp_path, env={"RAYKIT_HOME": isolated}, timeout=120) as kernel:
        for _ in range(2):
            runs = [kernel.run(source) for source in cells]
            assert all(r.ok for r in runs), [r.error for r in runs if not r.ok]
            assert KIT_SAID in runs[-2].text
        # `import raykit` again and a second registration do not hook the cells twice.
        hooks = kernel.run(
            "import raykit\nraykit._exercise.register_magic()\n"
            "print(sum(f.__name__ == '_forget_assigned_names' "
            "for f in get_ipython().events.callbacks['pre_run_cell']))"
        )
        assert hooks.text.strip() == "1"
        # Now the learner writes the answer: the same small ints as the solution's, yet theirs.
        assert kernel.run("low, high = 1, 9").ok
        judged = kernel.run(cells[-2])
        assert judged.ok and "\u2713 90.pair: solved by you." in judged.text
        # raykit.solution puts the code in a new cell below (JupyterLab acts on the payload).
        shown = kernel.run('raykit.solution("90.pair")')
        (payload,) = [p for p in shown.payload if p.get("source") == "set_next_input"]
        assert payload["text"] == "low, high = 1, 9\n" and not payload["replace"]
    assert statuses(isolated) == {"pair": "solved by you"}


# --- raykit grade -----------------------------------------------------------------------------


def test_raykit_grade_reports_passed_failed_and_not_reached(tmp_path):
    submissions = tmp_path / "alice"
    submissions.mkdir()
    alice = lesson(
        submissions / "90_test.ipynb",
        exercise_cells(PAIR, answer="low, high = 1, 9"),
        exercise_cells(DOUBLE, answer="doubled = [i + i for i in range(6)]"),
        exercise_cells(WORDS),  # left blank: with solutions off, it fails
        code("import os\nos._exit(1)  # the kernel dies"),
        exercise_cells({**PAIR, "id": "90.after"}, answer="low, high = 1, 9"),
    )
    bob = lesson(
        tmp_path / "90_test.ipynb",
        exercise_cells(PAIR, answer="low, high = 1, 9"),
        exercise_cells(WORDS, answer="words = ['a', 'b', 'c']"),
    )
    grader_home = tmp_path / "grader_home"
    out = tmp_path / "graded"
    env = {"RAYKIT_HOME": str(grader_home)}
    proc = raykit_cli("grade", alice, bob, "-o", out, "--timeout", "120", env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = [line.split(None, 3) for line in proc.stdout.splitlines() if "90_test.ipynb " in line]
    assert [(Path(r[0]).parent.name, r[1], r[2]) for r in rows] == [
        ("alice", "90.pair", "passed"),
        ("alice", "90.double", "failed"),
        ("alice", "90.words", "failed"),
        ("alice", "90.after", "not"),  # "not reached"
        (tmp_path.name, "90.pair", "passed"),
        (tmp_path.name, "90.words", "passed"),
    ]
    assert "3 of 6 exercises passed, 2 failed, 1 not reached" in proc.stdout

    grades = json.loads((out / "grades.json").read_text())
    by_id = {(Path(g["notebook"]).parent.name, g["exercise"]): g for g in grades["exercises"]}
    assert "[0, 2, 4, 6, 8, 10]" in by_id["alice", "90.double"]["message"]
    assert "multiply each by 2." in by_id["alice", "90.double"]["message"]
    assert "`words` is not defined yet" in by_id["alice", "90.words"]["message"]
    assert "stopped first" in by_id["alice", "90.after"]["message"]
    assert grades["summary"] == {"passed": 3, "failed": 2, "not reached": 1, "total": 6}
    # Both executed copies are kept, though the two files have the same name.
    names = sorted(p.name for p in out.glob("*.ipynb"))
    assert names == sorted(["90_test.ipynb", f"{tmp_path.name}__90_test.ipynb"])

    root = ET.parse(out / "junit.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("tests") for s in suites] == ["4", "2"]
    assert [(s.get("failures"), s.get("errors")) for s in suites] == [("2", "1"), ("0", "0")]
    alice_cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert alice_cases["90.pair"].find("failure") is None
    assert "multiply each by 2." in alice_cases["90.double"].find("failure").text
    assert alice_cases["90.after"].find("error") is not None
    assert not (grader_home / "progress.json").exists(), "grading leaves the grader's progress"


def test_raykit_grade_exits_0_when_every_exercise_passed(tmp_path):
    good = lesson(tmp_path / "good.ipynb", exercise_cells(PAIR, answer="low, high = 1, 9"))
    proc = raykit_cli("grade", good, "-o", tmp_path / "out", "--timeout", "120", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 of 1 exercises passed, 0 failed, 0 not reached" in proc.stdout


@pytest.mark.parametrize("problem", ["missing", "no exercises"])
def test_raykit_grade_usage_errors_exit_2_before_running_anything(tmp_path, problem, capsys):
    good = lesson(tmp_path / "good.ipynb", exercise_cells(PAIR, answer="low, high = 1, 9"))
    if problem == "missing":
        other, message = tmp_path / "nope.ipynb", "notebook not found"
    else:
        other, message = lesson(tmp_path / "plain.ipynb"), "has no exercises"
    code = raykit.cli.main(["grade", str(good), str(other), "-o", str(tmp_path / "out")])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out" / "good.ipynb").exists(), "nothing ran"
    with pytest.raises(SystemExit) as info:
        raykit.cli.main(["grade"])
    assert info.value.code == 2, "no notebook named"


def test_bad_progress_and_observe_arguments_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match="notebooks=42"):
        raykit.my_progress(notebooks=42)
    with pytest.raises(ConfigError, match="notebooks="):
        raykit.my_progress(notebooks=tmp_path / "missing")
    with pytest.raises(ConfigError, match="prediction='p'"):
        raykit.observe(1.0, prediction="p")
    with pytest.raises(ConfigError, match="measured='lots'"):
        raykit.observe("lots", prediction=raykit.predict("How many?", answer=3))


def test_an_observation_as_a_cells_last_line_does_not_repeat_its_verdict(capsys):
    prediction = raykit.predict("How many seconds?", answer=4, unit="s", key="t.repr")
    observation = raykit.observe(3.0, prediction=prediction)
    printed = capsys.readouterr().out
    assert observation.verdict in printed  # printed once, by observe
    shown = repr(observation)  # what IPython shows as the cell's value
    assert observation.verdict not in shown
    assert shown == "Observation(predicted=4.0, measured=3.0 s)"
