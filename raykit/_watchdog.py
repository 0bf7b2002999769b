"""``python -m raykit._watchdog OWNER_PID OWNER_CREATE_TIME FOLDER``: ends an owner's processes.

Started by :meth:`raykit._supervisor.Supervisor.spawn_watchdog` beside a notebook kernel or a
script. Once a second it asks whether its owner (that PID *and* that creation time: a reused PID
is not the owner) still runs. While it does, the watchdog does nothing; when the owner closes
normally it removes ``FOLDER`` and kills the watchdog. When the owner is gone without closing (a
kernel restart, a crash, SIGKILL), the watchdog ends every process of the owner's record and
environment markers, each identity-checked, removes ``FOLDER``, and exits.

What it does is logged to ``FOLDER.watchdog.log`` beside the folder (the folder itself is
removed), and only when it acts, so a normal close leaves no file behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback

from ._supervisor import WATCHDOG_POLL_S, Supervisor, owner_gone, watchdog_log_of


def _logger(folder: str):
    path = watchdog_log_of(folder)

    def log(line: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            with open(path, "a") as f:
                f.write(f"{stamp} watchdog {os.getpid()}: {line}\n")
        except OSError:
            pass

    return log


def watch(owner_pid: int, owner_create_time: float, folder: str) -> None:
    """Wait until the owner is gone or the folder is removed; clean up in the first case."""
    log = _logger(folder)
    while os.path.isdir(folder):
        if owner_gone(owner_pid, owner_create_time):
            log(f"owner {owner_pid} (started at {owner_create_time:.2f}) is gone; ending {folder}")
            lines = Supervisor.attach(folder).end_all(log=log)
            shutil.rmtree(folder, ignore_errors=True)
            log(f"done: {sum(ln.startswith('SIG') for ln in lines)} signals sent, removed {folder}")
            return
        time.sleep(WATCHDOG_POLL_S)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    owner_pid, owner_create_time, folder = int(argv[0]), float(argv[1]), argv[2]
    try:
        watch(owner_pid, owner_create_time, folder)
    except BaseException:  # whatever breaks, say so where a user will look
        _logger(folder)("failed:\n" + traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
