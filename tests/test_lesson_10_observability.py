"""Lesson 10 (observability): what its executed copy prints, and the kit code it uses.

The lesson tests read the executed copy (run once per session in small mode by the ``executed``
fixture); measured figures are asserted to be printed, never to fall in a range. The unit tests
cover ``raykit.metric_value``'s own PromQL subset, ``raykit.plot_metrics``' arguments, and the
lesson's five checks, each with a right and a wrong input, on a cluster of their own; the token
check also against a stand-in dashboard that answers as Ray 2.60's does (401, 403, 200).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nbformat
import pandas as pd
import pytest
from _http import send_json
from _tiers import starts_ray

import raykit
from raykit._observe import evaluate_on_scrape
from raykit._prometheus import Prometheus
from raykit._ray_private import token_auth_enabled
from raykit.check import CheckFailed
from raykit.exceptions import ConfigError

LESSON = "10_observability.ipynb"
TICK = "\u2713"


def _images_after(notebook_path, marker: str) -> int:
    """How many PNG outputs the cells that print ``marker`` displayed."""
    nb = nbformat.read(notebook_path, as_version=4)
    count = 0
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        if marker in text:
            count += sum("image/png" in o.get("data", {}) for o in outputs)
    return count


# --- the lesson, from its executed copy ----------------------------------------------------------


def test_observability_answers_promql_for_its_workload_and_plots_it(executed):
    text = executed.text(LESSON)
    found = re.search(r"PromQL (sum\(ray_tasks\{.*?\}\)) -> (\d+) \(the workload ran (\d+)\)", text)
    assert found, "lesson 10 prints the PromQL task count next to the workload's size"
    assert int(found.group(2)) == int(found.group(3)) > 0, "the metric counts every work task"
    # The same query, evaluated by the kit on one scrape, without the server.
    assert f"in one scrape, without a server: {found.group(2)}.0" in text
    if "Prometheus server installed: False" in text:
        if os.environ.get("CI"):
            pytest.fail("CI must have the prometheus binary (`apt-get install prometheus`).")
        pytest.skip("no prometheus binary here: the lesson ran its scrape_metrics fallback")
    assert _images_after(executed(LESSON).output, "peak throughput") == 1, "the panels were drawn"
    assert "dashboard -> Prometheus: prometheus running" in text


def test_observability_measures_how_far_metrics_trail_after_a_prediction(executed):
    text = executed.text(LESSON)
    lag = re.search(
        r"the metric counted all (\d+) new tasks ([\d.]+) s after ray\.get returned", text
    )
    assert lag, "the lag of the metrics is measured and printed"
    observed = re.search(r"No prediction made\. Measured: ([\d.]+) s\. The right choice was", text)
    assert observed, "the measurement is set beside the prediction"
    assert abs(float(observed.group(1)) - float(lag.group(2))) < 0.06, "the same figure"


def test_observability_shows_the_state_api_from_python_and_the_cli(executed):
    text = executed.text(LESSON)
    # Python: the summary waited until every work task was reported.
    n_tasks = int(re.search(r"workload: (\d+) tasks in", text).group(1))
    assert re.search(rf"work\s+\{{'FINISHED': {n_tasks}\}}", text)
    assert re.search(r"read_config\s+\{'FAILED': 1\}", text)
    # `ray summary tasks` and `ray list tasks --filter state=FAILED` reached the cluster.
    assert re.search(rf"work\s+FINISHED: {n_tasks}\s+NORMAL_TASK", text)
    assert re.search(r"\s0\s+[0-9a-f]{48}\s+0\s+read_config\s+FAILED", text)
    # The metrics ports are read from the cluster, not typed.
    assert re.search(r"port \d+\s+a node's metrics agent", text)


def test_observability_finds_the_failed_task_and_its_logs(executed):
    text = executed.text(LESSON)
    assert "failed task: read_config" in text
    assert (
        "error message, last line: FileNotFoundError: no configuration at /etc/nowhere.yaml" in text
    )
    assert "its stdout: reading the configuration from /etc/nowhere.yaml" in text
    assert "its stderr: about to parse it" in text
    files = re.search(r"the worker's log files: \[(.*)\]", text).group(1)
    for suffix in ("out", "err"):  # the worker's own stdout and stderr, named by its id
        assert re.search(rf"'worker-[0-9a-f]+-\w+-\d+\.{suffix}'", files), files
    # `ray logs task --id ... --err` printed the same stderr line.
    assert re.search(r"--- Log has been truncated.*\s+about to parse it", text)
    records = re.search(r"Timeline: (\d+) tasks on \d+ workers?.*, 1 failed", text)
    assert records, "the parse_record timeline shows its one failed task"


def test_observability_shows_the_store_spilling_and_what_fills_it(executed):
    text = executed.text(LESSON)
    held = re.search(r"holding (\d+) objects of (\d+) MB = (\d+) MB in a (\d+) MB store", text)
    assert held and int(held.group(3)) > int(held.group(4)), "more is held than the store fits"
    figures = re.search(r"in memory at the peak: (\d+) MB; spilled: (\d+) MB", text)
    assert figures and int(figures.group(2)) > 0, "raykit.watch_store saw the spill"
    assert int(figures.group(1)) <= int(held.group(4)), "the peak is what fits, not what is held"
    assert re.search(r"Plasma memory usage \d+ MiB", text), "ray memory printed its stats"
    assert re.search(r"Spilled \d+ MiB, \d+ objects", text)
    assert re.search(r"PromQL sum\(ray_object_store_memory\{Location=\"SPILLED\"\}\): \d+ MB", text)
    # The largest objects, from list_objects and from `ray memory`: the held arrays' size.
    size = f"{int(held.group(2)):.1f} MB"
    listed = re.findall(r"^[0-9a-f]{56}\s+([\d.]+ MB)\s+LOCAL_REFERENCE\s+DRIVER$", text, re.M)
    assert listed == [size] * 4
    assert len(re.findall(rf"\|\s*{re.escape(size[:-3])}\d* MB\s*\|", text)) >= 4
    assert "store in use after del held: 0.0 MB" in text


def _this_hosts_token() -> str:
    """The token ``ray get-auth-token`` prints here (what the lesson's cluster uses); or ''."""
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    got = subprocess.run([ray_cli, "get-auth-token"], capture_output=True, text=True, timeout=60)
    return got.stdout.strip() if got.returncode == 0 else ""


def test_observability_shows_token_auth_as_a_second_program_meets_it(executed):
    text = executed.text(LESSON)
    mode = re.search(r"this cluster's authentication mode: (\w+)", text).group(1)
    assert re.search(r"ray get-auth-token: (\d+) characters", text), "its length, not the token"
    # (c) where the token comes from: the file a local cluster writes, compared, never shown.
    assert re.search(r"\.ray/auth_token: exists (True|False), holds that token: (True|False)", text)
    token = _this_hosts_token()
    assert not token or token not in text, "the executed lesson must never show the token"
    api = "GET /api/v0/nodes"
    right = re.search(r"the right RAY_AUTH_TOKEN -> (.*)", text).group(1)
    wrong = re.search(r"a wrong RAY_AUTH_TOKEN -> (.*)", text).group(1)
    no_mode = re.search(r"right token, no RAY_AUTH_MODE -> (.*)", text).group(1)
    assert right.startswith("accepted: it sees"), right
    if mode == "disabled":
        assert f"{api} without a token: 200" in text
        assert "token authentication is off on this cluster" in text
        assert wrong.startswith("accepted") and no_mode.startswith("accepted")
        return
    assert mode == "token" and len(token) >= 32, "the cluster's token is this host's"
    assert "this kernel: RAY_AUTH_MODE = token" in text, "Ray set it when it started the cluster"
    # (a) the dashboard's REST API: no token 401, a made-up one 403, the exercise's headers 200.
    assert f"{api} without a token: 401" in text
    assert f"{api} with a made-up token: 403" in text
    assert f"{api} with auth_headers: 200" in text
    assert "the dashboard's /api/v0/nodes answered 200 with `auth_headers` and 401 without" in text
    # (b) a second driver: in with the right token; refused by the GCS with a wrong one, and with
    # the right one when RAY_AUTH_MODE is unset (an explicit address does not switch it on).
    refused = r"refused: Failed to connect to Ray cluster at [\d.]+:\d+: "
    refused += r"ray\.exceptions\.AuthenticationError: RPC error: InvalidAuthToken"
    assert re.match(refused, wrong), wrong
    assert re.match(refused, no_mode), no_mode
    assert "RAY_AUTH_MODE is currently 'disabled'" in no_mode
    assert "RAY_AUTH_MODE is currently" not in wrong


def test_observability_exercises_pass_with_their_solutions(executed):
    text = executed.text(LESSON)
    for exercise_id in (
        "10.failures-by-function",
        "10.token",
        "10.find-failed",
        "10.promql-failures",
        "10.free-the-hog",
    ):
        assert f"{TICK} {exercise_id}: solved by you." in text, exercise_id
    assert f"{TICK} failed_by_function() counts failed tasks per function" in text
    assert "including the 2 raykit_probe tasks the check made fail" in text
    assert f"{TICK} `bad_task` is the parse_record task that failed" in text
    assert f"{TICK} `failed_query` counts the FAILED tasks of parse_record" in text
    assert f"{TICK} the object `big_id` names is freed" in text
    if "this cluster's authentication mode: token" in text:
        assert f"{TICK} the dashboard's /api/v0/nodes answered 200 with `auth_headers`" in text


def test_prometheus_binary_is_present_in_ci():
    if os.environ.get("CI"):
        assert Prometheus().installed, "CI installs prometheus (apt-get install prometheus)"


# --- raykit.metric_value's PromQL subset, without Ray ---------------------------------------------


def _snapshot() -> pd.DataFrame:
    rows = [
        ("ray_tasks", {"Name": "work", "State": "FINISHED"}, 300.0),
        ("ray_tasks", {"Name": "work", "State": "FAILED"}, 2.0),
        ("ray_tasks", {"Name": "read_config", "State": "FAILED"}, 1.0),
        ("ray_tasks", {"Name": "parse_record", "State": "FAILED"}, 4.0),
        ("ray_actors", {"Name": "Counter", "State": "ALIVE"}, 1.0),
    ]
    return pd.DataFrame(
        [
            {"target": "127.0.0.1:1", "name": n, "labels": labels, "value": v}
            for n, labels, v in rows
        ]
    )


@pytest.mark.parametrize(
    "promql, expected",
    [
        ('sum(ray_tasks{State="FAILED"})', 2.0 + 1.0 + 4.0),
        ('sum(ray_tasks{Name="work", State="FINISHED"})', 300.0),
        ('ray_tasks{Name!="work"}', 1.0 + 4.0),
        ('sum(ray_tasks{Name=~"p.*|read_.*", State="FAILED"})', 1.0 + 4.0),
        ('sum(ray_tasks{Name!~"work"})', 5.0),
        ("sum(ray_tasks)", 307.0),
        ('sum(ray_tasks{Name="nothing"})', 0.0),
    ],
)
def test_the_scrape_evaluator_sums_the_series_its_matchers_select(promql, expected):
    assert evaluate_on_scrape(promql, _snapshot()) == expected


@pytest.mark.parametrize(
    "promql",
    ["rate(ray_tasks[5s])", "sum(ray_tasks) by (Name)", "sum(ray_tasks{State=FAILED})", "1"],
)
def test_the_scrape_evaluator_refuses_what_it_cannot_evaluate(promql):
    with pytest.raises(ConfigError, match="promql="):
        evaluate_on_scrape(promql, _snapshot())


def test_metric_value_and_plot_metrics_name_their_bad_arguments():
    with pytest.raises(ConfigError, match="promql="):
        raykit.metric_value(42)
    with pytest.raises(ConfigError, match="prom="):
        raykit.metric_value("sum(ray_tasks)", prom="http://127.0.0.1:9090")
    with pytest.raises(ConfigError, match="prom"):
        raykit.plot_metrics(None, [("t", "up", 1.0)], 0, 1)


# --- the checks' answers of the wrong kind, without Ray -----------------------------------------


def _failed(call) -> str:
    with pytest.raises(CheckFailed) as caught:
        call()
    return str(caught.value)


def test_the_checks_reject_answers_of_the_wrong_kind_with_a_hint():
    import ray

    @ray.remote
    def parse_record(line):
        return line

    said = _failed(lambda: raykit.check.found_failed_task([1, 2], "", parse_record))
    assert "is a list of 2 records" in said
    said = _failed(lambda: raykit.check.found_failed_task(42, "", parse_record))
    assert "not Ray's record of a task" in said
    said = _failed(lambda: raykit.check.reports_failures({"read_config": 1}))
    assert "is a dict" in said and "def failed_by_function" in said
    said = _failed(lambda: raykit.check.promql_counts(3, parse_record, "FAILED", more=["x"]))
    assert "not a PromQL expression" in said
    said = _failed(lambda: raykit.check.freed_biggest("ab-12", {}))
    assert "not an object id" in said


# --- raykit.check.authenticated against a stand-in dashboard, without Ray ------------------------

STAND_IN_TOKEN = "5eb1d2f0" * 8  # 64 hex digits, as Ray's own tokens


class _StandInDashboard(BaseHTTPRequestHandler):
    """Answers as Ray 2.60's dashboard middleware does (ray/_private/authentication/
    http_token_authentication.py): /api/authentication_mode is public; with the mode "token",
    no Authorization (or X-Ray-Authorization) header is 401, a value other than "Bearer <token>"
    403, the right one 200."""

    def do_GET(self):  # noqa: N802  http.server's name
        mode = self.server.mode
        if self.path == "/api/authentication_mode":
            return send_json(self, 200, {"authentication_mode": mode})
        self.server.seen.append(dict(self.headers))
        value = self.headers.get("Authorization") or self.headers.get("X-Ray-Authorization")
        if mode == "token" and not value:
            return send_json(self, 401, {"msg": "Unauthorized: Missing authentication token"})
        if mode == "token" and value.strip() != f"Bearer {STAND_IN_TOKEN}":
            return send_json(self, 403, {"msg": "Forbidden: Invalid authentication token"})
        return send_json(self, 200, {"result": True})

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def stand_in_dashboard():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandInDashboard)
    server.mode, server.seen = "token", []
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _judge(server, headers, status=200):
    address = f"127.0.0.1:{server.server_address[1]}"
    return raykit.check.authenticated(headers, status, dashboard=address)


