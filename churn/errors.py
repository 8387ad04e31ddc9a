"""Errors meant for the person running the pipeline.

A ``ChurnError`` carries a complete, one-paragraph message: which file, which
column, which rows, and what was expected. Entry points print it without a
traceback and exit non-zero; anything else is a bug and keeps its traceback.
"""


class ChurnError(Exception):
    """A user-facing error: bad input, bad configuration, missing prerequisite."""

    exit_code = 2


class InputError(ChurnError):
    """An input table is missing, unreadable or does not match its schema."""


class ConfigError(ChurnError):
    """A configuration file is missing or invalid."""


class NotMeasurableError(ChurnError):
    """A quantity cannot be measured from the data at hand (e.g. no control group)."""


class NotReadyError(ChurnError):
    """A prerequisite is absent, e.g. no champion model has been trained yet."""
