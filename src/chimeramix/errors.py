"""The one exception type a user sees.

Everything below the command line raises :class:`ChimeraMixError` with a message that names the problem
and the fix; ``chimeramix.cli`` prints it as one line and exits non-zero.
"""


class ChimeraMixError(Exception):
    """A problem the user can act on (bad input, missing data, mismatched runs, ...)."""
