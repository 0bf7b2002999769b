"""The papermill runner and ``raykit run``: statuses, parameters, reports and CLI errors."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOKS, ROOT, outputs_text

from raykit._runner import check_notebook, discover_notebooks, run_notebooks
from raykit.exceptions import NotebookError

FIXTURES = Path(__file__).parent / "fixtures"


def raykit_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "raykit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_parameters_and_small_mode_reach_the_kernel(tmp_path):
    report = run_notebooks(
        [FIXTURES / "echo_parameters.ipynb"],
        parameters={"N": 7, "NAME": "x"},
        smoke=True,
        output_dir=tmp_path,
        echo=False,
    )
    assert report.ok
    text = outputs_text(tmp_path / "echo_parameters.ipynb")
    assert "N=7 NAME='x' SMOKE_ENV='1'" in text


@pytest.mark.parametrize(
    "parameters, seen", [({}, "SMOKE=True ENV='1'"), ({"SMOKE": False}, "SMOKE=False ENV='1'")]
)
def test_small_mode_passes_smoke_as_a_papermill_parameter_unless_given(tmp_path, parameters, seen):
    """``raykit run --smoke`` sets SMOKE the way ``papermill -p SMOKE True`` does, and keeps
    RAYKIT_SMOKE=1 for notebooks that follow the environment; a caller's own SMOKE wins."""
    _write_notebook(
        tmp_path / "smoke.ipynb",
        "SMOKE = None",
        "import os\nprint(f\"SMOKE={SMOKE!r} ENV={os.environ.get('RAYKIT_SMOKE')!r}\")",
    )
    report = run_notebooks(
        [tmp_path / "smoke.ipynb"],
        parameters=parameters,
        smoke=True,
        output_dir=tmp_path / "out",
        echo=False,
    )
    assert report.ok, report.results[0].error
    assert seen in outputs_text(tmp_path / "out" / "smoke.ipynb")


def test_a_failing_notebook_fails_and_names_its_cell(tmp_path):
    report = run_notebooks([FIXTURES / "failing.ipynb"], output_dir=tmp_path, echo=False)
    (result,) = report.results
    assert not report.ok and result.status == "failed"
    assert result.error == "ValueError: deliberate failure, N=1"
    assert "raise ValueError" in result.cell_source
    # The executed copy is kept, with the output of the cells that ran.
    assert "before the failure" in outputs_text(tmp_path / "failing.ipynb")


def test_cli_runs_and_writes_summary_json_and_junit(tmp_path):
    proc = raykit_cli(
        "run",
        FIXTURES / "echo_parameters.ipynb",
        FIXTURES / "failing.ipynb",
        "-p",
        "N",
        "3",
        "-o",
        tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "echo_parameters.ipynb" in proc.stdout and "1 passed, 1 failed" in proc.stdout
    assert "ValueError: deliberate failure, N=3" in proc.stdout  # the failing cell's error
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["status"] for r in summary] == ["passed", "failed"]
    assert all(r["seconds"] > 0 for r in summary)
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert suite.find(f"testcase[@name='{summary[1]['notebook']}']/failure") is not None


