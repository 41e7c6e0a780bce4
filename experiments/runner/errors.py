"""The runner's error for bad usage or missing input."""


class UsageError(Exception):
    """Bad command line or missing input: exit status 2."""
