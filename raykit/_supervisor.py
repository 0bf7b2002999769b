"""One supervisor for the processes raykit starts: each recorded by PID and creation time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

# Every process a Supervisor starts has this in its environment, set to the owner's folder.
MARKER = "RAYKIT_SUPERVISOR"
# The record: one JSON object a line, appended to, never rewritten (the watchdog reads it while
# the owner writes). {"marker": NAME, "value": V} lines say which environment entries mark the
# owner's processes; {"pid", "create_time", "what", "stop"} lines are processes.
RECORD_NAME = "processes.jsonl"
# psutil's create_time is the process's start since boot plus /proc/stat's boot time, which the
# kernel derives from the wall clock: two reads (in the owner, in the watchdog) can differ by up
# to a second. A PID comes round again only after pid_max (32768 or more) new processes, not
# within a second of the first one's start, so this tolerance still tells a reused PID apart.
CREATE_TIME_TOLERANCE_S = 1.0
# A process recorded with stop="term" (Prometheus: it closes its database) gets SIGTERM and this
# long to exit before SIGKILL; every other one is frozen (SIGSTOP) and killed at once.
TERM_GRACE_S = 15.0
KILL_ROUNDS = 5
WATCHDOG_POLL_S = 1.0


@dataclass(frozen=True)
class Identity:
    """A process as recorded: its PID and its creation time, which together never repeat."""

    pid: int
    create_time: float
    what: str = ""
    stop: str = "kill"

    @classmethod
    def of(cls, proc: psutil.Process, *, what: str = "", stop: str = "kill") -> Identity | None:
        """The identity of a live process, or ``None`` when it is already gone."""
        try:
            return cls(proc.pid, proc.create_time(), what, stop)
        except psutil.Error:
            return None

    def matches(self, proc: psutil.Process) -> bool:
        """Whether ``proc`` is this very process, not another one that got its PID later."""
        try:
            return proc.pid == self.pid and same_start(proc.create_time(), self.create_time)
        except psutil.Error:
            return False

    def process(self) -> psutil.Process | None:
        """The running process with this identity; ``None`` when gone, a zombie, or when the
        PID now belongs to another process."""
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return None
        if not self.matches(proc) or not is_running(proc):
            return None
        return proc

    def reused(self) -> psutil.Process | None:
        """The unrelated live process that now holds this PID, if any."""
        try:
            proc = psutil.Process(self.pid)
            return None if self.matches(proc) or not is_running(proc) else proc
        except psutil.Error:
            return None

    def to_json(self) -> str:
        return json.dumps(
            {"pid": self.pid, "create_time": self.create_time, "what": self.what, "stop": self.stop}
        )


def same_start(a: float, b: float) -> bool:
    """Whether two creation times (psutil's, seconds since the epoch) are one process's."""
    return abs(a - b) <= CREATE_TIME_TOLERANCE_S


def is_running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a killed daemon stays a zombie until some init reaps it)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def owner_gone(pid: int, create_time: float) -> bool:
    """Whether the process ``pid`` started at ``create_time`` has ended (or is a zombie).

    Each question to psutil is answered once: a process that exits between two of them raises
    ``NoSuchProcess``, which means gone, rather than crashing the caller.
    """
    try:
        proc = psutil.Process(pid)
        return not same_start(proc.create_time(), create_time) or (
            proc.status() == psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:  # ZombieProcess is one too
        return True
    except psutil.AccessDenied:  # someone else's process holds the PID now
        return True


def marked_processes(markers: dict[str, str]) -> list[psutil.Process]:
    """Live processes whose environment holds one of ``markers`` (name: value), and all their
    descendants: Ray's agents and workers rename themselves (``ray::IDLE``), which overwrites
    their environment, but they stay children of a marked raylet."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["environ"]):
        env = proc.info["environ"] or {}
        if any(env.get(name) == value for name, value in markers.items()):
            found[proc.pid] = proc
            found.update(_descendants(proc))
    found.pop(os.getpid(), None)
    return [p for p in found.values() if is_running(p)]


def _descendants(proc: psutil.Process) -> dict[int, psutil.Process]:
    try:
        return {c.pid: c for c in proc.children(recursive=True)}
    except psutil.Error:
        return {}


def kill(procs: Iterable[psutil.Process], sig: int = signal.SIGKILL) -> None:
    """Signal each process through psutil, which refuses a PID that changed hands since."""
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


def freeze_then_kill(
    procs: list[psutil.Process], *, first: Callable[[psutil.Process], bool] | None = None
) -> None:
    """Stop every process at once (SIGSTOP), then SIGKILL them, those ``first`` picks first.

    Frozen first, none of them can react to the others' deaths (an agent reporting its raylet
    gone, a raylet starting a new worker): the group vanishes as a whole, like a lost machine.
    """
    kill(procs, signal.SIGSTOP)
    if first is not None:
        procs = sorted(procs, key=lambda p: not first(p))
    kill(procs, signal.SIGKILL)


def wait_gone(procs: Iterable[psutil.Process], *, timeout: float) -> None:
    procs = list(procs)
    deadline = time.monotonic() + timeout
    while any(is_running(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)


def describe(proc: psutil.Process) -> str:
    """``PID name (command line...)`` for a log line."""
    try:
        cmdline = " ".join(proc.cmdline()).strip()[:120]
        return f"{proc.pid} {proc.name()} ({cmdline})"
    except psutil.Error:
        return f"{proc.pid} (gone)"


class Supervisor:
    """Starts and ends the processes of one owner (a MiniCluster, a Prometheus).

    Every process it starts runs in a new session (a notebook interrupt spares it) with
    ``RAYKIT_SUPERVISOR=<folder>`` in its environment, and is recorded with its PID and creation
    time in ``<folder>/processes.jsonl``. Processes found later (a raylet's workers) are
    recorded the same way. Ending checks each identity first: a recorded PID that now belongs to
    a process started at another time (the PID was reused) is never signalled. Nothing is
    found, or killed, because its command line mentions the folder.

    A watchdog (``python -m raykit._watchdog``) ends them all when the owning process dies
    without closing; it logs what it did to :attr:`watchdog_log`, beside the folder, since the
    folder itself is removed.

    Parameters
    ----------
    folder
        The owner's folder, which must exist; removed by :meth:`close`.
    markers
        More environment entries (name: value) that mark the owner's processes, such as
        ``{"RAYKIT_MINICLUSTER": folder}``. Set by the owner on what it starts, so they are
        identity, not a guess; a marked process's descendants belong to the owner too.
    """

    def __init__(self, folder: str | os.PathLike, *, markers: dict[str, str] | None = None):
        self.folder = Path(folder)
        self.markers = {MARKER: str(self.folder), **(markers or {})}
        self.children: list[subprocess.Popen] = []
        self.watchdog: subprocess.Popen | None = None
        self._known: set[tuple[int, float]] = set()
        if not self.record_path.exists():
            self._append([json.dumps({"marker": k, "value": v}) for k, v in self.markers.items()])

    @classmethod
    def attach(cls, folder: str | os.PathLike) -> Supervisor:
        """The supervisor of an existing folder, markers read from its record (the watchdog's)."""
        sup = cls.__new__(cls)
        sup.folder = Path(folder)
        sup.markers, sup.children, sup.watchdog, sup._known = {}, [], None, set()
        for line in sup._lines():
            if "marker" in line:
                sup.markers[line["marker"]] = line["value"]
        sup.markers.setdefault(MARKER, str(sup.folder))
        return sup

    @property
    def record_path(self) -> Path:
        """``<folder>/processes.jsonl``: the record of every process, one JSON a line."""
        return self.folder / RECORD_NAME

    @property
    def watchdog_log(self) -> Path:
        """``<folder>.watchdog.log`` beside the folder: written only when the watchdog acts."""
        return watchdog_log_of(self.folder)

    # -- starting and recording ---------------------------------------------------------------

    def start(
        self,
        command: list[str],
        *,
        what: str,
        env: dict | None = None,
        stop: str = "kill",
        **popen_kwargs,
    ) -> subprocess.Popen:
        """Start ``command`` in a new session, marked and recorded; return its ``Popen``.

        ``stop="term"`` asks for SIGTERM and a grace period when it is ended (default: SIGKILL).
        ``popen_kwargs`` go to ``subprocess.Popen`` (``stdout``, ``stderr``, ``cwd``).
        """
        env = {**(os.environ if env is None else env), MARKER: str(self.folder)}
        popen_kwargs.setdefault("stdout", subprocess.DEVNULL)
        popen_kwargs.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, start_new_session=True, **popen_kwargs
        )
        self.children.append(proc)
        try:
            self.record([psutil.Process(proc.pid)], what=what, stop=stop)
        except psutil.Error:  # exited at once: an unreaped child still has its PID, so rare
            pass
        return proc

    def record(
        self, procs: Iterable[psutil.Process], *, what: str = "", stop: str = "kill"
    ) -> None:
        """Add processes to the record (each once), with their creation times."""
        known = self._known_identities()
        lines = []
        for proc in procs:
            ident = Identity.of(proc, what=what or _name(proc), stop=stop)
            if ident is None or any(
                k[0] == ident.pid and same_start(k[1], ident.create_time) for k in known
            ):
                continue
            known.add((ident.pid, ident.create_time))
            lines.append(ident.to_json())
        self._append(lines)

    def identities(self) -> list[Identity]:
        """Every process recorded, in the order recorded."""
        return [
            Identity(
                int(line["pid"]),
                float(line["create_time"]),
                line.get("what", ""),
                line.get("stop", "kill"),
            )
            for line in self._lines()
            if "pid" in line
        ]

    @property
    def pids(self) -> set[int]:
        """Every PID recorded, and the watchdog's."""
        pids = {i.pid for i in self.identities()}
        if self.watchdog is not None:
            pids.add(self.watchdog.pid)
        return pids

    def processes(self) -> list[psutil.Process]:
        """The owner's live processes: recorded ones whose identity still holds, processes
        marked in their environment, and the descendants of both. New ones are recorded."""
        found: dict[int, psutil.Process] = {}
        stop = {}
        for ident in self.identities():
            proc = ident.process()
            if proc is not None:
                found[proc.pid] = proc
                stop[proc.pid] = ident.stop
                found.update(_descendants(proc))
        for proc in marked_processes(self.markers):
            found.setdefault(proc.pid, proc)
        found.pop(os.getpid(), None)
        if self.watchdog is not None:
            found.pop(self.watchdog.pid, None)
        live = [p for p in found.values() if is_running(p)]
        self.record([p for p in live if p.pid not in stop], what="")
        return live

    def stale(self) -> list[tuple[Identity, psutil.Process]]:
        """Recorded identities whose PID a different, live process holds now."""
        return [(i, p) for i in self.identities() if (p := i.reused()) is not None]

    # -- ending -------------------------------------------------------------------------------

    def spawn_watchdog(self) -> subprocess.Popen:
        """Start ``python -m raykit._watchdog`` for this process and this folder."""
        me = psutil.Process()
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {k: v for k, v in os.environ.items() if k not in self.markers}
        # Found even when raykit is imported from a checkout rather than installed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self.watchdog = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "raykit._watchdog",
                str(me.pid),
                repr(me.create_time()),
                str(self.folder),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self.watchdog

    def end_all(
        self,
        *,
        first: Callable[[psutil.Process], bool] | None = None,
        log: Callable[[str], None] | None = None,
        term_grace_s: float = TERM_GRACE_S,
    ) -> list[str]:
        """End every live process of the owner; return (and ``log``) one line per action.

        Processes recorded with ``stop="term"`` get SIGTERM and ``term_grace_s`` to exit; the
        rest are frozen and killed, in rounds until none is found. A recorded PID now held by
        an unrelated process is left alone, and said so.
        """
        lines: list[str] = []

        def say(line: str) -> None:
            lines.append(line)
            if log is not None:
                log(line)

        for ident, proc in self.stale():
            say(
                f"left alone {describe(proc)}: recorded as {ident.what or '?'} started at "
                f"{ident.create_time:.2f}, but this process started at {_ctime(proc)}"
            )
        term_pids = {i.pid for i in self.identities() if i.stop == "term"}
        term = [p for p in self.processes() if p.pid in term_pids]
        for proc in term:
            say(f"SIGTERM {describe(proc)}")
        kill(term, signal.SIGTERM)
        wait_gone(term, timeout=term_grace_s)
        for _ in range(KILL_ROUNDS):
            procs = self.processes()
            if not procs:
                break
            for proc in procs:
                say(f"SIGKILL {describe(proc)}")
            freeze_then_kill(procs, first=first)
            wait_gone(procs, timeout=5)
        return lines

    def close(self, *, first: Callable[[psutil.Process], bool] | None = None) -> None:
        """End every process, reap the ones started here, stop the watchdog, remove the folder.

        Safe to call twice."""
        if self.folder.exists():
            self.end_all(first=first)
        for child in self.children:  # reap, so that no zombie stays
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.watchdog is not None and self.watchdog.poll() is None:
            self.watchdog.kill()  # our unreaped child: its PID cannot have changed hands
            self.watchdog.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the record file ----------------------------------------------------------------------

    def _known_identities(self) -> set[tuple[int, float]]:
        if not self._known:
            self._known = {(i.pid, i.create_time) for i in self.identities()}
        return self._known

    def _append(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            # One write in append mode: a reader sees whole lines, or a last partial one it skips.
            fd = os.open(self.record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:  # the folder is gone: the owner closed
            return
        try:
            os.write(fd, "".join(line + "\n" for line in lines).encode())
        finally:
            os.close(fd)

    def _lines(self) -> list[dict]:
        try:
            text = self.record_path.read_text()
        except OSError:
            return []
        lines = []
        for raw in text.splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines


def watchdog_log_of(folder: str | os.PathLike) -> Path:
    """Where the watchdog of ``folder`` logs: ``<folder>.watchdog.log``, which outlives it."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".watchdog.log")


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return "?"


def _ctime(proc: psutil.Process) -> str:
    try:
        return f"{proc.create_time():.2f}"
    except psutil.Error:
        return "?"