def test_cli_exit_code_is_zero_when_all_pass(tmp_path):
    proc = raykit_cli("run", FIXTURES / "echo_parameters.ipynb", "-o", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 0 failed" in proc.stdout


@pytest.mark.parametrize(
    "notebook, message",
    [
        ("does_not_exist.ipynb", "notebook not found"),
        (FIXTURES / "no_parameters.ipynb", "no cell tagged 'parameters'"),
    ],
)
def test_cli_usage_errors_exit_2_before_running_anything(tmp_path, notebook, message):
    proc = raykit_cli("run", FIXTURES / "echo_parameters.ipynb", notebook, "-o", tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "echo_parameters.ipynb").exists(), "nothing runs after a usage error"


def test_check_notebook_rejects_a_file_that_is_not_a_notebook(tmp_path):
    bogus = tmp_path / "bogus.ipynb"
    bogus.write_text("not json")
    with pytest.raises(NotebookError, match="not a readable notebook"):
        check_notebook(bogus)


def test_discovery_lists_the_lessons_in_order():
    names = [p.name for p in discover_notebooks(NOTEBOOKS)]
    assert names == sorted(names) and names[0] == "00_welcome.ipynb"


def _write_notebook(path: Path, parameters: str, code: str) -> None:
    """A two-cell notebook: a parameters cell, then ``code``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
    ]
    nbformat.write(nb, path)


def _literal_assignments(source: str) -> dict[str, object]:
    """``{name: value}`` of a parameters cell that holds plain values only, which papermill's
    ``-p NAME VALUE`` can override; fails on any other statement (an import, a computed size)."""
    values = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            f"the parameters cell holds plain assignments only, not: {ast.unparse(node)}"
        )
        (target,) = node.targets
        try:
            values[target.id] = ast.literal_eval(node.value)
        except ValueError:
            pytest.fail(f"{ast.unparse(node)}: parameters are literals; derive it in the next cell")
    return values


@pytest.mark.parametrize("path", discover_notebooks(NOTEBOOKS), ids=lambda p: p.name)
def test_committed_notebooks_follow_the_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.outputs or c.execution_count for c in code), "commit notebooks without outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assigned = _literal_assignments(params[0].source)
    assert "SMOKE" in assigned and assigned["SMOKE"] is None, (
        "SMOKE = None: small mode follows RAYKIT_SMOKE unless papermill's -p SMOKE sets it"
    )
    head = nb.cells[0].source
    assert head.startswith("# ") and "**Level:**" in head and "**Time:**" in head
    assert "**Prerequisites:**" in head and "**You will learn**" in head
    for cell in code:
        if "solution" in cell.metadata.get("tags", []):
            assert cell.metadata.get("jupyter", {}).get("source_hidden"), "hide solutions"
    assert "shutdown()" in code[-1].source, "the last cell cleans up"


def test_with_errors_allowed_every_cell_runs_and_the_first_error_is_reported(tmp_path):
    """What ``raykit grade`` relies on: a failed cell does not stop the notebook."""
    from raykit._runner import _execute

    result = _execute(
        FIXTURES / "failing.ipynb", tmp_path / "out.ipynb", {}, 60, None, allow_errors=True
    )
    assert result.status == "failed" and result.error == "ValueError: deliberate failure, N=1"
    assert "never reached" in outputs_text(tmp_path / "out.ipynb")


def test_kernels_get_rays_single_host_mode_only_for_local_clusters(monkeypatch):
    """A lesson's plain ray.init() then listens on 127.0.0.1; a driver of a remote cluster
    (RAY_ADDRESS) must stay reachable, so it is left alone there."""
    from raykit._runner import _kernel_environment

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # as in an activated venv
    assert _kernel_environment(smoke=True) == {
        "RAYKIT_SMOKE": "1",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    }
    monkeypatch.setenv("RAY_ADDRESS", "ray://127.0.0.1:10001")
    assert _kernel_environment(smoke=False) == {}


def test_kernels_find_the_ray_command_of_the_kits_python(monkeypatch):
    """`!ray status` in a lesson runs the Ray the kernel imports, even from `.venv/bin/raykit run`
    without an activated venv (PATH without the venv's bin folder)."""
    from raykit._runner import _kernel_environment

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    path = _kernel_environment(smoke=False)["PATH"].split(os.pathsep)
    assert path == [str(Path(sys.executable).parent), "/usr/bin", "/bin"]
    assert (Path(path[0]) / "ray").exists()


# --- where a notebook's time goes: Ray's start-ups ---------------------------------------------


def test_the_kit_records_ray_start_ups_for_its_runner_and_only_then(tmp_path, monkeypatch):
    from raykit import _timing

    monkeypatch.delenv(_timing.STARTUP_LOG_ENV, raising=False)
    with _timing.ray_start("nothing asked"):
        pass
    log = tmp_path / "starts.jsonl"
    monkeypatch.setenv(_timing.STARTUP_LOG_ENV, str(log))
    for what in ("a", "b"):
        with _timing.ray_start(what):
            pass
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["what"] for line in lines] == ["a", "b"]
    assert _timing.startup_seconds(log) == round(sum(line["seconds"] for line in lines), 2)
    assert _timing.startup_seconds(tmp_path / "none.jsonl") == 0.0


@pytest.mark.ray_cluster
def test_the_runner_reports_the_seconds_spent_starting_ray(tmp_path):
    """The runner's figure is raykit.init's own start-up: inside what the cell itself timed."""
    _write_notebook(
        tmp_path / "starts.ipynb",
        "N = 1",
        "import time, raykit\nbegan = time.perf_counter()\nraykit.init(num_cpus=1)\n"
        "print(f'CELL {time.perf_counter() - began:.3f}')\nraykit.shutdown()",
    )
    report = run_notebooks([tmp_path / "starts.ipynb"], output_dir=tmp_path / "out", echo=False)
    result = report.results[0]
    assert result.passed, result.error
    timed_by_cell = float(outputs_text(result.output).split("CELL ")[1].split()[0])
    assert 0 < result.ray_start_seconds <= timed_by_cell + 0.01
    assert result.ray_start_seconds <= result.seconds
    table = report.table()
    assert f"{result.ray_start_seconds:6.1f} s" in table and "of it starting Ray" in table


def test_the_runners_kernels_listen_on_socket_files_not_tcp_ports(tmp_path):
    """A TCP port picked for a kernel can be taken by a Ray cluster starting at the same moment
    ("Address already in use": the run fails before its first cell, as it did in this project's
    CI); a kernel on ipc sockets in a private folder cannot lose them."""
    notebook = tmp_path / "sockets.ipynb"
    _write_notebook(
        notebook,
        "",
        "import os\n"
        "from ipykernel.connect import get_connection_info\n"
        "info = get_connection_info(unpack=True)\n"
        "shell = f\"{info['ip']}-{info['shell_port']}\"\n"
        "print('TRANSPORT', info['transport'], 'SHELL SOCKET FILE', os.path.exists(shell))",
    )
    report = run_notebooks([notebook], output_dir=tmp_path / "out", echo=False)
    assert report.ok, report.results[0].error
    text = outputs_text(tmp_path / "out" / "sockets.ipynb")
    assert "TRANSPORT ipc SHELL SOCKET FILE True" in text


# --- where a notebook's time goes: Ray's libraries ---------------------------------------------

_FAKE_LIBRARY = """
import time

def run(seconds=0.0, fail=False):
    time.sleep(seconds)
    if fail:
        raise ValueError("the learner's bug")
    return "ran"

class Trainer:
    def fit(self, seconds=0.0):
        time.sleep(seconds)
        return run(0.0)  # a timed call inside a timed call counts once
"""


def _library_calls_in_a_kernel_like_process(tmp_path, script: str, *, log=True) -> list[dict]:
    """Run ``script`` in a process that looks like a notebook kernel (``ipykernel`` imported),
    with a fake library ``fakelib.api`` (``run`` and ``Trainer.fit``) that ``fakelib`` re-exports
    as Ray's packages do, timed as ``LIBRARY_CALLS`` says; return the log's lines."""
    package = tmp_path / "fakelib"
    package.mkdir()
    (package / "api.py").write_text(_FAKE_LIBRARY)
    (package / "__init__.py").write_text("from fakelib.api import Trainer, run\n")
    log_file = tmp_path / "log.jsonl"
    prelude = (
        "import sys, ipykernel\n"
        "from raykit import _timing\n"
        "_timing.LIBRARY_CALLS = {'fakelib.api': (('run', 'Lib run'), ('Trainer.fit', 'Lib fit'),"
        " ('Gone.call', 'Lib gone'))}\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    env.pop("RAYKIT_STARTUP_LOG", None)
    if log:
        env["RAYKIT_STARTUP_LOG"] = str(log_file)
    done = subprocess.run(
        [sys.executable, "-c", prelude + script], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in log_file.read_text().splitlines()] if log else []


def test_library_calls_are_timed_in_a_runners_kernel_imported_before_or_after(tmp_path):
    script = (
        "_timing.time_library_calls()\n"
        "import fakelib\n"  # imported after the hook: wrapped as it loads
        "from fakelib import run\n"
        "assert run(0.2) == 'ran' and fakelib.api.run(0.0) == 'ran'\n"
        "fakelib.Trainer().fit(0.1)\n"
        "try:\n    fakelib.run(fail=True)\nexcept ValueError:\n    pass\n"
        "else:\n    raise AssertionError('the call must still raise')\n"
    )
    lines = _library_calls_in_a_kernel_like_process(tmp_path, script)
    assert [(line["what"], line["part"]) for line in lines] == [
        ("Lib run", "library"),
        ("Lib run", "library"),
        ("Lib fit", "library"),  # and not its inner run
        ("Lib run", "library"),  # a call that raised took its time too
    ]
    assert lines[0]["seconds"] >= 0.2 and lines[2]["seconds"] >= 0.1
    from raykit import _timing

    log = tmp_path / "log.jsonl"
    with log.open("a") as more:
        more.write(json.dumps({"what": "raykit.init", "seconds": 3.5}) + "\n")
    runs = [line["seconds"] for line in lines if line["what"] == "Lib run"]
    assert _timing.library_calls(log) == {
        "Lib run": [3, round(sum(runs), 2)],
        "Lib fit": [1, lines[2]["seconds"]],
    }
    assert _timing.startup_seconds(log) == 3.5  # Ray's start alone, not the libraries


def test_a_library_imported_before_the_hook_is_timed_and_only_once(tmp_path):
    script = (
        "import fakelib\n"
        "from fakelib import run\n"  # bound before the hook: the package's name is wrapped too
        "_timing.time_library_calls()\n"
        "_timing.time_library_calls()\n"  # `import raykit` in a second cell: no second wrap
        "fakelib.run()\nfakelib.api.run()\nfakelib.Trainer().fit()\n"
    )
    lines = _library_calls_in_a_kernel_like_process(tmp_path, script)
    assert [line["what"] for line in lines] == ["Lib run", "Lib run", "Lib fit"]


def test_library_calls_are_timed_only_when_a_runner_asked(tmp_path):
    script = "_timing.time_library_calls()\nimport fakelib\nassert not sys.meta_path[0].__class__"
    script += ".__name__.startswith('_Time')\nassert fakelib.run.__module__ == 'fakelib.api'\n"
    script += "assert not getattr(fakelib.run, '__raykit_timed__', False)\n"
    _library_calls_in_a_kernel_like_process(tmp_path, script, log=False)


def test_every_library_call_the_runner_times_is_in_this_ray():
    """A Ray that renamed one would leave its calls out of the runner's figures without a word."""
    import importlib

    from raykit._timing import LIBRARY_CALLS

    for module_name, calls in LIBRARY_CALLS.items():
        module = importlib.import_module(module_name)
        for attribute, label in calls:
            owner_name, _, name = attribute.rpartition(".")
            owner = getattr(module, owner_name, None) if owner_name else module
            assert callable(getattr(owner, name, None)), f"{label}: {module_name}.{attribute}"


@pytest.mark.ray_cluster
def test_the_runner_reports_the_seconds_spent_in_rays_libraries(tmp_path):
    """A Tune ``fit`` in a notebook: the runner's figure is inside what the cell timed."""
    _write_notebook(
        tmp_path / "tune.ipynb",
        "N = 1",
        "import time, raykit\nfrom ray import tune\nraykit.init(num_cpus=1)\n"
        "began = time.perf_counter()\n"
        "tune.Tuner(lambda config: {'score': 1}, run_config=tune.RunConfig(verbose=0,"
        f" storage_path={str(tmp_path / 'tune')!r})).fit()\n"
        "print(f'CELL {time.perf_counter() - began:.3f}')\nraykit.shutdown()",
    )
    report = run_notebooks([tmp_path / "tune.ipynb"], output_dir=tmp_path / "out", echo=False)
    result = report.results[0]
    assert result.passed, result.error
    timed_by_cell = float(outputs_text(result.output).split("CELL ")[1].split()[0])
    assert list(result.library_calls) == ["Tune fit"]
    calls, seconds = result.library_calls["Tune fit"]
    assert calls == 1 and 0 < seconds <= timed_by_cell + 0.01
    assert result.library_seconds == seconds
    table = report.table()
    assert f"Tune fit 1x {seconds:.1f} s" in table and "in Ray's libraries" in table
    report.write_json(tmp_path / "report.json")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved[0]["library_calls"] == {"Tune fit": [1, seconds]}
