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
