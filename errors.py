"""Exception types for problems the user can fix.

Every message names the file or setting at fault and says what to do; `train.py` prints it on one
line and exits non-zero instead of showing a traceback.
"""


class ASDError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class ConfigError(ASDError):
    """A bad flag, a bad value in a yaml file, or flags that cannot be combined."""


class DataError(ASDError):
    """A missing, corrupt or inconsistent dataset, cache, checkpoint or result file."""
