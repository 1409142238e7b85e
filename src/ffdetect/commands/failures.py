"""How a verb reports what the user can fix: :class:`CommandError` and :func:`as_user_errors`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ffdetect.errors import UserError


class CommandError(UserError):
    """A wrong option (or combination of options), or a library error that names the user's file
    or value; printed as one line by the command line."""


@contextlib.contextmanager
def as_user_errors(*kinds: type[Exception]) -> Iterator[None]:
    """Re-raise an exception of one of ``kinds`` raised in the block as a :class:`CommandError`
    with the same message (no traceback); a :class:`UserError` passes unchanged."""
    try:
        yield
    except UserError:
        raise
    except kinds as exc:
        raise CommandError(str(exc)) from None
