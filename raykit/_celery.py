"""``CeleryWorkers``: a private redis-server and a real Celery worker, for lesson 13."""

from __future__ import annotations

import keyword
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import psutil

from ._ports import free_port
from ._supervisor import Supervisor, is_running
from .exceptions import ConfigError, RaykitError

HOST = "127.0.0.1"
# Celery logs "<nodename> ready." once its pool has started and it consumes from the broker.
READY_MARK = " ready."
LOG_TAIL_LINES = 20
POLL_S = 0.1
_INSTALL_HINT = (
    "Install it with `make system-deps`, or `sudo apt-get install redis-server` "
    "(Debian/Ubuntu; `brew install redis` on macOS)."
)


class CeleryWorkers:
    """A Celery worker with a prefork pool, and the redis-server it uses, on this host.

    Both are real: ``redis-server`` on 127.0.0.1 (a free port, state in memory only) is the
    broker and the result backend, and ``python -m celery -A <module> worker`` runs the tasks of
    ``<folder>/<module>.py`` in ``concurrency`` forked processes. ``CELERY_BROKER_URL`` and
    ``CELERY_RESULT_BACKEND`` are set to :attr:`broker_url` in the worker's environment and, once
    the worker is ready, in this process's too: a module imported afterwards that builds its app
    with ``Celery(broker=os.environ["CELERY_BROKER_URL"],
    backend=os.environ["CELERY_RESULT_BACKEND"])`` talks to the same Redis.

    Parameters
    ----------
    module : str
        The name of the Python module that defines the Celery app (``app = Celery(...)``) and
        its tasks, such as ``"jobs13"``: a plain identifier, no dots.
    folder : str or os.PathLike
        The folder that holds ``<module>.py``; it is put on the worker's ``PYTHONPATH`` and is
        its working directory.
    concurrency : int
        Processes in the worker's prefork pool.
    timeout_s : float
        Seconds to wait for Redis and the worker to be ready before giving up.

    Notes
    -----
    Both processes are started through ``raykit._supervisor`` (recorded by PID and creation
    time, watched by a watchdog that ends them if this process dies), and end with
    :meth:`close`, at the end of ``with``, when the object is collected, or when Python exits.
    The worker gets SIGTERM first (Celery's warm shutdown), then SIGKILL for whatever is left.

    Examples
    --------
    >>> with CeleryWorkers("jobs13", ".", concurrency=4) as workers:
    ...     import jobs13
    ...     jobs13.square.delay(3).get(timeout=10)
    9
    """

    def __init__(
        self,
        module: str,
        folder: str | os.PathLike,
        *,
        concurrency: int = 2,
        timeout_s: float = 60.0,
    ):
        folder = _check_args(module, folder, concurrency, timeout_s)
        redis = shutil.which("redis-server")
        if redis is None:
            raise RaykitError(
                f"CeleryWorkers needs redis-server, which is not on PATH. {_INSTALL_HINT}"
            )
        self.module = module
        self.folder = folder
        self.concurrency = concurrency
        self.timeout_s = float(timeout_s)
        self.port = free_port("")  # free on every interface, not only where Redis will bind
        self.broker_url = f"redis://{HOST}:{self.port}/0"
        self.work_folder = Path(tempfile.mkdtemp(prefix="raykit-celery-"))
        self.log_path = self.work_folder / "worker.log"
        self.redis_log_path = self.work_folder / "redis.log"
        self.redis: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self._last_log = ""
        self._sup = Supervisor(self.work_folder)
        # Runs on close(), on garbage collection and at interpreter exit; holds no reference to
        # self, so it does not keep the object alive.
        self._finalizer = weakref.finalize(self, _cleanup, self._sup)
        try:
            # Up before anything starts: a crashed kernel leaves nothing behind.
            self._sup.spawn_watchdog()
            deadline = time.monotonic() + self.timeout_s
            self._start_redis(redis, deadline)
            self._start_worker(deadline)
        except BaseException:  # KeyboardInterrupt too: never leave half of it running
            self.close()
            raise
        # Only now, so that a failed start leaves this process's environment as it was.
        os.environ["CELERY_BROKER_URL"] = self.broker_url
        os.environ["CELERY_RESULT_BACKEND"] = self.broker_url

    # -- the public surface -------------------------------------------------------------------

    def pool_pids(self) -> list[int]:
        """The PIDs of the worker's pool processes (children of the main Celery process),
        sorted; empty once closed."""
        main = self._worker_process()
        if main is None:
            return []
        try:
            children = main.children()
        except psutil.Error:
            return []
        return sorted(c.pid for c in children if is_running(c))

    def log(self) -> str:
        """The worker's log so far (after :meth:`close`, as it was when closed)."""
        if self.closed:
            return self._last_log
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return self._last_log

    def close(self) -> None:
        """Stop the worker (SIGTERM, a warm shutdown, then SIGKILL for what is left), then
        Redis, and remove the temporary folder; safe to call twice."""
        if self._finalizer.alive:
            # Ended before the folder goes, so that the kept log shows Celery's shutdown too.
            self._sup.end_all()
            self._last_log = self.log()
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return not self._finalizer.alive

    def __enter__(self) -> CeleryWorkers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"pool of {self.concurrency}, {self.broker_url}"
        return f"CeleryWorkers(module={self.module!r}, {state})"

    # -- starting things ----------------------------------------------------------------------

    def _start_redis(self, redis: str, deadline: float) -> None:
        command = [redis, "--bind", HOST, "--port", str(self.port), "--dir", str(self.work_folder)]
        # State in memory only: nothing of a lesson's queue needs to outlive it.
        command += ["--save", "", "--appendonly", "no"]
        with open(self.redis_log_path, "wb") as out:
            self.redis = self._sup.start(
                command, what="redis-server", stdout=out, stderr=subprocess.STDOUT
            )
        while not _accepts(HOST, self.port):
            if self.redis.poll() is not None or time.monotonic() > deadline:
                tail = _tail(self.redis_log_path)
                state = "exited" if self.redis.poll() is not None else "did not answer in time"
                raise RaykitError(
                    f"redis-server on {HOST}:{self.port} {state} (timeout_s={self.timeout_s:g})."
                    f" Its log ends:\n{tail}"
                )
            time.sleep(POLL_S)

    def _start_worker(self, deadline: float) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            self.module,
            "worker",
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            "--loglevel=INFO",
            # No chatter with other workers: this one is alone, and starts faster without it.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"raykit-{os.getpid()}@%h",
        ]
        env = dict(os.environ)
        env["CELERY_BROKER_URL"] = env["CELERY_RESULT_BACKEND"] = self.broker_url
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.folder), env.get("PYTHONPATH")]))
        with open(self.log_path, "wb") as out:
            # SIGTERM asks Celery for a warm shutdown: it ends its pool itself.
            self.worker = self._sup.start(
                command,
                what="celery worker",
                cwd=str(self.folder),
                env=env,
                stop="term",
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        while READY_MARK not in self.log():
            if self.worker.poll() is not None or time.monotonic() > deadline:
                state = (
                    f"exited with status {self.worker.returncode}"
                    if self.worker.poll() is not None
                    else f"was not ready within timeout_s={self.timeout_s:g} s"
                )
                raise RaykitError(
                    f"The Celery worker for module {self.module!r} {state}. "
                    f"Its log ends:\n{_tail(self.log_path)}"
                )
            time.sleep(POLL_S)

    def _worker_process(self) -> psutil.Process | None:
        if self.closed or self.worker is None or self.worker.poll() is not None:
            return None
        try:
            return psutil.Process(self.worker.pid)  # our unreaped child: the PID is its own
        except psutil.Error:
            return None


def _check_args(module, folder, concurrency, timeout_s) -> Path:
    """Raise ConfigError naming the first wrong argument and its fix; return the folder."""
    if not isinstance(module, str) or not module.isidentifier() or keyword.iskeyword(module):
        raise ConfigError(
            f"module={module!r} must be the name of a Python module in folder, e.g. "
            "module='jobs13' for folder/jobs13.py (a plain name: no dots, spaces or '.py')."
        )
    if not isinstance(folder, str | os.PathLike):
        raise ConfigError(
            f"folder={folder!r} must be a path (str or pathlib.Path) to the folder that holds "
            f"{module}.py, e.g. folder='.'."
        )
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(
            f"folder={str(folder)!r} is not an existing folder: give the folder that holds "
            f"{module}.py, e.g. folder='.'."
        )
    if not (path / f"{module}.py").is_file():
        raise ConfigError(
            f"folder={str(folder)!r} has no {module}.py: write the module there first (or pass "
            "the folder that holds it, or the right module=)."
        )
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(
            f"concurrency={concurrency!r} must be a whole number >= 1 (pool processes), "
            "e.g. concurrency=2."
        )
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not math.isfinite(timeout_s)
        or timeout_s <= 0
    ):
        raise ConfigError(f"timeout_s={timeout_s!r} must be a positive number of seconds, e.g. 60.")
    return path


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _cleanup(sup: Supervisor) -> None:
    """End the worker (SIGTERM first, as recorded), then whatever is left, Redis included, then
    the watchdog, and remove the folder."""
    sup.close()
