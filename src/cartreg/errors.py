"""Exceptions shared by every stage.

A :class:`CartregError` is a problem with the user's input (a missing file, an unknown column, an
unusable option). The CLI prints its message and exits with ``exit_code``; it never shows a traceback
for one. Programming errors are ordinary exceptions and do show a traceback.
"""

from __future__ import annotations


class CartregError(Exception):
    """A user-facing problem with input data or options.

    ``exit_code`` follows the CLI convention: 1 = the data has errors, 2 = unusable input.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
