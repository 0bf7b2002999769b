"""``raykit.wait_until``: poll a condition until it holds, the one deadline loop of the kit.

Much of what a lesson looks at in Ray settles a moment later (a task's state reaches the State
API, a freed object leaves the store, a killed actor's death is noticed). A cell says *what* it
waits for in one call instead of a hand-written loop of clocks and sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .exceptions import ConfigError, RaykitError

T = TypeVar("T")


class WaitTimedOut(RaykitError, TimeoutError):
    """``wait_until`` ran out of time; ``last`` holds the condition's last value."""

    def __init__(self, message: str, last):
        super().__init__(message)
        self.last = last


def wait_until(
    condition: Callable[[], T],
    *,
    timeout_s: float = 30.0,
    every_s: float = 0.2,
    what: str = "the condition",
    raise_on_timeout: bool = True,
) -> T:
    """Call ``condition()`` every ``every_s`` seconds until it returns something truthy.

    Parameters
    ----------
    condition
        A function of no arguments; its first truthy result is returned.
    timeout_s
        How long to keep trying, in seconds.
    every_s
        The pause between tries, in seconds.
    what
        Words for the error message: what was being waited for.
    raise_on_timeout
        When False, return the last (falsy) value instead of raising after ``timeout_s``.

    Returns
    -------
    The first truthy value ``condition()`` returned (or its last value, see ``raise_on_timeout``).

    Raises
    ------
    WaitTimedOut
        ``condition()`` stayed falsy for ``timeout_s`` seconds.
    """
    if not callable(condition):
        raise ConfigError(
            f"condition={condition!r} must be a function of no arguments, e.g. "
            "lambda: store_stats()['used_mb'] == 0."
        )
    for name, value in (("timeout_s", timeout_s), ("every_s", every_s)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{name}={value!r} must be a number of seconds, 0 or more.")
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            if not raise_on_timeout:
                return value
            raise WaitTimedOut(f"{what} did not happen within {timeout_s:g} s", value)
        time.sleep(every_s)