def test_authenticated_passes_the_bearer_header_and_says_what_it_measured(
    stand_in_dashboard, capsys
):
    _judge(stand_in_dashboard, {"Authorization": f"Bearer {STAND_IN_TOKEN}"})
    _judge(stand_in_dashboard, {"X-Ray-Authorization": f"Bearer {STAND_IN_TOKEN}"})
    printed = capsys.readouterr().out
    assert printed.count(f"{TICK} the dashboard's /api/v0/nodes answered 200 with") == 2
    assert "and 401 without" in printed
    # It asked twice per judgment: once without headers, once with the learner's.
    assert [
        bool(h.get("Authorization") or h.get("X-Ray-Authorization"))
        for h in stand_in_dashboard.seen
    ] == [False, True, False, True]


@pytest.mark.parametrize(
    "headers, said",
    [
        ({}, "has no 'Authorization' header, so the dashboard saw no token (401)"),
        ({"Authentication": f"Bearer {STAND_IN_TOKEN}"}, "in a header named 'Authentication'"),
        ({"Bearer": STAND_IN_TOKEN}, "in a header named 'Bearer'"),
        ({"Authorization": STAND_IN_TOKEN}, "holds the token alone"),
        ({"Authorization": f"bearer {STAND_IN_TOKEN}"}, "'Bearer' with a capital B"),
        ({"Authorization": f"Token {STAND_IN_TOKEN}"}, "does not start with 'Bearer '"),
        ({"Authorization": f"Bearer  {STAND_IN_TOKEN}"}, "one space after 'Bearer', no more"),
        ({"Authorization": "Bearer " + "0" * 64}, "it is not this cluster's"),
        ({"Authorization": f"Bearer {STAND_IN_TOKEN}\n"}, "holds a line break"),
        ({"Authorization": f"Bearer {STAND_IN_TOKEN}".encode()}, "maps str to bytes"),
        (f"Bearer {STAND_IN_TOKEN}", "is a str, not a dict of HTTP headers"),
    ],
    ids=[
        "none",
        "wrong-name",
        "token-as-name-value",
        "no-bearer",
        "lower-bearer",
        "other-scheme",
        "two-spaces",
        "wrong-token",
        "newline",
        "bytes",
        "a-string",
    ],
)
def test_authenticated_refuses_wrong_headers_with_a_hint_never_the_token(
    stand_in_dashboard, headers, said
):
    message = _failed(lambda: _judge(stand_in_dashboard, headers))
    assert said in message, message
    assert STAND_IN_TOKEN not in message and STAND_IN_TOKEN[:16] not in message


