"""``raykit.doctor()`` and ``raykit doctor``: versions, host facts, problems with their fixes."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import raykit
from raykit import _doctor


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


def test_disabled_auth_is_flagged(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    row = next(f for f in raykit.doctor().findings if f.check == "Ray token auth")
    assert row.status == "warn" and "anyone" in row.fix


class _TagBalance(HTMLParser):
    VOID = {"br", "hr", "img", "meta", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data):
        self.text.append(data)


def test_html_table_is_well_formed_and_holds_the_facts():
    report = raykit.doctor()
    parser = _TagBalance()
    parser.feed(report._repr_html_())
    assert parser.stack == []
    text = " ".join(parser.text)
    assert "2.60.0" in text and "/dev/shm" in text


def test_cli_doctor_prints_the_table():
    proc = subprocess.run(
        [sys.executable, "-m", "raykit.cli", "doctor"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ray" in proc.stdout and "==2.60.0" in proc.stdout
