"""raykit._celery.CeleryWorkers: a real redis-server and Celery worker run tasks, then end."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from raykit import _celery
from raykit._celery import CeleryWorkers
from raykit.exceptions import ConfigError, RaykitError

needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="no redis-server on PATH: install it with `make system-deps` or "
    "`sudo apt-get install redis-server`",
)

JOBS = textwrap.dedent(
    """
    import os

    from celery import Celery

    app = Celery(
        "{name}",
        broker=os.environ["CELERY_BROKER_URL"],
        backend=os.environ["CELERY_RESULT_BACKEND"],
    )


    @app.task
    def square(x):
        return x * x


    @app.task
    def pid():
        return os.getpid()
    """
)


@pytest.fixture
def jobs_folder(tmp_path, monkeypatch):
    """tmp_path with jobs_t.py in it, importable here; this process's environment restored and
    the module forgotten afterwards."""
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "jobs_t.py").write_text(JOBS.format(name="jobs_t"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    module = sys.modules.pop("jobs_t", None)
    if module is not None:
        module.app.close()


def _live(pids) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _listening(pid: int) -> list[str]:
    return [
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]


@needs_redis
def test_tasks_run_in_the_worker_pool(jobs_folder):
    with CeleryWorkers("jobs_t", jobs_folder, concurrency=2) as workers:
        assert os.environ["CELERY_BROKER_URL"] == workers.broker_url
        assert os.environ["CELERY_RESULT_BACKEND"] == workers.broker_url
        import celery
        import jobs_t

        squares = celery.group(jobs_t.square.s(i) for i in range(20))().get(timeout=30)
        assert squares == [
            0, 1, 4, 9, 16, 25, 36, 49, 64, 81,
            100, 121, 144, 169, 196, 225, 256, 289, 324, 361,
        ]  # fmt: skip
        pool = workers.pool_pids()
        assert len(pool) == 2 and pool == sorted(pool)
        pids = celery.group(jobs_t.pid.s() for _ in range(20))().get(timeout=30)
        assert set(pids) <= set(pool)
        assert os.getpid() not in pids
        assert " ready." in workers.log()
        assert workers.log_path.is_file()
        assert "module='jobs_t'" in repr(workers)

        # Redis and the worker listen on 127.0.0.1 only (the worker, a client, on nothing).
        assert workers.broker_url.startswith("redis://127.0.0.1:")
        command = workers.redis.args  # redis-server retitles itself "redis-server HOST:PORT"
        assert command[command.index("--bind") + 1] == "127.0.0.1"
        port = workers.broker_url.rsplit(":", 1)[1].split("/")[0]
        assert f"127.0.0.1:{port}" in " ".join(psutil.Process(workers.redis.pid).cmdline())
        assert _listening(workers.redis.pid) == ["127.0.0.1"]
        for pid in [workers.worker.pid, *pool]:
            assert set(_listening(pid)) <= {"127.0.0.1"}
    assert workers.closed


@needs_redis
def test_close_ends_every_process_and_removes_the_folder(jobs_folder):
    workers = CeleryWorkers("jobs_t", jobs_folder, concurrency=2)
    pool = workers.pool_pids()
    started = workers._sup.pids | set(pool)  # redis, the worker, the watchdog, the pool
    assert {workers.redis.pid, workers.worker.pid} <= started
    assert len(_live(started)) == len(started) == 5
    folder = workers.work_folder
    assert folder.is_dir()

    workers.close()
    assert _live(started) == []
    assert not folder.exists()
    assert workers.closed
    assert workers.pool_pids() == []
    assert "closed" in repr(workers)
    assert "Warm shutdown" in workers.log()  # the worker got SIGTERM, and the log is kept
    workers.close()  # harmless
    assert workers.closed


def _record_supervisors(monkeypatch) -> list:
    """The Supervisors CeleryWorkers makes from now on, kept to inspect after a failed start."""
    made = []

    class Recording(_celery.Supervisor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(_celery, "Supervisor", Recording)
    return made


@needs_redis
def test_a_worker_that_cannot_load_its_module_raises_and_leaves_nothing(tmp_path, monkeypatch):
    (tmp_path / "broken_t.py").write_text("raise ImportError('broken on purpose')\n")
    made = _record_supervisors(monkeypatch)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    with pytest.raises(RaykitError, match="broken on purpose"):
        CeleryWorkers("broken_t", tmp_path, timeout_s=60)
    (sup,) = made
    assert _live(sup.pids) == []
    assert not sup.folder.exists()
    assert "CELERY_BROKER_URL" not in os.environ  # a failed start leaves the environment alone


@needs_redis
def test_a_worker_not_ready_in_time_raises_and_leaves_nothing(jobs_folder, monkeypatch):
    made = _record_supervisors(monkeypatch)
    # Python alone takes longer than this to import Celery.
    with pytest.raises(RaykitError, match=r"timeout_s=0\.3"):
        CeleryWorkers("jobs_t", jobs_folder, timeout_s=0.3)
    (sup,) = made
    assert _live(sup.pids) == []
    assert not sup.folder.exists()


@pytest.mark.parametrize(
    "args, kwargs, word",
    [
        (("my jobs", None), {}, "module='my jobs'"),
        (("jobs_t.py", None), {}, "module='jobs_t.py'"),
        (("jobs_t", "missing"), {}, "folder="),
        (("other", None), {}, "has no other.py"),
        (("jobs_t", None), {"concurrency": 0}, "concurrency=0"),
        (("jobs_t", None), {"concurrency": True}, "concurrency=True"),
        (("jobs_t", None), {"concurrency": 1.5}, "concurrency=1.5"),
        (("jobs_t", None), {"timeout_s": 0}, "timeout_s=0"),
        (("jobs_t", None), {"timeout_s": "60"}, "timeout_s='60'"),
    ],
)
def test_bad_arguments_name_the_fix_before_anything_starts(
    tmp_path, monkeypatch, args, kwargs, word
):
    (tmp_path / "jobs_t.py").write_text(JOBS.format(name="jobs_t"))

    def no_start(*_args, **_kwargs):
        raise AssertionError("nothing may start before the arguments are checked")

    monkeypatch.setattr(_celery, "Supervisor", no_start)
    monkeypatch.setattr(_celery.tempfile, "mkdtemp", no_start)
    module, folder = args
    folder = tmp_path / "nowhere" if folder == "missing" else tmp_path
    with pytest.raises(ConfigError) as caught:
        CeleryWorkers(module, folder, **kwargs)
    assert word in str(caught.value)
    assert "e.g." in str(caught.value) or "write the module" in str(caught.value)


def test_missing_redis_server_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "jobs_t.py").write_text(JOBS.format(name="jobs_t"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(_celery.tempfile, "mkdtemp", lambda **_: pytest.fail("started"))
    with pytest.raises(RaykitError, match="apt-get install redis-server") as caught:
        CeleryWorkers("jobs_t", Path(tmp_path))
    assert "make system-deps" in str(caught.value)
    assert not isinstance(caught.value, ConfigError)
