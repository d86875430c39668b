"""The documentation against the code: the README's code blocks run as they stand, its Outputs list against what
a run writes, every relative link (docs/options.md is generated: tests/test_common.py checks it)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, STAGE_SCRIPTS, copy_repository

# ---------------------------------------------------------------------------------------------------------
# the README's code blocks, run as they stand, and every relative link and anchor of the documentation
README = REPO_ROOT / "README.md"
NOT_RUN = re.compile(r"^<!-- not run by the tests: (?P<reason>.+) -->$")
FENCE = re.compile(r"^```(?P<language>\S*)\s*$")
TINY_TRAIN = ["--epochs", "1", "--batch_size", "64", "--num_workers", "1"]


@dataclass(frozen=True)
class Block:
    language: str
    lines: list[str]
    line_number: int
    not_run: str | None  # the reason given in the comment above the block


def code_blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, with the ``not run by the tests`` reason written above it."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        reason = NOT_RUN.match(lines[index - 1]) if index else None
        blocks.append(Block(match["language"], lines[index + 1 : end], index + 1, reason and reason["reason"]))
        index = end + 1
    return blocks


def tiny(command: list[str]) -> list[str]:
    """A README command with the flags appended that make it run on the tiny data in seconds: one machine
    type, one epoch. The command itself is the README's, word for word."""
    if command[0] == "python":
        return [sys.executable, *command[1:], *TINY_TRAIN]
    if re.fullmatch(r"0[12]\w*_\d{4}t2\.sh", command[1]):
        return [*command, "--machines", "fan", *TINY_TRAIN]
    if command[1] == "03_summarize_results.sh":
        return [*command, "--machines", "fan", "--no_plots"]
    raise AssertionError(f"the README runs {command[:2]}: add how to make it tiny here, or mark its block not run")


def output_patterns() -> list[re.Pattern]:
    """The README's Outputs block as regular expressions: ``<name>`` stands for any part of one path element."""
    block = next(block for block in code_blocks(README) if block.lines[0].startswith("models/saved_model/"))
    patterns = []
    for line in block.lines:
        parts = re.split(r"(<[^>]+>|\*)", re.split(r"\s{2,}", line)[0])
        regex = "".join(
            "[^/]+" if part.startswith("<") else "[^/]*" if part == "*" else re.escape(part) for part in parts
        )
        patterns.append(re.compile(regex + (".*" if regex.endswith("/") else "")))
    return patterns


def test_every_code_block_of_the_readme_is_run_or_says_why_not() -> None:
    blocks = [block for block in code_blocks(README) if block.language in ("bash", "python", "sh")]
    assert len(blocks) >= 4
    assert all(block.not_run is None or len(block.not_run) > 20 for block in blocks)
    assert sum(block.not_run is None for block in blocks) >= 2


def test_the_readme_s_commands_run_as_written_and_every_output_is_documented(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    copy_repository(tmp_path)
    for script in STAGE_SCRIPTS:
        shutil.copy2(REPO_ROOT / script, tmp_path / script)
    (tmp_path / "data").symlink_to(tiny_data_dir)
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(tmp_path)}
    commands = 0
    for block in code_blocks(README):
        if block.language != "bash" or block.not_run:
            continue
        for line in block.lines:
            command = shlex.split(line, comments=True)
            if not command:
                continue
            result = subprocess.run(tiny(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"README line {block.line_number}: {line}\n{result.stderr[-2000:]}"
            commands += 1
    assert commands >= 7
    patterns = output_patterns()
    written = [
        path.relative_to(tmp_path).as_posix()
        for folder in ("models", "results", "logs")
        for path in (tmp_path / folder).rglob("*")
        if path.is_file()
    ]
    written += [
        "<dataset_directory>/" + path.relative_to(tiny_data_dir).as_posix()
        for path in (tiny_data_dir / "dcase2024t2/dev_data/processed/fan").rglob("*")
        if path.is_file()
    ]
    assert any("args_test_MAHALA.json" in name for name in written)
    undocumented = [name for name in written if not any(pattern.fullmatch(name) for pattern in patterns)]
    assert undocumented == [], "not in the README's Outputs list"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_\[\]]|\]\([^)]*\)", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def prose(path: Path) -> str:
    """A markdown file without its fenced code blocks (links and headings there are not links and headings)."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(path), flags=re.M):
        name, suffix = slug(heading), 0
        while (name if not suffix else f"{name}-{suffix}") in found:
            suffix += 1
        found.add(name if not suffix else f"{name}-{suffix}")
    return found


DOCUMENTATION = [README, *sorted((REPO_ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", DOCUMENTATION, ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`\n]*`", "", prose(page))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target} (no such heading)")
    assert broken == [], f"{page}: broken links"


def test_the_link_check_sees_anchors_as_github_does() -> None:
    assert slug("Which system to pick") == "which-system-to-pick"
    assert slug("`--config`: the yamls (v3.x)") == "--config-the-yamls-v3x"
    assert slug("Speed and memory, 2 cores") == "speed-and-memory-2-cores"
