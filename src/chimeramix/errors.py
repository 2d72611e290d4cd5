"""The exception types a user sees.

Everything below the command line raises :class:`ChimeraMixError` with a message that names the problem
and the fix; ``chimeramix.cli`` prints it as one line and exits non-zero. :class:`DataError` is the kind that
running the same thing again cannot fix (a sweep does not retry it).
"""


class ChimeraMixError(Exception):
    """A problem the user can act on (bad input, missing data, mismatched runs, ...)."""


class DataError(ChimeraMixError):
    """A problem with the data itself (unreadable or changed files, a missing or badly laid out folder): only
    the user can fix it, so retrying a job that raised it cannot help."""
