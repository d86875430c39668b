"""No file outside a system's own folder names a system: its registry name (``STgram-MFN``) or its module path
(``networks.stgram_mfn``). Allowed to: the system's folder, the registry, the yamls (configs/ and baseline.yaml,
the autoencoder's), the docs and README, the tests (which iterate over the registry), the side-by-side drivers of
tools/compare/ and tools/benchmark.py (each measures one system against its public code, by purpose)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from networks import registry

REPO = Path(__file__).resolve().parents[1]
ALLOWED = ("networks/registry.py", "configs/", "docs/", "tests/", "tools/compare/", "tools/benchmark.py", "README.md")
ALLOWED += ("baseline.yaml",)


def system_patterns() -> dict[str, re.Pattern[str]]:
    """Per system folder: its registry names and module path as one pattern."""
    folders: dict[str, list[str]] = {}
    for name, target in registry.MODELS.items():
        folder = target.split(":")[0].split(".")[1]
        folders.setdefault(folder, []).append(re.escape(name))
    return {folder: re.compile("|".join([*names, rf"networks[./]{folder}\b"])) for folder, names in folders.items()}


def test_only_a_systems_own_folder_names_it() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for path in tracked:
        if path.startswith(ALLOWED) or not path.endswith((".py", ".sh", ".yaml", ".toml", ".txt")):
            continue
        text = (REPO / path).read_text(encoding="utf-8", errors="replace")
        for folder, pattern in system_patterns().items():
            if not path.startswith(f"networks/{folder}/"):
                found += [f"{path}: {match[0]}" for match in pattern.finditer(text)]
    assert not found, "files outside a system's folder that name it:\n" + "\n".join(sorted(set(found)))
