"""Errors that are the user's to fix.

Every stage raises `InputError` for bad input (unreadable file, CRS problem, polygon with no
area, image outside the site...). The CLI turns it into one line and exit code 2; anything
else is a bug in sitewatch and exits 1. Keeping the two apart is what lets an analyst tell
"my file is wrong" from "the tool is broken".
"""


class InputError(ValueError):
    """Bad input: the message names the input and says what to do about it."""

    def __init__(self, message: str) -> None:
        message = " ".join(str(message).split())  # one line, whatever a library put into the reason
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NoScenes(InputError):
    """A source has no usable scene for the period: bad input for one job, news for a watchlist.

    `monitor` reports it as bad input; a scheduled watchlist run reports "no new imagery"
    and exits 0, since nothing failed.
    """
