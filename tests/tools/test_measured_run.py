"""tools.measured_run (the benchmarks' timing): the peak memory of the command's own process, failures named;
and no module of the project imports a module that imports it back (at the top or inside a function)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tools.measured_run import PEAK_MEMORY_WRAPPER, measured_run


def test_the_peak_memory_is_the_command_s_own(tmp_path: Path) -> None:
    grow = "import sys; block = bytearray(200 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); print('done')"
    command = [sys.executable, "-c", PEAK_MEMORY_WRAPPER, sys.executable, "-c", grow]
    seconds, output, peak_mib = measured_run(command, tmp_path, {}, tmp_path / "log", "grow")
    assert "done" in output and seconds > 0
    assert 200 < peak_mib < 400


def test_a_failing_command_is_named(tmp_path: Path) -> None:
    command = [sys.executable, "-c", PEAK_MEMORY_WRAPPER, sys.executable, "-c", "raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match="the thing failed"):
        measured_run(command, tmp_path, {}, tmp_path / "log", "the thing")


def project_imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports anywhere (``from a.b import c``: a.b.c where that is a
    module, else a.b)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name for name in submodules if name in modules]
            if len(names) < len(submodules):  # names defined in node.module itself
                names.append(node.module)
        found |= {name for name in names if name in modules}
    return found


def test_no_import_cycle_between_the_project_s_modules() -> None:
    files = {
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in REPO_ROOT.rglob("*.py")
        if not ({".venv", "tests"} & set(path.relative_to(REPO_ROOT).parts))
    }
    graph = {module: project_imports(path, set(files)) - {module} for module, path in files.items()}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        for imported in graph[module]:
            if imported in trail:
                cycles.append(" -> ".join([*trail[trail.index(imported) :], imported]))
            elif imported not in done:
                visit(imported, [*trail, imported])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert cycles == [], "\n".join(cycles)
