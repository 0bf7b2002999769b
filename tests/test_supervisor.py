"""raykit's one supervisor: kills checked by PID and start time; a watchdog outlives its owner."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from raykit._supervisor import Identity, Supervisor, watchdog_log_of

ROOT = Path(__file__).resolve().parent.parent
WATCHDOG_WAIT_S = 60  # the watchdog polls every second; a loaded host is slow to kill and reap


def _running(pid: int, create_time: float | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie), and, given ``create_time``, is that very process."""
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 1:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _marked(name: str, value: str) -> list[int]:
    """PIDs of running processes whose environment holds ``name=value``."""
    found = []
    for proc in psutil.process_iter(["environ"]):
        if (proc.info["environ"] or {}).get(name) == value and _running(proc.pid):
            found.append(proc.pid)
    return found


def _mentioning(text: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if text in " ".join(proc.info["cmdline"] or []) and _running(proc.pid):
            found.append(proc.pid)
    return found


def _write_stale_record(sup: Supervisor, pid: int, create_time: float) -> None:
    """A record line as the format says: this PID, but a start time that is not its own."""
    with open(sup.record_path, "a") as f:
        f.write(json.dumps({"pid": pid, "create_time": create_time, "what": "stale"}) + "\n")


@pytest.fixture
def stranger():
    """An unrelated live process (``sleep 60``), killed at the end by this test."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_identity_tells_a_reused_pid_apart(stranger):
    ident = Identity.of(psutil.Process(stranger.pid))
    assert ident.process() is not None and ident.process().pid == stranger.pid
    impostor = Identity(stranger.pid, ident.create_time - 3600)
    assert impostor.process() is None, "another start time: not the recorded process"
    assert impostor.reused().pid == stranger.pid


def test_stale_record_is_left_alone_by_close(tmp_path, stranger):
    folder = tmp_path / "owner"
    folder.mkdir()
    sup = Supervisor(folder)
    own = sup.start(["sleep", "60"], what="own sleep")
    _write_stale_record(sup, stranger.pid, psutil.Process(stranger.pid).create_time() - 3600)
    assert {own.pid, stranger.pid} <= {i.pid for i in sup.identities()}

    sup.close()

    assert own.poll() == -signal.SIGKILL, "the process it started is killed"
    assert stranger.poll() is None and _running(stranger.pid), "the stranger is left alone"
    assert not folder.exists()


def test_watchdog_of_a_gone_owner_kills_the_recorded_spares_the_stale_and_logs(tmp_path, stranger):
    folder = tmp_path / "owner"
    folder.mkdir()
    sup = Supervisor(folder)
    own = sup.start(["sleep", "60"], what="own sleep")
    _write_stale_record(sup, stranger.pid, psutil.Process(stranger.pid).create_time() - 3600)
    # The owner named is this process's PID with another start time: a PID reused since the
    # owner died, so the watchdog must treat the owner as gone, at once.
    me = psutil.Process()
    watchdog = subprocess.run(
        [
            sys.executable,
            "-m",
            "raykit._watchdog",
            str(me.pid),
            repr(me.create_time() - 3600),
            str(folder),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert watchdog.returncode == 0, watchdog.stderr
    assert own.wait(timeout=10) == -signal.SIGKILL, "the recorded process is killed"
    assert stranger.poll() is None and _running(stranger.pid), "the stale PID is left alone"
    assert not folder.exists()
    log = watchdog_log_of(folder).read_text()
    assert f"owner {me.pid}" in log and "is gone" in log
    assert f"SIGKILL {own.pid} sleep" in log, log
    assert f"left alone {stranger.pid} sleep" in log, log
    assert f"SIGKILL {stranger.pid}" not in log


def test_watchdog_leaves_a_live_owner_alone_and_ends_with_its_folder(tmp_path):
    folder = tmp_path / "owner"
    folder.mkdir()
    sup = Supervisor(folder)
    own = sup.start(["sleep", "60"], what="own sleep")
    watchdog = sup.spawn_watchdog()
    try:
        time.sleep(3)  # three of the watchdog's polls, its owner (this process) alive
        assert own.poll() is None and watchdog.poll() is None
        shutil.rmtree(folder)  # what a normal close does last
        assert watchdog.wait(timeout=60) == 0
        assert own.poll() is None, "a live owner's processes are its own business"
        assert not watchdog_log_of(folder).exists(), "no log when the watchdog did nothing"
    finally:
        own.kill()
        own.wait()
        if watchdog.poll() is None:
            watchdog.kill()
            watchdog.wait()


def test_no_preexec_fn_or_prctl_in_raykit():
    """preexec_fn runs Python between fork and exec: unsafe in a threaded driver."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "raykit").rglob("*.py")
        if "preexec_fn" in path.read_text() or "prctl" in path.read_text()
    ]
    assert offenders == []


