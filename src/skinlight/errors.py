"""The one exception type a user sees: a clear message naming the file, row or config key."""

from contextlib import contextmanager


class SkinlightError(Exception):
    """Bad input or an impossible configuration; the message says what to change."""


class DataError(SkinlightError):
    """A dataset file, row or folder that cannot be used as it is."""


class ConfigError(SkinlightError):
    """A configuration key or combination that cannot work."""


@contextmanager
def exit_on_user_error():
    """For a command-line entry point: a SkinlightError ends the program with its one-line message."""
    try:
        yield
    except SkinlightError as e:
        raise SystemExit(f"error: {e}") from None
