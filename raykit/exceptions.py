"""Errors raykit raises: each names the argument at fault and how to fix it."""


class RaykitError(Exception):
    """Base class of every error raykit raises on purpose."""


class ConfigError(RaykitError, ValueError):
    """An argument to a raykit function is wrong; the message names it and the fix."""


class ClusterUnreachable(RaykitError, ConnectionError):
    """The Ray cluster named by ``address`` or ``RAY_ADDRESS`` does not answer."""


class NotebookError(RaykitError):
    """A notebook cannot be run: missing file, or no cell tagged ``parameters``."""


class DatasetNotFound(RaykitError, FileNotFoundError):
    """A shipped dataset file is missing; the message names the file and how to get it back."""


class RayNotRunning(RaykitError, RuntimeError):
    """A raykit function needs a connected Ray and there is none: call ``raykit.init()`` first."""

    def __init__(self, what: str):
        super().__init__(
            f"{what} needs a running Ray, and this process is not connected to one: "
            "call raykit.init() first (or ray.init(address=...) for a cluster you already have)."
        )
        self.what = what

    def __reduce__(self):  # rebuild from ``what``, not from the finished message
        return type(self), (self.what,)


def one_line(exc: BaseException) -> str:
    """An error as one short line: its type and the first line of its message."""
    return f"{type(exc).__name__}: {first_lines(str(exc))}"[:300]


def first_lines(message: str) -> str:
    """The first line of an error message, or, when it only announces what follows (Ray Train's
    "Training failed due to worker errors:"), that line and the ones after it, joined."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if lines and lines[0].endswith(":"):  # the rank headers ("[Rank 0 Error Snippet]:") say little
        return " ".join([lines[0], *(x for x in lines[1:] if not x.startswith("[Rank"))])
    return lines[0] if lines else ""
