"""SCAC-MultiRes side by side with ASDKit's own code, when a checkout of it is given: ASDKIT_CHECKOUT (the public
code at commit ed27d82) and ASDKIT_PYTHON (a Python that imports it; see tools/compare/asdkit.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.compare import asdkit

CHECKOUT = os.environ.get("ASDKIT_CHECKOUT", "")


@pytest.mark.skipif(not CHECKOUT, reason="set ASDKIT_CHECKOUT (and ASDKIT_PYTHON) to compare with ASDKit's code")
def test_every_row_agrees_with_asdkit(tmp_path: Path) -> None:
    rows = asdkit.compare(Path(CHECKOUT), os.environ.get("ASDKIT_PYTHON", "python"), tmp_path, seconds=6.0, batch=3)
    assert [row.what for row in rows if not row.agrees] == []
    assert len(rows) == 11