def test_authenticated_names_a_token_files_path_and_a_status_not_measured(
    stand_in_dashboard, tmp_path
):
    token_file = tmp_path / "auth_token"
    token_file.write_text(STAND_IN_TOKEN)
    said = _failed(lambda: _judge(stand_in_dashboard, {"Authorization": f"Bearer {token_file}"}))
    assert "the path of a file after 'Bearer ', not the token in it" in said
    right = {"Authorization": f"Bearer {STAND_IN_TOKEN}"}
    assert "is 401, but the dashboard answers 200" in _failed(
        lambda: _judge(stand_in_dashboard, right, status=401)
    )
    assert "is a str, not an HTTP status" in _failed(
        lambda: _judge(stand_in_dashboard, right, status="200")
    )


def test_authenticated_says_when_token_authentication_is_off(stand_in_dashboard, capsys):
    stand_in_dashboard.mode = "disabled"
    _judge(stand_in_dashboard, {})
    assert "token authentication is off on this cluster" in capsys.readouterr().out


def test_authenticated_without_a_dashboard_fails_with_a_hint():
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    said = _failed(lambda: raykit.check.authenticated({}, 200, dashboard=f"127.0.0.1:{port}"))
    assert "could not ask the dashboard" in said


# --- the checks against a real cluster: a right and a wrong answer each ------------------------


