"""raykit.Prometheus: a real Prometheus server scrapes a live cluster and answers PromQL."""

from __future__ import annotations

import os
import time

import numpy as np
import psutil
import pytest
from _kuberay_crds import crds_or_skip
from _tiers import starts_ray

import raykit
from raykit import check
from raykit._prometheus import Prometheus, _matrix_frame, _vector_frame, find_prometheus
from raykit.check import CheckFailed
from raykit.exceptions import ConfigError, RaykitError
from raykit.kuberay import RayCluster, WorkerGroup

N_PROBE_TASKS = 30


def _require_prometheus() -> None:
    """Skip with the reason on a developer machine without the server; fail in CI."""
    if Prometheus().installed:
        return
    message = "no `prometheus` binary on PATH: install it with `sudo apt-get install prometheus`"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must have it: `make test` installs it).")
    pytest.skip(message)


# --- without a cluster ----------------------------------------------------------------------


def test_missing_binary_names_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="apt-get install prometheus"):
        find_prometheus(tmp_path / "no-such-prometheus")
    with pytest.raises(ConfigError, match="apt-get install prometheus"):
        Prometheus(binary=tmp_path / "no-such-prometheus").start()
    assert Prometheus(binary=tmp_path / "no-such-prometheus").installed is False


def test_missing_binary_on_path(monkeypatch):
    monkeypatch.delenv("RAYKIT_PROMETHEUS", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="no `prometheus` binary on PATH"):
        find_prometheus()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"port": "9090"}, "port="),
        ({"port": 70000}, "port="),
        ({"scrape_interval_s": 0}, "positive"),
        ({"scrape_interval_s": "2s"}, "scrape_interval_s="),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        Prometheus(**kwargs)


def test_port_and_url_are_known_before_start():
    prom = Prometheus()
    assert prom.url == f"http://127.0.0.1:{prom.port}"
    assert not prom.running and prom.pid is None
    with pytest.raises(RaykitError, match="not running"):
        prom.query("up")


def test_start_without_ray_says_init_first():
    _require_prometheus()
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray session from another test is running")
    with pytest.raises(RaykitError, match=r"raykit.init\(\)"):
        Prometheus().start()


def test_a_range_ends_on_its_end_whatever_its_start(monkeypatch):
    # Prometheus evaluates at start, start + step, ...: the window is moved back to a whole
    # number of steps so that the last point is `end`, where the newest sample shows.
    prom = Prometheus(scrape_interval_s=2)
    asked = []
    monkeypatch.setattr(prom, "_api", lambda path, params: asked.append(params) or {})
    for start, end, step in ((1000.2, 1010.0, 1), (1000.0, 1010.5, None), (5.0, 6.25, 0.5)):
        prom.query_range("up", start, end, step=step)
        params = asked[-1]
        grid = np.arange(float(params["start"]), float(params["end"]) + 1e-9, float(params["step"]))
        assert grid[-1] == pytest.approx(end, abs=0.001), params
        assert float(params["start"]) <= start < float(params["start"]) + float(params["step"])
    assert asked[1]["step"] == "2.000"  # the scrape interval when no step is given
    for bad in (0, -1, "1s", True):
        with pytest.raises(ConfigError, match="step="):
            prom.query_range("up", 0, 10, step=bad)


def test_api_answers_become_dataframes():
    vector = {
        "resultType": "vector",
        "result": [
            {"metric": {"State": "FINISHED", "Name": "f"}, "value": [1.0, "30"]},
            {"metric": {"State": "FAILED", "Name": "f"}, "value": [1.0, "1"]},
        ],
    }
    frame = _vector_frame(vector)
    assert list(frame.columns) == ["Name", "State", "value"]
    assert frame["value"].sum() == 31.0
    matrix = {
        "resultType": "matrix",
        "result": [{"metric": {"Location": "SPILLED"}, "values": [[10.0, "0"], [11.0, "5"]]}],
    }
    frame = _matrix_frame(matrix)
    assert list(frame.columns) == ["Location", "time", "value"]
    assert frame["value"].tolist() == [0.0, 5.0]
    assert _vector_frame({"resultType": "vector", "result": []}).empty


# --- a real cluster, a real Prometheus --------------------------------------------------------


@pytest.fixture(scope="module")
@starts_ray
def scraped_cluster():
    """A local Ray cluster whose dashboard knows the Prometheus, and the Prometheus itself."""
    _require_prometheus()
    import ray

    if ray.is_initialized():
        raykit.shutdown()
    prom = Prometheus(scrape_interval_s=1)
    saved = os.environ.get("RAY_PROMETHEUS_HOST")
    os.environ["RAY_PROMETHEUS_HOST"] = prom.url
    try:
        # Metrics every second (Ray's default is 10 s), so the counts arrive within seconds.
        raykit.init(
            num_cpus=2,
            object_store_memory="100MB",
            _system_config={"metrics_report_interval_ms": 1000},
        )
        prom.start()
        yield prom
    finally:
        prom.stop()
        raykit.shutdown()
        if saved is None:
            os.environ.pop("RAY_PROMETHEUS_HOST", None)
        else:
            os.environ["RAY_PROMETHEUS_HOST"] = saved


