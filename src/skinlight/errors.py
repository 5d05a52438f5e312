"""The one exception type a user sees: a clear message naming the file, row or config key."""

import sys
from contextlib import contextmanager


class SkinlightError(Exception):
    """Bad input or an impossible configuration; the message says what to change."""


class DataError(SkinlightError):
    """A dataset file, row or folder that cannot be used as it is."""


class ConfigError(SkinlightError):
    """A configuration key or combination that cannot work."""


class CheckpointError(SkinlightError):
    """A file given as a checkpoint that is missing, unreadable, not skinlight's or of the other task."""


USER_ERROR_EXIT_CODE = 2


def user_message(error: SkinlightError) -> str:
    """The error's message. One raised in a DataLoader worker process reaches the main process re-raised by
    torch with the worker's traceback as its message: its last line holds the original message."""
    text = str(error)
    if "Original Traceback" not in text:
        return text
    last = text.strip().splitlines()[-1]
    return last.split(": ", 1)[1] if last.startswith(f"{type(error).__module__}.{type(error).__name__}: ") else last


@contextmanager
def exit_on_user_error():
    """For a command-line entry point: a SkinlightError ends the program with `error: <message>` on
    stderr and exit code 2, without a traceback."""
    try:
        yield
    except SkinlightError as e:
        print(f"error: {user_message(e)}", file=sys.stderr)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
