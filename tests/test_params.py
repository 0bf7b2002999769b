"""Lesson parameters the papermill way: ``-p SMOKE True`` gives the sizes ``raykit run --smoke``
gives, one ``-p NAME VALUE`` overrides one size, and ``raykit.small_mode``/``raykit.given``. The
notebook tests run only each lesson's first cells in a kernel: no Ray starts."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import multiprocessing
import os
import re
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from unittest import mock

import nbformat
import pytest
from conftest import NOTEBOOKS

import raykit
from raykit import ConfigError
from raykit._runner import kernel_sockets

LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
# None in a parameters cell but not derived right after it: the lesson makes a temporary folder
# when it first writes there, and the cell after the parameters starts nothing.
MADE_LATER = {"MANIFEST_DIR"}
# What the cell after the parameters may call: it computes values and starts nothing.
DERIVING_CALLS = {"raykit.small_mode", "raykit.given", "Path", "Path.home", "os.environ.get"}
# Lesson heads run in papermill at once (head_runs): each kernel start keeps one core busy.
HEAD_RUNS_AT_ONCE = 2

# --- small_mode ---------------------------------------------------------------------------------


def test_small_mode_none_follows_raykit_smoke(monkeypatch):
    monkeypatch.delenv("RAYKIT_SMOKE", raising=False)
    assert raykit.small_mode() is False and raykit.small_mode(None) is False
    monkeypatch.setenv("RAYKIT_SMOKE", "1")
    assert raykit.small_mode(None) is True
    monkeypatch.setenv("RAYKIT_SMOKE", "0")
    assert raykit.small_mode(None) is False


@pytest.mark.parametrize(
    "given, expected",
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("True", True),
        ("false", False),
        ("YES", True),
        ("no", False),
        ("1", True),
        ("0", False),
        (" true ", True),
    ],
)
def test_small_mode_reads_what_papermill_passes(monkeypatch, given, expected):
    """``-p SMOKE True`` passes a bool; ``-r SMOKE true`` passes the raw string. An explicit
    value wins over the environment variable either way."""
    monkeypatch.setenv("RAYKIT_SMOKE", "0" if expected else "1")
    assert raykit.small_mode(given) is expected


@pytest.mark.parametrize("bad", ["maybe", 2, -1, 1.0, "", [True]])
def test_small_mode_rejects_anything_else_naming_smoke_and_the_fix(bad):
    with pytest.raises(ConfigError, match=r"SMOKE = .*-p SMOKE True"):
        raykit.small_mode(bad)


# --- given --------------------------------------------------------------------------------------


def test_given_keeps_a_value_and_fills_in_none():
    assert raykit.given(None, otherwise=0.25) == 0.25
    assert raykit.given(0.5, otherwise=0.25) == 0.5
    assert raykit.given(0, otherwise=4) == 0, "0 is a value, not a missing one"
    assert raykit.given(2, otherwise=0.25) == 2, "an int where a float is expected"
    assert raykit.given([1, 8], otherwise=(1, 4, 16)) == [1, 8], "papermill passes lists"
    assert raykit.given("2GB", otherwise="300MB") == "2GB"
    assert raykit.given("/data", otherwise=Path.home()) == "/data", "no check for other types"


def test_given_rejects_text_where_a_number_is_expected_naming_the_parameter():
    """papermill's ``-r SLEEP_S 0.5`` passes the text '0.5': the message names SLEEP_S (read from
    the calling line), what came and what was expected."""
    with pytest.raises(ConfigError) as caught:
        SLEEP_S = raykit.given("0.5", otherwise=0.25)  # noqa: F841
    message = str(caught.value)
    assert "SLEEP_S = '0.5' (a str)" in message and "a number is expected" in message
    assert "-p SLEEP_S" in message


@pytest.mark.parametrize(
    "value, otherwise, expected",
    [
        (True, 4, "a number"),
        (300, "300MB", "text"),
        ("1, 8", (1, 8), "a list"),
        (8, [16, 64], "a list"),
        (1, False, "True or False"),
    ],
)
def test_given_rejects_a_value_of_the_wrong_kind(value, otherwise, expected):
    with pytest.raises(ConfigError, match=re.escape(f"{expected} is expected, like {otherwise!r}")):
        raykit.given(value, otherwise=otherwise)


# --- every lesson's parameters cell and the cell after it ----------------------------------------


def _cells(path: Path) -> tuple[nbformat.NotebookNode, int]:
    nb = nbformat.read(path, as_version=4)
    (index,) = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    return nb, index


def _parameters(source: str) -> dict[str, object]:
    """The parameters cell's ``{name: literal}``, in order."""
    return {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(source).body}


