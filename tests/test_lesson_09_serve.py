"""Lesson 09 (Ray Serve) prints what it claims; its Serve checks and helpers judge right."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
from itertools import cycle
from types import SimpleNamespace

import pytest
from _http import send_json

import raykit
from raykit import ConfigError, _serve
from raykit.check import CheckFailed

# --- the lesson, run in small mode after lesson 08 (whose model it serves) ---------------------


@pytest.fixture(scope="module")
def serve_text(executed):
    executed("08_tune.ipynb")  # 09 serves the model 08 saves; run in lesson order
    return executed.text("09_serve.ipynb")


def test_serve_uses_the_model_lesson_08_saved(serve_text):
    assert "using lesson 08's best model from" in serve_text


def test_serve_prints_its_latency_table(serve_text):
    assert "Serve latency table" in serve_text
    rows = re.findall(
        r"^\s*(plain|batched)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
        serve_text,
        re.M,
    )
    assert {row[0] for row in rows} == {"plain", "batched"}
    assert all(float(row[4]) > 0 for row in rows), "every level answered requests"


def test_serve_measures_model_handle_and_http_latency(serve_text):
    forward = re.search(r"forward pass: ([\d.]+) ms \(median of (\d+)\)", serve_text)
    assert forward and int(forward.group(2)) == 200
    p50 = dict(re.findall(r"^\s*(handle|HTTP): p50 ([\d.]+) ms, p99 [\d.]+ ms", serve_text, re.M))
    assert set(p50) == {"handle", "HTTP"}, "both paths are timed and printed"
    assert "predicted" in serve_text.lower() or "no prediction" in serve_text.lower()


def test_served_model_answers_held_out_examples_correctly(serve_text):
    found = re.search(r"served accuracy on (\d+) held-out examples: ([\d.]+)", serve_text)
    assert found, "the lesson measures accuracy over HTTP"
    assert int(found.group(1)) > 0 and float(found.group(2)) > 0.5


def test_every_exercise_check_passed(serve_text):
    for exercise_id in ("09.fastapi", "09.compose", "09.three-replicas", "09.config"):
        assert f"\u2713 {exercise_id}" in serve_text, exercise_id


def test_fastapi_app_serves_its_route_description(serve_text):
    assert re.search(r"routes of the api application: \[[^\]]*'/predict'", serve_text)


def test_autoscaling_samples_are_printed(serve_text):
    found = re.search(r"sampled once a second under load: \[([\d, ]+)\]", serve_text)
    assert found and all(1 <= int(n) <= 3 for n in found.group(1).split(","))


def test_serve_loses_no_request_with_a_client_retry(serve_text):
    assert re.search(r"killed SERVE_REPLICA::faulty#DigitModel#\w+", serve_text)
    assert re.search(r"requests failed without retry: \d+ of \d+", serve_text)
    assert re.search(r"requests failed with retry: 0 of \d+", serve_text)


def test_serve_updated_in_place_and_answers_the_new_version(serve_text):
    assert re.search(r"answers by version during the update: \{[^}]*'v2'", serve_text)
    assert re.search(r"now: \{[^}]*'version': 'v2'", serve_text)


def test_serve_status_cli_reports_the_config_app(serve_text):
    assert re.search(r"status: RUNNING", serve_text), "`serve status` printed the app's status"
    assert "import_path: digits_app:build" in serve_text, "`serve config` printed the config"


# --- the checks, on stand-ins: Serve's status as serve.status() gives it, a loopback HTTP server --


class _Answers(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the next body from the server's ``answers`` (cycled)."""

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body = next(self.server.answers)
        send_json(self, status, body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A loopback HTTP server; set ``server.answers`` to the (status, body) pairs to cycle."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    httpd.answers = cycle([(200, {})])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _overview(status="RUNNING", deployments=None, message=""):
    deployments = deployments or {"DigitModel": {"RUNNING": 1}}
    return SimpleNamespace(
        status=SimpleNamespace(value=status),
        message=message,
        deployments={
            name: SimpleNamespace(status=SimpleNamespace(value="HEALTHY"), replica_states=states)
            for name, states in deployments.items()
        },
    )


@pytest.fixture
def serve_state(monkeypatch):
    """``serve_state[app] = overview``: what the checks read as serve.status()."""
    apps: dict = {}
    monkeypatch.setattr(_serve, "app_overview", lambda app: apps.get(app))
    return apps


def _handle(app="digits", deployment="DigitModel"):
    from ray.serve.handle import DeploymentHandle

    return DeploymentHandle(deployment, app)


def test_serve_answers_passes_right_http_answers(server, serve_state, capsys):
    serve_state["api"] = _overview(deployments={"DigitAPI": {"RUNNING": 1}})
    server.answers = cycle([(200, {"digit": 7, "extra": 1}), (200, {"digit": 2})])
    expected = [{"digit": 7}, {"digit": 2}]
    raykit.check.serve_answers(_handle("api", "DigitAPI"), server.url, [{}, {}], expected)
    assert "RUNNING in serve.status()" in capsys.readouterr().out


def test_serve_answers_fails_on_a_wrong_answer_or_an_http_error(server, serve_state):
    serve_state["api"] = _overview()
    server.answers = cycle([(200, {"digit": 1})])
    with pytest.raises(CheckFailed, match="expected"):
        raykit.check.serve_answers(_handle("api"), server.url, [{}], [{"digit": 7}])
    server.answers = cycle([(404, {"detail": "Not Found"})])
    with pytest.raises(CheckFailed, match="HTTP 404") as info:
        raykit.check.serve_answers(_handle("api"), server.url, [{}], [{"digit": 7}])
    assert "@serve.ingress(app)" in info.value.hint, "an HTTP error says where to look"


def test_serve_answers_fails_when_the_app_is_not_running(server, serve_state):
    serve_state["api"] = _overview("DEPLOY_FAILED", message="ImportError: no module\n  trace")
    with pytest.raises(CheckFailed, match="DEPLOY_FAILED, not RUNNING: ImportError"):
        raykit.check.serve_answers(_handle("api"), server.url, [{}], [{"digit": 7}])
    serve_state.clear()
    with pytest.raises(CheckFailed, match="no application named 'api'"):
        raykit.check.serve_answers(_handle("api"), server.url, [{}], [{"digit": 7}])


def test_serve_checks_refuse_a_typed_value_or_a_blank():
    with pytest.raises(CheckFailed, match="not the DeploymentHandle"):
        raykit.check.serve_replicas(3, 3)
    with pytest.raises(CheckFailed, match="not defined yet"):
        raykit.check.serve_replicas("no_such_handle", 3)


def test_serve_replicas_counts_serves_replicas_and_the_ones_that_answered(server, serve_state):
    serve_state["digits"] = _overview(deployments={"DigitModel": {"RUNNING": 3}})
    server.answers = cycle([(200, {"replica": r}) for r in ("a", "b", "a", "c")])
    raykit.check.serve_replicas(_handle(), 3, server.url, [{}])
    server.answers = cycle([(200, {"replica": r}) for r in ("a", "b")])
    with pytest.raises(CheckFailed, match="reached 2 replicas, not 3"):
        raykit.check.serve_replicas(_handle(), 3, server.url, [{}])


def test_serve_replicas_fails_on_another_count(serve_state):
    serve_state["digits"] = _overview(deployments={"DigitModel": {"RUNNING": 1, "STOPPING": 2}})
    with pytest.raises(CheckFailed, match="reports 1 RUNNING replicas .* not 3"):
        raykit.check.serve_replicas(_handle(), 3)


def test_serve_composed_needs_every_deployment_behind_the_ingress(server, serve_state):
    server.answers = cycle([(200, {"digit": 4, "word": "four"})])
    expected = [{"digit": 4, "word": "four"}]
    names = ["Preprocess", "DigitModel", "ToWord"]
    serve_state["words"] = _overview(deployments={"WordPipeline": {"RUNNING": 1}})
    with pytest.raises(CheckFailed, match="no deployment DigitModel, Preprocess, ToWord"):
        raykit.check.serve_composed(_handle("words", "WordPipeline"), names, server.url, [{}],
                                    expected)  # fmt: skip
    serve_state["words"] = _overview(deployments={n: {"RUNNING": 1} for n in names + ["W"]})
    raykit.check.serve_composed(_handle("words", "W"), names, server.url, [{}], expected)


_CONFIG = """
applications:
  - name: digits-config
    route_prefix: /config
    import_path: digits_app:build
    deployments:
      - name: DigitModel
        num_replicas: 2
"""


def test_serve_config_judges_the_file_and_what_serve_runs(tmp_path, serve_state, monkeypatch):
    path = tmp_path / "serve_config.yaml"
    path.write_text(_CONFIG)
    monkeypatch.setitem(globals(), "config_path", path)
    serve_state["digits-config"] = _overview(deployments={"DigitModel": {"RUNNING": 2}})
    raykit.check.serve_config("config_path", "digits-config", {"DigitModel": 2})
    serve_state["digits-config"] = _overview(deployments={"DigitModel": {"RUNNING": 1}})
    with pytest.raises(CheckFailed, match="1 RUNNING replicas of 'DigitModel'"):
        raykit.check.serve_config("config_path", "digits-config", {"DigitModel": 2})


def test_serve_config_refuses_a_file_serve_would_refuse(tmp_path, serve_state, monkeypatch):
    path = tmp_path / "serve_config.yaml"
    path.write_text(_CONFIG.replace("num_replicas: 2", "num_replicas: two"))
    monkeypatch.setitem(globals(), "config_path", path)
    with pytest.raises(CheckFailed, match="Serve does not accept serve_config.yaml"):
        raykit.check.serve_config("config_path", "digits-config", {"DigitModel": 2})
    path.write_text(_CONFIG.replace("digits-config", "other"))
    with pytest.raises(CheckFailed, match="names no application 'digits-config'"):
        raykit.check.serve_config("config_path", "digits-config", {"DigitModel": 2})


def test_serve_config_fails_when_serve_never_got_the_file(tmp_path, serve_state, monkeypatch):
    path = tmp_path / "serve_config.yaml"
    path.write_text(_CONFIG)
    monkeypatch.setitem(globals(), "config_path", path)
    monkeypatch.setattr(_serve, "CONFIG_APPEAR_S", 0.3)  # the lesson waits longer
    with pytest.raises(CheckFailed, match="no application named 'digits-config'"):
        raykit.check.serve_config("config_path", "digits-config", {"DigitModel": 2})


# --- helpers ----------------------------------------------------------------------------------


def test_free_port_is_free_on_loopback_and_refuses_other_hosts():
    port = raykit.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing holds it
    with pytest.raises(ConfigError, match="host"):
        raykit.free_port("0.0.0.0")


def test_under_load_runs_the_action_during_the_load_and_keeps_samples(server):
    server.answers = cycle([(200, {"version": "v1"})])
    calls = []
    run = raykit.under_load(
        server.url,
        payloads=[{}],
        seconds=1.0,
        concurrency=2,
        action=lambda: calls.append("done") or "result",
        after_s=0.3,
        sample=lambda: len(calls),
        every_s=0.1,
    )
    assert run.action_result == "result" and calls == ["done"]
    assert run.report.requests > 0 and run.report.failures == 0
    assert run.samples[0] == 0 and run.samples[-1] == 1, "sampled before and after the action"


def test_under_load_keeps_a_failed_sample_as_its_error_name(server):
    run = raykit.under_load(
        server.url, payloads=[{}], seconds=0.3, sample=lambda: 1 / 0, every_s=0.1
    )
    assert run.samples and set(run.samples) == {"ZeroDivisionError"}


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"seconds": -1}, "seconds"), ({"after_s": -1}, "after_s"), ({"action": 3}, "action")],
)
def test_under_load_names_a_bad_argument(kwargs, argument):
    call = {"payloads": [{}], "seconds": 1, **kwargs}
    with pytest.raises(ConfigError, match=argument):
        raykit.under_load("http://127.0.0.1:1/", **call)


def test_kill_replica_names_a_bad_argument():
    with pytest.raises(ConfigError, match="deployment"):
        raykit.kill_replica("faulty", "")


def test_post_json_reads_json_or_text(server):
    server.answers = cycle([(201, {"a": 1})])
    assert _serve.post_json(server.url, {}) == (201, {"a": 1})
    assert json.loads(json.dumps(_serve.first_line("\n  first  \nsecond"))) == "first"
