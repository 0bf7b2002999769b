"""Small mode and the sizes a lesson derives from it, after papermill has injected its ``-p``."""

from __future__ import annotations

import linecache
import os
import re
import sys

from .exceptions import ConfigError

SMOKE_ENV = "RAYKIT_SMOKE"
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def small_mode(smoke: bool | int | str | None = None) -> bool:
    """Whether a lesson runs in small mode, from its ``SMOKE`` parameter.

    Parameters
    ----------
    smoke
        The lesson's ``SMOKE``. ``None`` (every lesson's default) follows the environment
        variable ``RAYKIT_SMOKE=1``, which ``raykit run --smoke`` and Binder set. ``True`` or
        ``False`` as given (``papermill lesson.ipynb out.ipynb -p SMOKE True``); also ``0``/``1``
        and the strings ``"true"``/``"false"``, ``"yes"``/``"no"``, ``"1"``/``"0"`` in any case,
        since papermill's ``-r`` passes raw strings.

    Returns
    -------
    bool
        ``True`` for small mode.

    Raises
    ------
    ConfigError
        If ``smoke`` is anything else.
    """
    if smoke is None:
        return os.environ.get(SMOKE_ENV) == "1"
    if isinstance(smoke, bool):
        return smoke
    if isinstance(smoke, int) and smoke in (0, 1):
        return bool(smoke)
    if isinstance(smoke, str) and smoke.strip().lower() in _TRUE | _FALSE:
        return smoke.strip().lower() in _TRUE
    raise ConfigError(
        f"SMOKE = {smoke!r}: small mode is True or False (None follows {SMOKE_ENV}=1). "
        "Pass it with papermill's -p SMOKE True (or False), or leave SMOKE = None."
    )


def given(value, otherwise):
    """``value`` unless it is ``None``, else ``otherwise``: a size that follows from ``SMOKE``.

    A lesson's parameters cell leaves such a size ``None``; the cell after it writes
    ``SLEEP_S = raykit.given(SLEEP_S, otherwise=0.25 if SMOKE else 1.0)``, so a value set with
    ``papermill -p SLEEP_S 0.5`` wins and ``None`` takes the mode's default.

    Parameters
    ----------
    value
        The parameter as the parameters cell and papermill left it.
    otherwise
        The default in this mode. When it is a number, a string, a list or a tuple, ``value``
        must be of the same kind (an int where a float is expected is fine; a list and a tuple
        stand for each other).

    Returns
    -------
    object
        ``value`` if it is not ``None``, else ``otherwise``.

    Raises
    ------
    ConfigError
        If ``value`` is clearly of the wrong kind, such as text where a number is expected
        (papermill's ``-r`` passes text; ``-p`` reads numbers, booleans and lists).
    """
    if value is None:
        return otherwise
    expected = _kind(otherwise)
    if expected is not None and _kind(value) != expected:
        name = _assigned_name(sys._getframe(1))
        raise ConfigError(
            f"{name or 'value'} = {value!r} (a {type(value).__name__}), but {expected} is "
            f"expected, like {otherwise!r}. Pass one with papermill's -p {name or 'NAME'} VALUE "
            "(-p reads numbers, True/False and lists; -r keeps text), or leave "
            f"{f'{name} = None' if name else 'it None'} for that default."
        )
    return value


def _kind(value) -> str | None:
    """The kind of value ``given`` checks, or ``None`` for one it does not check."""
    if isinstance(value, bool):
        return "True or False"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    return None


def _assigned_name(frame) -> str | None:
    """``NAME`` from the caller's line ``NAME = raykit.given(...)``, for the error message; the
    line is in ``linecache`` for a file and for a notebook cell (IPython puts cells there)."""
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    match = re.match(r"\s*([A-Za-z_]\w*)\s*=\s*(?:\w+\.)?given\(", line)
    return match.group(1) if match else None
