"""raykit's public surface: one error policy, exported exceptions, declared dependencies, and an
``import raykit`` that loads no widget library."""

from __future__ import annotations

import ast
import builtins
import importlib.metadata
import re
import subprocess
import sys
import tomllib

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import raykit
from raykit import ConfigError

PACKAGE = ROOT / "raykit"

# --- import raykit stays light ------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def test_import_raykit_does_not_import_ipywidgets():
    proc = _python("import raykit, sys; assert 'ipywidgets' not in sys.modules, 'loaded'")
    assert proc.returncode == 0, proc.stderr


def test_the_widgets_load_on_first_use_under_their_public_names():
    code = (
        "import sys, raykit\n"
        "from raykit import progress\n"  # `from raykit import name` goes through __getattr__
        "from raykit._widgets import ClusterView, progress as p\n"
        "assert raykit.ClusterView is ClusterView and progress is p\n"
        "assert 'ipywidgets' in sys.modules\n"
        "assert 'ClusterView' in dir(raykit)\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr


def test_every_name_in_all_resolves_and_unknown_names_still_fail():
    for name in raykit.__all__:
        assert getattr(raykit, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = raykit.no_such_thing


# --- exceptions a user may catch are exported ---------------------------------------------------


def _exception_classes(folder) -> set[str]:
    """Names of the exception classes defined in ``folder``'s modules (not its subpackages),
    found from the source: a class whose base is a builtin exception or another one of them."""
    bases_of = {}
    for path in folder.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                bases_of[node.name] = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
    found: set[str] = set()
    builtin_errors = {n for n, v in vars(builtins).items() if isinstance(v, type)}
    builtin_errors = {n for n in builtin_errors if issubclass(getattr(builtins, n), BaseException)}
    changed = True
    while changed:
        changed = False
        for name, bases in bases_of.items():
            if name not in found and bases & (builtin_errors | found):
                found.add(name)
                changed = True
    return found


def test_every_exception_the_kit_defines_is_exported():
    defined = _exception_classes(PACKAGE)
    assert {"RaykitError", "ConfigError", "RayNotRunning", "DatasetNotFound", "CheckFailed"} <= (
        defined
    ), "the scan finds the kit's exceptions"
    missing = sorted(defined - set(raykit.__all__))
    assert not missing, f"exceptions users may catch but cannot import from raykit: {missing}"
    for name in defined:
        assert issubclass(getattr(raykit, name), BaseException)


def test_kuberay_exports_its_own_exceptions():
    import raykit.kuberay

    missing = sorted(_exception_classes(PACKAGE / "kuberay") - set(raykit.kuberay.__all__))
    assert not missing, f"not exported from raykit.kuberay: {missing}"


def test_the_exception_hierarchy_keeps_older_except_clauses_working():
    assert issubclass(raykit.ConfigError, ValueError)
    assert issubclass(raykit.RayNotRunning, RuntimeError)
    assert issubclass(raykit.DatasetNotFound, FileNotFoundError)
    for name in ("ConfigError", "RayNotRunning", "DatasetNotFound", "ClusterUnreachable"):
        assert issubclass(getattr(raykit, name), raykit.RaykitError), name


# --- bad arguments raise ConfigError, naming the argument ---------------------------------------


def _bad(name, call, argument, *, owner=None):
    """One bad call of a public function, and the argument its ConfigError must name. ``owner``
    marks a known gap in a module this file's author does not own: an xfail that must flip."""
    marks = []
    if owner:
        marks = [pytest.mark.xfail(strict=True, reason=f"{owner} does not check {argument} yet")]
    return pytest.param(call, argument, id=f"{name}-{argument}", marks=marks)


BAD_CALLS = [
    _bad("small_mode", lambda: raykit.small_mode("maybe"), "SMOKE"),
    _bad("given", lambda: raykit.given("x", otherwise=1), "value"),
    _bad("measure", lambda: raykit.measure(42), "fn"),
    _bad("free_port", lambda: raykit.free_port("0.0.0.0"), "host"),
    _bad("kill_replica", lambda: raykit.kill_replica(None, "DigitModel"), "app"),
    _bad("under_load", lambda: raykit.under_load("http://x/", payloads=[], seconds=0), "seconds"),
    _bad("measure", lambda: raykit.measure(lambda: None, repeat=0), "repeat"),
    _bad("measure", lambda: raykit.measure(lambda: None, warmup=-1), "warmup"),
    _bad("compare", lambda: raykit.compare([print]), "cases"),
    _bad("compare", lambda: raykit.compare({"a": print}, baseline="b"), "baseline"),
    _bad("compare", lambda: raykit.compare({"a": print}, repeat=0), "repeat"),
    _bad("sweep", lambda: raykit.sweep({"a": print}, values=[]), "values"),
    _bad("load_test", lambda: raykit.load_test("http://10.1.2.3/", payloads=[{}]), "target"),
    _bad("load_test", lambda: raykit.load_test(print, payloads={"x": 1}), "payloads"),
    _bad("load_test", lambda: raykit.load_test(print, payloads=[1], concurrency=0), "concurrency"),
    _bad("load_test", lambda: raykit.load_test(print, payloads=[1], requests="9"), "requests"),
    _bad("load_test", lambda: raykit.load_test(print, payloads=[1], timeout=0), "timeout"),
    _bad("watch_store", lambda: raykit.watch_store(0), "interval_s"),
    _bad("store_stats", lambda: raykit.store_stats(settle="yes"), "settle"),
    _bad("object_references", lambda: raykit.object_references("a1b2", wait_s=1), "ref"),
    _bad("ipython_references", lambda: raykit.ipython_references(42), "ref"),
    _bad("wait_for_error", lambda: raykit.wait_for_error("ref"), "ref"),
    _bad("spilled_on_disk", lambda: raykit.spilled_on_disk(timeout_s=-1), "timeout_s"),
    _bad("wait_until", lambda: raykit.wait_until(lambda: True, timeout_s=-1), "timeout_s"),
    _bad("actor_state", lambda: raykit.actor_state("counter"), "handle"),
    _bad("wait_for_actor", lambda: raykit.wait_for_actor(None), "handle"),
    _bad("actor_calls", lambda: raykit.actor_calls(42, method="increment"), "handle"),
    _bad("timeline", lambda: raykit.timeline([1]), "refs"),
    _bad("trial_iterations", lambda: raykit.trial_iterations([]), "results"),
    _bad("learning_curves", lambda: raykit.learning_curves(None, "acc"), "results"),
    _bad("task_state", lambda: raykit.task_state("ref"), "ref"),
    _bad("task_attempts", lambda: raykit.task_attempts(42, timeout_s=-1), "ref"),
    _bad("timeline", lambda: raykit.timeline(wait_s=-1), "wait_s"),
    _bad("timeline", lambda: raykit.timeline(path="out.doc"), "path"),
    _bad("dataset_path", lambda: raykit.dataset_path("../x"), "name"),
    _bad("dataset_path", lambda: raykit.dataset_path(7), "name"),
    _bad("load_dataset", lambda: raykit.load_dataset("mnist"), "name"),
    _bad("read_dataset", lambda: raykit.read_dataset("mnist"), "name"),
    _bad("generate_rows", lambda: raykit.generate_rows("iris", 5), "name"),
    _bad("generate_rows", lambda: raykit.generate_rows("wine", -5), "n_rows"),
    _bad("write_generated", lambda: raykit.write_generated("wine", 3, n_rows=5), "directory"),
    _bad("progress", lambda: raykit.progress([1, 2]), "refs"),
    _bad("ClusterView", lambda: raykit.ClusterView(fast_interval=0), "fast_interval"),
    _bad("predict", lambda: raykit.predict(""), "question"),
    _bad("predict", lambda: raykit.predict("How many?", choices="ab"), "choices"),
    _bad("exercise", lambda: raykit.exercise("no id", ["x"]), "exercise_id"),
    _bad("exercise", lambda: raykit.exercise("01.x", "x"), "names"),
    _bad("solution", lambda: raykit.solution(3), "exercise_id"),
    _bad(
        "observe",
        lambda: raykit.observe("lots", prediction=raykit.predict("How many?", answer=3)),
        "measured",
    ),
    _bad("scrape_metrics", lambda: raykit.scrape_metrics(targets=8080), "targets"),
    _bad("scrape_metrics", lambda: raykit.scrape_metrics(targets=["x"]), "targets"),
    _bad("metric_value", lambda: raykit.metric_value("rate(x[5s])"), "promql"),
    _bad("plot_metrics", lambda: raykit.plot_metrics(None, [], 0, 1), "prom"),
    _bad("my_progress", lambda: raykit.my_progress(notebooks=42), "notebooks"),
    _bad("check.close", lambda: raykit.check.close(1.0, 1.0, rel_tol=-1), "rel_tol"),
    _bad("check.ran_as_tasks", lambda: raykit.check.ran_as_tasks([], "f", count=0), "count"),
    _bad("observe", lambda: raykit.observe(1.0, prediction="p"), "prediction"),
    _bad("ReportLog", lambda: raykit.ReportLog(keep=0), "keep"),
    _bad("CeleryWorkers", lambda: raykit.CeleryWorkers("my jobs", "."), "module"),
    _bad("CeleryWorkers", lambda: raykit.CeleryWorkers("jobs", "/no/such/folder"), "folder"),
    _bad("SideBySide", lambda: raykit.SideBySide("tiny tasks", items=0), "items"),
    _bad("SideBySide", lambda: raykit.SideBySide("job", 1).measure("Ray", 3), "run"),
    _bad(
        "kuberay.untolerated",
        lambda: importlib.import_module("raykit.kuberay").untolerated({}, "gpu", {"key": "k"}),
        "taints",
    ),
]

# Public names that take no argument, or that users get from the kit rather than build.
NO_ARGUMENTS = {"doctor", "shutdown"}
RESULTS = {
    "Chart",
    "Comparison",
    "Exercise",
    "LoadReport",
    "Observation",
    "Prediction",
    "ProgressReport",
    "Session",
    "StoreWatch",
    "Sweep",
    "TaskAttempt",
    "TaskState",
    "Timeline",
    "Timing",
}
OWNED_ELSEWHERE = {"init", "MiniCluster", "Prometheus", "check"}  # tested by their own files


@pytest.mark.parametrize("call, argument", BAD_CALLS)
def test_a_bad_argument_raises_config_error_naming_it(call, argument, monkeypatch, tmp_path):
    monkeypatch.setenv("RAYKIT_HOME", str(tmp_path))  # nothing reaches the real progress file
    with pytest.raises(ConfigError, match=rf"\b{re.escape(argument)}\b"):
        call()


def test_every_public_function_has_a_bad_argument_case():
    covered = {p.id.split("-", 1)[0] for p in BAD_CALLS}
    public = {
        name
        for name in raykit.__all__
        if callable(getattr(raykit, name))
        and not (
            isinstance(getattr(raykit, name), type)
            and issubclass(getattr(raykit, name), BaseException)
        )
    }
    missing = sorted(public - covered - NO_ARGUMENTS - RESULTS - OWNED_ELSEWHERE)
    assert not missing, f"public functions without a bad-argument case here: {missing}"


# --- "no Ray running" is one exception, naming raykit.init() ------------------------------------


def test_functions_that_need_ray_raise_ray_not_running():
    code = (
        "import raykit\n"
        "calls = {'store_stats': raykit.store_stats, 'timeline': raykit.timeline,\n"
        "         'watch_store': lambda: raykit.watch_store().__enter__()}\n"
        "for name, call in calls.items():\n"
        "    try:\n"
        "        call()\n"
        "    except raykit.RayNotRunning as exc:\n"
        "        print(name, 'raykit.init() first' in str(exc))\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["store_stats", "True", "timeline", "True", "watch_store", "True"]


def test_scrape_metrics_without_ray_raises_ray_not_running():
    import ray

    assert not ray.is_initialized()
    with pytest.raises(raykit.RayNotRunning):
        raykit.scrape_metrics()


# --- every third-party import is a declared dependency -------------------------------------------


def _imported_top_level_modules(sources: dict[str, str]) -> dict[str, set[str]]:
    """``{top-level module: {files importing it}}`` over absolute imports in ``sources``."""
    found: dict[str, set[str]] = {}
    for where, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".", 1)[0], set()).add(where)
    return found


def _undeclared(imported: dict[str, set[str]], declared: set[str]) -> dict[str, str]:
    """Third-party modules whose distribution is not in ``declared``, with why."""
    distributions = importlib.metadata.packages_distributions()
    problems = {}
    for module, files in sorted(imported.items()):
        if module in sys.stdlib_module_names or module in ("raykit", "__future__"):
            continue
        dists = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not dists:
            problems[module] = f"not installed (imported by {sorted(files)})"
        elif not dists & declared:
            problems[module] = f"from {sorted(dists)}, undeclared (imported by {sorted(files)})"
    return problems


def _declared_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}


def test_every_third_party_import_of_the_kit_is_a_declared_dependency():
    sources = {str(p.relative_to(ROOT)): p.read_text() for p in sorted(PACKAGE.rglob("*.py"))}
    imported = _imported_top_level_modules(sources)
    assert {"ray", "numpy", "psutil"} <= set(imported), "the scan sees the kit's imports"
    problems = _undeclared(imported, _declared_dependencies())
    assert not problems, "declare these in pyproject.toml [project] dependencies:\n" + "\n".join(
        f"  {m}: {why}" for m, why in problems.items()
    )


def test_the_dependency_scan_would_catch_an_undeclared_import():
    imported = _imported_top_level_modules(
        {"a.py": "import yaml\nfrom prometheus_client.parser import x\nimport json\n"}
    )
    problems = _undeclared(imported, {"pyyaml"})
    assert set(problems) == {"prometheus_client"}, "json is stdlib; yaml maps to PyYAML"