def _sizes(derived_source: str) -> dict[str, tuple[object, object]]:
    """``{name: (small, full)}`` read from ``NAME = raykit.given(NAME, otherwise=S if SMOKE
    else F)`` lines, as literals: the test's own reading of what each mode must give."""
    sizes = {}
    for node in ast.parse(derived_source).body:
        call = getattr(node, "value", None)
        if not (isinstance(call, ast.Call) and ast.unparse(call.func) == "raykit.given"):
            continue
        (name,) = [t.id for t in node.targets]
        assert ast.unparse(call.args[0]) == name, f"{name} = raykit.given({name}, ...)"
        choice = call.keywords[0].value
        assert call.keywords[0].arg == "otherwise" and isinstance(choice, ast.IfExp)
        assert ast.unparse(choice.test) == "SMOKE", f"{name} follows SMOKE"
        small, full = ast.literal_eval(choice.body), ast.literal_eval(choice.orelse)
        sizes[name] = (_json(small), _json(full))
    return sizes


def _json(value):
    """A value as it comes back through JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_the_cell_after_the_parameters_derives_every_size_and_starts_nothing(path):
    nb, index = _cells(path)
    params = _parameters(nb.cells[index].source)
    derived = nb.cells[index + 1]
    assert derived.cell_type == "code" and derived.source.startswith("# "), "says why it exists"
    assert "SMOKE = raykit.small_mode(SMOKE)" in derived.source
    sizes = _sizes(derived.source)
    assert sizes, "a lesson has sizes that differ between small and full mode"
    for name, (small, full) in sizes.items():
        assert params.get(name, "missing") is None, f"{name} = None in the parameters cell"
        assert small != full, f"{name}: the same in both modes is a plain value"
    tree = ast.parse(derived.source)
    comments = " ".join(nb.cells[index].source.replace("#", " ").split())
    for choice in [n for n in ast.walk(tree) if isinstance(n, ast.IfExp)]:
        small, full = (
            " ".join(ast.get_source_segment(derived.source, n).split())
            for n in (choice.body, choice.orelse)
        )
        assert f"None: {small} in small mode, {full} otherwise" in comments, (
            "the parameters cell's comment states both defaults"
        )
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets}
    left_none = {n for n, v in params.items() if v is None} - {"SMOKE"} - MADE_LATER
    assert left_none <= assigned, f"parameters left None but never derived: {left_none - assigned}"
    for node in tree.body:
        assert isinstance(node, ast.Import | ast.ImportFrom | ast.Assign), ast.unparse(node)
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls <= DERIVING_CALLS, f"the derived cell only computes values: {calls}"


# --- run the head of every lesson: -p SMOKE True, RAYKIT_SMOKE=1, full mode, one override ------


def _head(path: Path, folder: Path) -> Path:
    """The lesson's cells up to the one after ``parameters``, then a cell printing every
    parameter as JSON."""
    nb, index = _cells(path)
    names = list(_parameters(nb.cells[index].source))
    show = (
        "import json as _json\n"
        f"_NAMES = {names!r}\n"
        "print('PARAMS=' + _json.dumps({n: globals()[n] for n in _NAMES}, default=str))"
    )
    nb.cells = nb.cells[: index + 2] + [nbformat.v4.new_code_cell(show)]
    head = folder / f"{path.stem}.head.ipynb"
    nbformat.write(nb, head)
    return head


def _run_head(head: Path, smoke_env: bool, parameters: dict) -> dict:
    """Plain papermill, as a CI user runs it; ``smoke_env`` sets RAYKIT_SMOKE=1 as
    ``raykit run --smoke`` and Binder do, else the kernel has no RAYKIT_SMOKE at all. Sets the
    variable in this process, for the kernel to inherit: the caller restores it."""
    import papermill

    if smoke_env:
        os.environ["RAYKIT_SMOKE"] = "1"
    else:
        os.environ.pop("RAYKIT_SMOKE", None)
    mode = "env" if smoke_env else "-".join(f"{k}={v}" for k, v in parameters.items()) or "full"
    out = head.with_name(f"{head.stem}.{mode}.out.ipynb")
    with kernel_sockets() as config:
        papermill.execute_notebook(
            str(head),
            str(out),
            parameters=parameters,
            cwd=str(NOTEBOOKS),
            progress_bar=False,
            execution_timeout=120,
            config=config,
        )
    nb = nbformat.read(out, as_version=4)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    (line,) = [x for x in text.splitlines() if x.startswith("PARAMS=")]
    return json.loads(line.removeprefix("PARAMS="))


def _run_head_in_worker(head: Path, smoke_env: bool, parameters: dict) -> dict:
    """``_run_head`` in a pool process; its failure comes back as text (papermill's own error
    does not survive pickling)."""
    try:
        return _run_head(head, smoke_env, parameters)
    except Exception as error:
        raise RuntimeError(f"{head.name} {parameters}: {type(error).__name__}: {error}") from None


def _override(small, full):
    """A value of the same kind as a numeric size, different from both of its defaults."""
    return small + full + 1


def _overridable(path: Path) -> tuple[str, object, object]:
    """The lesson's first numeric size: ``(name, small, full)``."""
    nb, index = _cells(path)
    return next(
        (n, *v)
        for n, v in _sizes(nb.cells[index + 1].source).items()
        if all(type(x) in (int, float) for x in v)
    )


