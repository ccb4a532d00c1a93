"""One exception type for bad user input; stage entry points turn it into a one-line message and exit 2."""


class FundiffError(Exception):
    """Bad params or input files. The message names the offending key or path and the fix."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise FundiffError(message)