@pytest.fixture(scope="module")
@starts_ray
def metrics_cluster():
    """A local cluster whose processes report metrics every second, as the lesson's does."""
    saved = os.environ.get("RAY_metrics_report_interval_ms")
    os.environ["RAY_metrics_report_interval_ms"] = "1000"
    session = raykit.init(num_cpus=2, object_store_memory="200MB")
    yield session
    raykit.shutdown()
    if saved is None:
        os.environ.pop("RAY_metrics_report_interval_ms", None)
    else:
        os.environ["RAY_metrics_report_interval_ms"] = saved


def _remote_parse_record():
    import ray

    def parse_record(line):
        print(f"parsing {line!r}")
        if not line.startswith("id="):
            print(f"rejected {line!r}", file=sys.stderr)
            raise ValueError(f"bad record: {line!r}")
        return line

    return ray.remote(max_retries=0)(parse_record)


def _task_log(address: str, task_id: str, suffix: str) -> str:
    """What a task wrote, once Ray can find it: a task's record can say FAILED (from its owner)
    a moment before the record of where its log is (from the worker that ran it) reaches the
    GCS, and get_log in between raises "Could not find log file" (seen in a make test run)."""
    from ray.util.state import get_log
    from ray.util.state.exception import RayStateApiException

    def read():
        try:
            return "".join(get_log(address=address, task_id=task_id, suffix=suffix))
        except RayStateApiException as error:
            if "Could not find log file" not in str(error):
                raise
            return None

    return raykit.wait_until(read, timeout_s=30, what=f"the task's {suffix} log")