def _exec_head(head: Path, smoke_env: bool, parameters: dict) -> dict:
    """The head's cells run in this process, after papermill's own injection of ``parameters``
    (``parameterize_notebook``, what ``papermill -p`` does before it starts a kernel): the cells
    up to the show cell only compute values (the test above checks it), so a kernel of their own
    would give the same, a second later. ``smoke_env`` as in ``_run_head``."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(head))  # as papermill reads it: every cell with its tags
    if parameters:
        nb = parameterize_notebook(nb, parameters)
    shown = io.StringIO()
    with mock.patch.dict(os.environ), contextlib.chdir(NOTEBOOKS):
        os.environ.pop("RAYKIT_SMOKE", None)
        if smoke_env:
            os.environ["RAYKIT_SMOKE"] = "1"
        with contextlib.redirect_stdout(shown):
            namespace = {"__name__": "__main__"}
            for cell in (c for c in nb.cells if c.cell_type == "code"):
                exec(compile(cell.source, f"<{head.name}>", "exec"), namespace)
    (line,) = [x for x in shown.getvalue().splitlines() if x.startswith("PARAMS=")]
    return json.loads(line.removeprefix("PARAMS="))


def _done(value) -> Future:
    future = Future()
    future.set_result(value)
    return future


@pytest.fixture(scope="module")
def head_runs(tmp_path_factory) -> dict[tuple[str, str], Future]:
    """Every lesson's head run four ways: ``-p SMOKE True`` (plain papermill, a kernel of its
    own, as a CI user runs it), and compared with it, RAYKIT_SMOKE=1, full mode, and ``-p SMOKE
    True`` with one size overridden. The 15 kernels run ``HEAD_RUNS_AT_ONCE`` at a time, in
    processes of their own (each sets RAYKIT_SMOKE for its kernel); the other three ways run here
    meanwhile (``_exec_head``): 60 kernels were most of ``make test-fast``'s time (43 s of 91,
    2026-12-07). Each lesson's test reads its four results."""
    folder = tmp_path_factory.mktemp("heads")
    spawn = multiprocessing.get_context("spawn")
    runs = {}
    with ProcessPoolExecutor(HEAD_RUNS_AT_ONCE, mp_context=spawn) as pool:
        heads = {path: _head(path, folder) for path in LESSONS}
        for path, head in heads.items():
            runs[path.name, "with_p"] = pool.submit(
                _run_head_in_worker, head, False, {"SMOKE": True}
            )
        for path, head in heads.items():
            name, small, full = _overridable(path)
            runs[path.name, "with_env"] = _done(_exec_head(head, True, {}))
            runs[path.name, "full"] = _done(_exec_head(head, False, {}))
            overridden = {"SMOKE": True, name: _override(small, full)}
            runs[path.name, "overridden"] = _done(_exec_head(head, False, overridden))
    return runs


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_papermill_p_smoke_true_gives_the_sizes_of_raykit_run_smoke(path, head_runs):
    nb, index = _cells(path)
    params = _parameters(nb.cells[index].source)
    sizes = _sizes(nb.cells[index + 1].source)
    plain = {n: _json(v) for n, v in params.items() if v is not None}
    with_p, with_env, full, overridden = (
        head_runs[path.name, mode].result() for mode in ("with_p", "with_env", "full", "overridden")
    )

    assert set(with_p) == set(params)
    assert with_p == with_env, "papermill -p SMOKE True and RAYKIT_SMOKE=1 give the same values"
    assert with_p["SMOKE"] is True and full["SMOKE"] is False
    assert with_p != full
    for name, (small_value, full_value) in sizes.items():
        assert with_p[name] == small_value, f"{name} in small mode"
        assert full[name] == full_value, f"{name} in full mode"
    for name, value in plain.items():
        assert with_p[name] == value == full[name], f"{name} is the same in both modes"

    # One size set with -p wins over small mode; the others keep their small values.
    name, small_value, full_value = _overridable(path)
    value = _override(small_value, full_value)
    assert overridden[name] == value and value not in (small_value, full_value)
    assert {k: v for k, v in overridden.items() if k != name} == {
        k: v for k, v in with_p.items() if k != name
    }


def test_a_size_passed_as_text_fails_in_the_cell_after_the_parameters(tmp_path, monkeypatch):
    """``papermill -r SLEEP_S 0.5`` passes text: the lesson stops at once, naming the parameter,
    instead of failing later inside Ray."""
    import papermill

    head = _head(NOTEBOOKS / "00_welcome.ipynb", tmp_path)
    monkeypatch.delenv("RAYKIT_SMOKE", raising=False)  # restored after, whatever _run_head does
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        _run_head(head, smoke_env=False, parameters={"SLEEP_S": "0.5"})
    assert caught.value.ename == "ConfigError"
    assert "SLEEP_S = '0.5' (a str), but a number is expected" in caught.value.evalue
