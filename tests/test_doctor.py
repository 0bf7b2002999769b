"""``raykit.doctor()`` and ``raykit doctor``: versions, host facts, problems with their fixes."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import psutil
from conftest import well_formed_text

import raykit
from raykit import _doctor, _exposure


def test_report_covers_versions_host_auth_and_clusters():
    report = raykit.doctor()
    checks = [f.check for f in report.findings]
    for expected in (
        "Python",
        "ray",
        "torch",
        "jupyterlab",
        "ipywidgets",
        "CPUs",
        "GPUs",
        "RAM",
        "/dev/shm",
        "Ray token auth",
        "Ray clusters on this host",
    ):
        assert expected in checks
    ray_row = next(f for f in report.findings if f.check == "ray")
    assert ray_row.expected == "==2.60.0" and ray_row.status == "ok"


def test_a_missing_library_is_a_failure_with_a_fix(monkeypatch):
    real = _doctor.installed_version
    monkeypatch.setattr(
        _doctor, "installed_version", lambda name: None if name == "papermill" else real(name)
    )
    report = raykit.doctor()
    row = next(f for f in report.findings if f.check == "papermill")
    assert row.status == "fail" and "make lab" in row.fix
    assert not report.ok
    assert "papermill: not installed" in str(report)


def test_a_wrong_ray_version_is_a_failure(monkeypatch):
    real = _doctor.installed_version
    monkeypatch.setattr(
        _doctor, "installed_version", lambda name: "2.9.0" if name == "ray" else real(name)
    )
    row = next(f for f in raykit.doctor().findings if f.check == "ray")
    assert (row.found, row.status) == ("2.9.0", "fail")


SLOW_IMPORT = "rfc3987-syntax (slows `import ray`)"


def test_the_kits_environment_has_no_slow_ray_import():
    row = next(f for f in raykit.doctor().findings if f.check == SLOW_IMPORT)
    assert (row.found, row.status) == ("not installed", "ok")


def test_rfc3987_syntax_installed_is_a_warning_with_the_uninstall(monkeypatch):
    """A learner's own environment with Jupyter in it has it: the doctor says what it costs."""
    real = _doctor.installed_version
    monkeypatch.setattr(
        _doctor,
        "installed_version",
        lambda name: "1.1.0" if name == "rfc3987-syntax" else real(name),
    )
    report = raykit.doctor()
    row = next(f for f in report.findings if f.check == SLOW_IMPORT)
    assert (row.found, row.status) == ("1.1.0", "warn")
    assert "pip uninstall rfc3987-syntax" in str(report) and report.ok, "a warning, not a failure"


def test_disabled_auth_is_flagged(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    row = next(f for f in raykit.doctor().findings if f.check == "Ray token auth")
    assert row.status == "warn" and "anyone" in row.fix


def test_html_table_is_well_formed_and_holds_the_facts():
    report = raykit.doctor()
    text = well_formed_text(report._repr_html_())
    assert "2.60.0" in text and "/dev/shm" in text


def test_cli_doctor_prints_the_table():
    proc = subprocess.run(
        [sys.executable, "-m", "raykit.cli", "doctor"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ray" in proc.stdout and "==2.60.0" in proc.stdout


class _FakeProcess:
    """What listeners() reads of a psutil Process: a title, a start time, listening sockets."""

    def __init__(self, pid, title, started, port, ip="192.0.2.2"):
        self.pid, self._title, self._started = pid, title, started
        address = SimpleNamespace(ip=ip, port=port)
        self._conn = SimpleNamespace(status=psutil.CONN_LISTEN, laddr=address)

    def cmdline(self):
        return [self._title]

    def name(self):
        return self._title

    def create_time(self):
        return self._started

    def net_connections(self, kind="tcp"):
        return [self._conn]


def test_the_open_ports_come_in_the_order_their_processes_started_not_by_pid():
    # After the host's PIDs wrapped around, the workers got lower PIDs than the GCS and raylet.
    procs = [
        _FakeProcess(32701, "/x/gcs_server", 1000.0, 40001),
        _FakeProcess(32705, "/x/raylet", 1001.0, 40002),
        *[_FakeProcess(300 + i, "ray::IDLE", 1010.0 + i, 41000 + i) for i in range(8)],
    ]
    found = _exposure.exposed(list(reversed(procs)))
    assert [item.pid for item in found] == [p.pid for p in procs]
    finding = str(found[:6])
    assert "gcs_server" in finding and "raylet" in finding


def test_the_doctor_says_when_the_open_ports_are_serve_replicas():
    # Ray 2.60 binds each Serve replica's gRPC server on [::], on a loopback cluster too.
    from raykit._doctor import exposure_finding

    replica = _FakeProcess(501, "ray::ServeReplica:app:Model", 1000.0, 36463, ip="::")
    gcs = _FakeProcess(502, "/x/gcs_server", 999.0, 40001)
    only_replicas = exposure_finding(_exposure.exposed([replica]))
    assert only_replicas.status == "warn"
    assert "ray::ServeReplica:app:Model (pid 501) on [::]:36463" in only_replicas.found
    assert "Ray Serve replicas (1 of these)" in only_replicas.fix
    assert "serve.shutdown()" in only_replicas.fix and "raykit.init()" not in only_replicas.fix
    both = exposure_finding(_exposure.exposed([replica, gcs]))
    assert both.found.startswith("2: gcs_server (pid 502)"), both.found
    assert "raykit.init()" in both.fix and "Ray Serve replicas (1 of these)" in both.fix
    assert exposure_finding([]).status == "ok"


def test_the_doctor_shows_the_ports_the_user_can_close_before_older_serve_replicas():
    # Another app's Serve replicas, started before this cluster, filled the first six places
    # and hid its raylet (CI, a lesson serving beside the suite's expose=True cluster).
    from raykit._doctor import exposure_finding

    replicas = [
        _FakeProcess(600 + i, "ray::ServeReplica:app:Model", 900.0 + i, 36000 + i, ip="::")
        for i in range(6)
    ]
    gcs = _FakeProcess(700, "/x/gcs_server", 1000.0, 40001)
    raylet = _FakeProcess(701, "/x/raylet", 1001.0, 40002)
    finding = exposure_finding(_exposure.exposed([*replicas, gcs, raylet]))
    assert finding.found.startswith("8: gcs_server (pid 700) on 192.0.2.2:40001; raylet (pid 701)")
    assert finding.found.endswith(" and 2 more"), finding.found
    assert "Ray Serve replicas (6 of these)" in finding.fix
