"""The option table of docs/options.md against common.all_options(): every option with its built-in default."""

from __future__ import annotations

import re
from pathlib import Path

from common import all_options

OPTIONS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "options.md"
ROW = re.compile(r"^\| (?P<flags>`-[^|]*`) \| (?P<default>[^|]*) \| (?P<meaning>[^|]*) \|$")


def documented_options() -> dict[str, tuple[str, str]]:
    """``{long flag: (default, meaning)}`` of every row of the option table in docs/options.md."""
    rows = {}
    for line in OPTIONS_PAGE.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line.strip())
        if match:
            flags = re.findall(r"`(-[^`]+)`", match["flags"])
            rows[flags[-1]] = (match["default"].strip(), match["meaning"].strip())
    return rows


def readme_spelling(default: object) -> str:
    if default is None:
        return "null"
    if isinstance(default, list):
        return "[" + ", ".join(map(str, default)) + "]"
    return str(default)


def test_every_option_is_in_the_readme_with_its_default_and_help() -> None:
    rows = documented_options()
    for option in all_options():
        long_flag = option.flags[-1]
        assert long_flag in rows, f"{long_flag} is missing from the option table in docs/options.md"
        default, meaning = rows[long_flag]
        if option.kind == "flag":
            assert default == "", long_flag
        elif default or option.default != "":
            assert default.split(" ")[0] == readme_spelling(option.default), long_flag
        assert meaning.startswith(option.help.split(" (")[0]), long_flag
