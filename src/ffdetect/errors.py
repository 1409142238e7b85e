"""The one base class of errors a user can fix (a bad file, a bad option, a refused checkpoint).

The command line prints any :class:`UserError` as one line, ``error: <message>``, and exits with
status 2, never a traceback; a message names the file and what is wrong with it. Library callers
catch the specific subclasses (``ConfigError``, ``ModelFormatError``, ``UnsafeCheckpointError``...).
"""

from __future__ import annotations

#: Exit status of the command line for a :class:`UserError`.
USER_ERROR_EXIT = 2


class UserError(Exception):
    """An error in what the user gave (file, option, data), reported in one line by the CLI."""