@pytest.mark.ray_cluster
@pytest.mark.timeout(600)
def test_the_observability_checks_judge_from_rays_records(metrics_cluster, capsys):
    import numpy as np
    import ray
    from ray.util.state import list_tasks

    from raykit._observe import failed_by_function, wait_out
    from raykit._session import state_api_address

    parse_record = _remote_parse_record()
    good = parse_record.remote("id=1")
    ray.get(good)
    wait_out([parse_record.remote("garbage")])
    address = state_api_address()
    rows = raykit.wait_until(
        lambda: list_tasks(
            address=address,
            filters=[("func_or_class_name", "=", "parse_record"), ("state", "=", "FAILED")],
        ),
        timeout_s=60,
    )
    err, out = (_task_log(address, rows[0].task_id, suffix) for suffix in ("err", "out"))
    assert err.strip() == "rejected 'garbage'" and out.strip() == "parsing 'garbage'"

    # found_failed_task: the failed row with its stderr passes; stdout, or a finished task, fail.
    raykit.check.found_failed_task(rows[0], err, parse_record)
    assert "is what the task wrote to its stdout" in _failed(
        lambda: raykit.check.found_failed_task(rows[0], out, parse_record)
    )
    finished = raykit.task_state(good, wait_for="FINISHED")
    assert finished.state == "FINISHED"
    finished_row = {"task_id": good.task_id().hex()}  # a record as a dict, as the CLI's JSON
    assert "not FAILED" in _failed(
        lambda: raykit.check.found_failed_task(finished_row, err, parse_record)
    )

    # reports_failures: the kit's own reader passes; a reader that forgets the probes fails.
    raykit.check.reports_failures(failed_by_function)
    snapshot = failed_by_function()
    assert "does not match the FAILED counts" in _failed(
        lambda: raykit.check.reports_failures(lambda: snapshot)
    )

    # promql_counts, from one scrape (no server): the right selector passes, a wider one fails.
    right = 'sum(ray_tasks{Name="parse_record", State="FAILED"})'
    raykit.check.promql_counts(right, parse_record, "FAILED", more=["no id"])
    assert "Ray's State API lists" in _failed(
        lambda: raykit.check.promql_counts(
            'sum(ray_tasks{State=~"FAILED|FINISHED"})', parse_record, "FAILED", more=["x"]
        )
    )

    # freed_biggest: freeing the small one fails, naming the big entry; freeing the big passes.
    cache = {"small": ray.put(np.ones(1_000_000 // 8)), "big": ray.put(np.ones(80_000_000 // 8))}
    small_id = cache.pop("small").hex()
    assert "['big'] still holds an object of 80 MB" in _failed(
        lambda: raykit.check.freed_biggest(small_id, cache)
    )
    big_id = cache.pop("big").hex()
    raykit.check.freed_biggest(big_id, cache)

    # authenticated, against this cluster's dashboard: the host's token in a Bearer header
    # passes; the bare token is refused (403) with a hint that does not show it.
    token = _this_hosts_token()
    raykit.check.authenticated({"Authorization": f"Bearer {token}"}, 200)
    if token_auth_enabled():
        said = _failed(lambda: raykit.check.authenticated({"Authorization": token}, 403))
        assert "holds the token alone" in said and "(403)" in said and token not in said
    printed = capsys.readouterr().out
    assert printed.count(TICK) == 5, printed