_OWNER = """
import json, sys, time
import raykit
from raykit import MiniCluster, Prometheus

mc = MiniCluster(gcs_fault_tolerance=True)
raykit.init(address=mc.address)
sups = [mc._sup]
prom = Prometheus(scrape_interval_s=1)
if prom.installed:
    prom.start()
    sups.append(prom._sup)
mc.processes()  # records what runs now, workers included
print(json.dumps({
    "folders": [str(s.folder) for s in sups],
    "logs": [str(s.watchdog_log) for s in sups],
    "records": [[i.pid, i.create_time, i.what] for s in sups for i in s.identities()],
    "redis": [i.pid for i in mc._sup.identities() if i.what == "redis-server"],
    "raylet": mc.head.raylet().pid,
    "prometheus": prom.pid,
}), flush=True)
time.sleep(3600)
"""


def _read_ready_line(proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("{"):
                return json.loads(line)
    raise AssertionError(f"the owner did not get ready (exit code {proc.poll()})")


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
@pytest.mark.ray_cluster
def test_sigkill_of_the_owner_leaves_no_node_redis_or_prometheus_behind(tmp_path):
    from raykit._minicluster import CLUSTER_MARKER

    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "owner.err", "w"),  # noqa: SIM115 - closed with the test
        text=True,
    )
    try:
        ready = _read_ready_line(owner, timeout=600)
    except AssertionError:
        owner.kill()
        owner.wait()
        raise AssertionError((tmp_path / "owner.err").read_text()[-3000:]) from None
    records = ready["records"]
    assert ready["redis"] and ready["raylet"] in {r[0] for r in records}
    if shutil.which("prometheus"):
        assert ready["prometheus"] in {r[0] for r in records}
    assert all(_running(pid, ctime) for pid, ctime, _ in records if pid in ready["redis"])

    owner.send_signal(signal.SIGKILL)  # no close(), no atexit, no finalizer
    owner.wait()

    root = ready["folders"][0]

    def left() -> list:
        alive = [r for r in records if _running(r[0], r[1])]
        for folder in ready["folders"]:
            alive += _marked("RAYKIT_SUPERVISOR", folder)
        return alive + _marked(CLUSTER_MARKER, root) + _mentioning(root)

    deadline = time.monotonic() + WATCHDOG_WAIT_S
    while left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left() == [], "every recorded process, and every marked one, is gone"
    for folder in ready["folders"]:
        assert not os.path.exists(folder)
    cluster_log = Path(ready["logs"][0]).read_text()
    assert f"SIGKILL {ready['raylet']} raylet" in cluster_log, cluster_log
    assert f"SIGKILL {ready['redis'][0]} redis-server" in cluster_log, cluster_log
    if ready["prometheus"]:
        prom_log = Path(ready["logs"][1]).read_text()
        assert f"SIGTERM {ready['prometheus']} prometheus" in prom_log, prom_log
    for log in ready["logs"]:
        os.remove(log)
