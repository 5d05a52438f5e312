"""The one exception type a user sees: a clear message naming the file, row or config key."""


class SkinlightError(Exception):
    """Bad input or an impossible configuration; the message says what to change."""


class DataError(SkinlightError):
    """A dataset file, row or folder that cannot be used as it is."""


class ConfigError(SkinlightError):
    """A configuration key or combination that cannot work."""
