"""One exception type for bad user input; stage entry points turn it into a one-line message and exit 2."""

import reprlib

MAX_MESSAGE = 2000  # characters: a message is one line a person reads, never a dump

_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlong = 80, 80, 40
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 5
_SHOWN.maxlevel = 2


def shown(value: object) -> str:
    """``repr(value)`` cut to a sane length without walking all of it (a YAML alias bomb expands to billions of
    items when printed whole): strings to 80 characters, containers to 5 items and 2 levels."""
    return _SHOWN.repr(value)


class FundiffError(Exception):
    """Bad params or input files. The message names the offending key or path and the fix; one line, at most
    :data:`MAX_MESSAGE` characters (values inside it are quoted with :func:`shown`)."""

    def __str__(self) -> str:
        text = " ".join(super().__str__().split("\n"))
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def require(condition: bool, message: str) -> None:
    if not condition:
        raise FundiffError(message)
