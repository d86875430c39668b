"""tools/check_environment.py: the interpreter check the stage scripts run before anything else."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tools import check_environment


def test_this_interpreter_has_what_the_requirements_list() -> None:
    assert check_environment.problem(REPO_ROOT / "requirements-dev.txt") == ""


def test_a_python_older_than_3_11_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # datetime.UTC (the monitoring's timestamps) appeared in Python 3.11
    monkeypatch.setattr(check_environment.sys, "version_info", (3, 10, 14, "final", 0))
    message = check_environment.problem(REPO_ROOT / "requirements.txt")
    assert "the scripts need Python 3.11 or newer" in message and "PYTHON=" in message


def test_missing_packages_are_named_with_the_command_that_installs_them(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("numpy>=2.0\nno-such-package-xyz==1.0  # comment\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# a comment\n-r base.txt\nPyYAML>=6.0\nanother_missing_one[extra]>=2\n")
    message = check_environment.problem(requirements)
    assert "lacks no-such-package-xyz, another_missing_one (from requirements.txt)" in message
    assert f"'{sys.executable} -m pip install -r {requirements}'" in message and "bash demo.sh" in message
