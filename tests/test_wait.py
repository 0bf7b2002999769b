"""``raykit.wait_until`` returns the first truthy value, and says what it waited for on timeout."""

from __future__ import annotations

import itertools

import pytest

import raykit
from raykit import ConfigError


def test_returns_the_first_truthy_value_after_the_falsy_ones():
    calls = itertools.count()
    assert raykit.wait_until(lambda: max(0, next(calls) - 2), every_s=0) == 1


def test_timeout_names_what_was_awaited_and_keeps_the_last_value():
    with pytest.raises(raykit.WaitTimedOut, match="the store to empty did not happen") as info:
        raykit.wait_until(lambda: [], timeout_s=0, what="the store to empty")
    assert info.value.last == []
    assert isinstance(info.value, TimeoutError)


def test_without_raising_the_last_falsy_value_is_returned():
    assert raykit.wait_until(lambda: 0, timeout_s=0, raise_on_timeout=False) == 0


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"condition": 3}, "condition="),
        ({"timeout_s": -1}, "timeout_s="),
        ({"every_s": "1"}, "every_s="),
    ],
)
def test_bad_arguments_name_themselves(kwargs, named):
    args = {"condition": lambda: True, **kwargs}
    with pytest.raises(ConfigError, match=named):
        raykit.wait_until(args.pop("condition"), **args)