def test_promql_counts_the_tasks_the_workload_ran(scraped_cluster):
    import ray

    @ray.remote
    def prom_probe(i):
        return i

    start = time.time()
    assert ray.get([prom_probe.remote(i) for i in range(N_PROBE_TASKS)]) == list(
        range(N_PROBE_TASKS)
    )
    query = 'sum(ray_tasks{Name="prom_probe", State="FINISHED"})'
    frame = scraped_cluster.wait_for(query, minimum=N_PROBE_TASKS, timeout_s=120)
    assert not frame.empty, f"{query} returned nothing; targets:\n{scraped_cluster.targets()}"
    assert frame["value"].sum() >= N_PROBE_TASKS

    # The history up to a moment after the instant query saw the count ends with that count,
    # however the window's steps fall against the scrapes (CI once read 11 here: a one-second
    # step had landed between two targets' scrapes, and none came after).
    seen = time.time()
    history = scraped_cluster.query_range(query, start - 5, end=seen, step=1)
    assert {"time", "value"} <= set(history.columns)
    assert history["time"].iloc[-1] == pytest.approx(seen, abs=0.001), history.tail().to_string()
    assert history["value"].iloc[-1] >= N_PROBE_TASKS, history.tail().to_string()
    assert history["value"].iloc[-1] == scraped_cluster.query(query, at=seen)["value"].sum()


def test_every_ray_target_is_scraped(scraped_cluster):
    scraped_cluster.wait_for("up", minimum=1, timeout_s=30)
    targets = scraped_cluster.targets()
    assert len(targets) >= 1
    assert (targets["health"] == "up").any(), targets.to_string()
    # The configuration is Ray's own: its job name and its service-discovery file.
    job = scraped_cluster.config["scrape_configs"][0]
    assert job["job_name"] == "ray"
    assert job["file_sd_configs"][0]["files"][0].endswith("prom_metrics_service_discovery.json")


def test_bad_promql_raises_config_error(scraped_cluster):
    with pytest.raises(ConfigError, match="rejected the query"):
        scraped_cluster.query("sum(ray_tasks{")


def test_scrape_metrics_reads_the_endpoints_with_the_real_parser(scraped_cluster):
    import ray

    @ray.remote
    def scrape_probe():
        return 1

    ray.get([scrape_probe.remote() for _ in range(5)])
    deadline = time.monotonic() + 60
    while True:
        rows = raykit.scrape_metrics()
        tasks = rows[rows["name"] == "ray_tasks"]
        mine = tasks["labels"].map(
            lambda labels: (
                labels.get("Name") == "scrape_probe" and labels.get("State") == "FINISHED"
            )
        )
        if tasks[mine]["value"].sum() >= 5 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert list(rows.columns) == ["target", "name", "labels", "value"]
    assert tasks[mine]["value"].sum() >= 5


def test_server_is_recorded_with_its_start_time_and_watched(scraped_cluster):
    """Should this process die without stop(), a watchdog ends the server (tests/
    test_supervisor.py kills such an owner); here: what it relies on is in place."""
    server = psutil.Process(scraped_cluster.pid)
    recorded = {i.pid: i for i in scraped_cluster._sup.identities()}
    assert recorded[server.pid].create_time == pytest.approx(server.create_time(), abs=1)
    assert recorded[server.pid].stop == "term", "SIGTERM first: it closes its database"
    watchdog = psutil.Process(scraped_cluster._sup.watchdog.pid)
    assert watchdog.cmdline()[1:3] == ["-m", "raykit._watchdog"]
    assert str(scraped_cluster._work_dir) in watchdog.cmdline()
    assert scraped_cluster.watchdog_log.parent == scraped_cluster._work_dir.parent
    assert server.environ().get("RAYKIT_SUPERVISOR") == str(scraped_cluster._work_dir)


def test_stop_ends_the_process_and_removes_its_folder():
    _require_prometheus()
    import ray

    if not ray.is_initialized():
        pytest.skip("needs the module's cluster")
    prom = Prometheus().start()
    pid, work_dir, watchdog = prom.pid, prom._work_dir, prom._sup.watchdog.pid
    assert psutil.pid_exists(pid) and work_dir.is_dir()
    prom.stop()
    prom.stop()  # twice is fine
    assert not prom.running
    for gone in (pid, watchdog):
        assert not psutil.pid_exists(gone) or psutil.Process(gone).status() == psutil.STATUS_ZOMBIE
    assert not work_dir.exists()


# --- raykit.check.kuberay_manifest (lesson 11's self-check) -----------------------------------


def _pool(max_replicas: int = 6) -> RayCluster:
    return RayCluster(
        "cpu-pool",
        head_runs_tasks=False,
        autoscaling=True,
        worker_groups=[
            WorkerGroup(
                "cpu", cpu=4, memory="16Gi", replicas=1, min_replicas=1, max_replicas=max_replicas
            )
        ],
    )


POOL_GROUPS = {"cpu": {"cpu": "4", "memory": "16Gi", "minReplicas": 1, "maxReplicas": 6}}


def test_kuberay_manifest_check_right_answer(capsys):
    check.kuberay_manifest(
        _pool(), kind="RayCluster", name="cpu-pool", groups=POOL_GROUPS, crd=crds_or_skip()
    )
    assert "\u2713" in capsys.readouterr().out


def test_kuberay_manifest_check_wrong_answers():
    with pytest.raises(CheckFailed, match="maxReplicas=4"):
        check.kuberay_manifest(_pool(4), kind="RayCluster", groups=POOL_GROUPS)
    with pytest.raises(CheckFailed, match="not a RayJob"):
        check.kuberay_manifest(_pool(), kind="RayJob")
    with pytest.raises(CheckFailed, match="not a KubeRay manifest"):
        check.kuberay_manifest("not a manifest at all", kind="RayCluster")
    broken = _pool().to_dict()
    broken["spec"]["workerGroupSpecs"][0]["maxReplicas"] = 0  # below minReplicas
    with pytest.raises(CheckFailed, match="does not validate"):
        check.kuberay_manifest(broken, kind="RayCluster")


def test_kuberay_manifest_check_blank_answer():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.kuberay_manifest("pool_that_was_never_defined", kind="RayCluster")
