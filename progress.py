"""Progress bars that suit both a terminal and a log file."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


def progress_bar(iterable: Iterable[Any] | None = None, *, transient: bool = False, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr: redrawn twice a second on a terminal, every 30 s in a log file.

    A ``transient`` bar (an inner loop) is shown on a terminal only and erased when done.
    """
    interactive = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 0.5 if interactive else 30.0)
    kwargs.setdefault("dynamic_ncols", True)
    if transient:
        kwargs.setdefault("leave", False)
        kwargs.setdefault("disable", not interactive)
    return tqdm(iterable, **kwargs)
