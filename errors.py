"""Exception types for problems the user can fix, and how a command line reports them.

Every message names the file or setting at fault and says what to do; `train.py` prints it on one
line and exits non-zero instead of showing a traceback.
"""

import difflib
import sys
from collections.abc import Callable, Iterable


class ASDError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class ConfigError(ASDError):
    """A bad flag, a bad value in a yaml file, or flags that cannot be combined."""


class DataError(ASDError):
    """A missing, corrupt or inconsistent dataset, cache, checkpoint or result file."""


def exit_code_of(action: Callable[[], object], *, on_interrupt: str, error_code: int = 1) -> int:
    """Run a command line's work: an ASDError is printed as one ``error:`` line (exit ``error_code``), Ctrl-C
    as ``on_interrupt`` (exit 130); any other exception is a bug and keeps its traceback."""
    try:
        action()
    except ASDError as error:
        print(f"error: {error}", file=sys.stderr)
        return error_code
    except KeyboardInterrupt:
        print(on_interrupt, file=sys.stderr)
        return 130
    return 0


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X?)`` with the closest of ``candidates`` to ``word`` (its ``=value`` left off), or ``""``."""
    close = difflib.get_close_matches(word.split("=", 1)[0], list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
