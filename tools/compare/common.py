"""Shared pieces of the side-by-side comparisons (tools/compare/<system>.py) of a ported system with its public code.

Nothing of the public code is stored in this repository: each script takes the path of a checkout of it at its
pinned commit, imports from it (``public_modules``) or copies it into a throwaway folder, patches it there where
current libraries require it (``Patch``, each with its reason), and prints a table of the largest differences.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` by ``new`` in ``path`` (relative to the copy of the checkout), for ``reason``."""

    path: str
    old: str
    new: str
    reason: str
    count: int = 1  # how many occurrences there must be (0: at least one, all replaced)


def apply_patches(root: Path, patches: Iterable[Patch]) -> None:
    """Apply every patch to the files under ``root``; a patch whose text is not there (another commit) stops."""
    for patch in patches:
        file = root / patch.path
        text = file.read_text(encoding="utf-8")
        found = text.count(patch.old)
        if found == 0 or (patch.count and found != patch.count):
            raise SystemExit(
                f"{file}: expected {patch.count or 'some'} x {patch.old!r}, found {found} (another commit?)"
            )
        file.write_text(text.replace(patch.old, patch.new), encoding="utf-8")
        print(f"patched {patch.path}: {patch.old.strip()!r} -> {patch.new.strip()!r} ({patch.reason})")


def copy_checkout(checkout: Path, destination: Path, patches: Iterable[Patch] = ()) -> Path:
    """A fresh copy of the checkout's files (without .git) at ``destination``, patched."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(checkout, destination, ignore=shutil.ignore_patterns(".git"))
    apply_patches(destination, patches)
    return destination


def check_commit(checkout: Path, pinned: str) -> str:
    """The checkout's commit; a warning when it is not the pinned one (the tables were measured there)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    if not head.startswith(pinned):
        print(f"warning: {checkout} is at {head[:10]}, not the pinned {pinned}; the patches may not apply")
    return head


def _top_level_names(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}


def _is_repository_entry(entry: str) -> bool:
    return Path(entry or ".").resolve() == REPOSITORY


@contextlib.contextmanager
def public_modules(folder: Path) -> Iterator[Callable[[str], ModuleType]]:
    """Import public modules from ``folder`` while it comes first on sys.path; our modules of the same top-level
    names (``common``, ``datasets``, ``networks``, ...) are set aside and put back afterwards, and the public
    ones taken out of sys.modules again (the imported objects keep working)."""
    names = {name for name in _top_level_names(folder) if not name.startswith(".")}

    def clashing() -> dict[str, ModuleType]:
        return {key: mod for key, mod in sys.modules.items() if key.split(".")[0] in names}

    ours = clashing()
    for key in ours:
        del sys.modules[key]
    saved_path = list(sys.path)
    # our packages (regular ones) would win over the public folders without __init__.py wherever they stand
    sys.path[:] = [str(folder)] + [entry for entry in saved_path if not _is_repository_entry(entry)]
    importlib.invalidate_caches()
    try:
        yield importlib.import_module
    finally:
        sys.path[:] = saved_path
        for key in clashing():
            del sys.modules[key]
        sys.modules.update(ours)


def copy_weights(
    source: torch.nn.Module,
    target: torch.nn.Module,
    rename: Callable[[str], str] | Mapping,
    ignore: Callable[[str], bool] = lambda name: False,
) -> int:
    """Copy every tensor of ``source``'s state dict into ``target``'s under ``rename(name)``; both sides must be
    covered exactly but for the target names ``ignore`` accepts, with the same number of values (reshaped where
    only the layout differs, e.g. a 1x1 convolution against a linear layer). Returns the number copied."""
    mapping = rename.get if isinstance(rename, Mapping) else rename
    source_state, target_state = source.state_dict(), target.state_dict()
    copied = {}
    for name, tensor in source_state.items():
        other = mapping(name)
        if other is None or other not in target_state:
            raise KeyError(f"{name} has no counterpart ({other})")
        if target_state[other].numel() != tensor.numel():
            raise ValueError(f"{name} {tuple(tensor.shape)} against {other} {tuple(target_state[other].shape)}")
        copied[other] = tensor.detach().clone().reshape(target_state[other].shape)
    missing = {name for name in set(target_state) - set(copied) if not ignore(name)}
    if missing:
        raise KeyError(f"not copied into the target: {sorted(missing)[:5]}")
    target.load_state_dict(copied, strict=False)
    return len(copied)


def as_array(value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def max_difference(a: object, b: object) -> tuple[float, float]:
    """(largest absolute difference, largest absolute value) of two arrays or tensors of one shape."""
    left, right = as_array(a), as_array(b)
    if left.shape != right.shape:
        raise ValueError(f"shapes differ: {left.shape} against {right.shape}")
    if left.size == 0:
        return 0.0, 0.0
    return float(np.max(np.abs(left - right))), float(np.max(np.abs(left)))


def gradient_difference(a: torch.nn.Module, b: torch.nn.Module, rename: Callable[[str], str]) -> tuple[float, float]:
    """Largest difference of the gradients of corresponding parameters (``rename``: a's name -> b's name)."""
    theirs = dict(b.named_parameters())
    worst, scale = 0.0, 0.0
    for name, parameter in a.named_parameters():
        other = theirs[rename(name)]
        if parameter.grad is None and other.grad is None:
            continue
        if parameter.grad is None or other.grad is None:
            raise ValueError(f"{name}: a gradient on one side only")
        difference, largest = max_difference(parameter.grad, other.grad.reshape(parameter.grad.shape))
        worst, scale = max(worst, difference), max(scale, largest)
    return worst, scale


def weight_difference(a: torch.nn.Module, b: torch.nn.Module, rename: Callable[[str], str]) -> tuple[float, float]:
    """Largest difference of corresponding state-dict tensors (weights and buffers)."""
    theirs = b.state_dict()
    pairs = [(as_array(v), as_array(theirs[rename(k)]).reshape(v.shape)) for k, v in a.state_dict().items()]
    return max((float(np.max(np.abs(x - y))) for x, y in pairs if x.size), default=0.0), max(
        (float(np.max(np.abs(x))) for x, _ in pairs if x.size), default=0.0
    )


class Table:
    """Rows of (what was compared, largest absolute difference, largest absolute value), printed as Markdown."""

    def __init__(self, title: str, columns: tuple[str, str] = ("max abs difference", "max abs value")) -> None:
        self.title, self.columns = title, columns
        self.rows: list[tuple[str, float, float]] = []

    def add(self, name: str, difference: tuple[float, float] | float, scale: float | None = None) -> None:
        if isinstance(difference, tuple):
            difference, scale = difference
        self.rows.append((name, float(difference), float("nan") if scale is None else float(scale)))

    def worst(self) -> float:
        return max((row[1] for row in self.rows), default=0.0)

    def show(self) -> str:
        lines = [f"\n{self.title}\n", f"| compared | {self.columns[0]} | {self.columns[1]} |", "|---|---|---|"]
        lines += [f"| {name} | {diff:.3g} | {scale:.3g} |" for name, diff, scale in self.rows]
        text = "\n".join(lines)
        print(text, flush=True)
        return text


def identical_lines(a: Path, b: Path) -> tuple[int, int]:
    """(lines equal at the same position, lines of the longer file) of two text files."""
    left, right = a.read_text(encoding="utf-8").splitlines(), b.read_text(encoding="utf-8").splitlines()
    return sum(x == y for x, y in zip(left, right, strict=False)), max(len(left), len(right))


def domain_aucs(scores: np.ndarray, clips: Sequence) -> tuple[float, float]:
    """(AUC source, AUC target) of anomaly scores of labelled clips (``.label``, ``.domain``): each domain's
    normal clips against every anomaly, as DCASE's evaluator and the public AEGAN-AD ``test`` count them."""
    from sklearn.metrics import roc_auc_score

    labels = np.array([clip.label for clip in clips])
    target = np.array([clip.domain == "target" for clip in clips])
    result = []
    for domain in (False, True):
        rows = (labels == 1) | (target == domain)
        result.append(float(roc_auc_score(labels[rows], np.asarray(scores)[rows])))
    return result[0], result[1]


def synthetic_data(root: Path, machines: Sequence[str], n_train: int = 40, n_target: int = 4, n_test: int = 10) -> Path:
    """A synthetic DCASE2024T2 dev set of 10 s clips of ``machines`` under ``root`` (written once, data seed 0)."""
    if not (root / "dcase2024t2").exists():
        command = [sys.executable, "-m", "datasets.synthetic", "--root", str(root), "--dataset", "DCASE2024T2"]
        command += ["--split", "dev", "--machines", *machines, "--n_train_source", str(n_train)]
        command += ["--n_train_target", str(n_target), "--n_test_per_group", str(n_test), "--seed", "0"]
        run([*command, "--duration", "10", "--workers", "1"], cwd=REPOSITORY)
    return root


def ensure_venv(folder: Path, packages: Sequence[str]) -> Path:
    """A virtual environment at ``folder`` that sees this project's environment (its torch, NumPy, librosa: the
    same builds, hence the same bits) plus ``packages`` installed from PyPI; returns its python."""
    python = folder / "bin" / "python"
    if not python.exists():
        venv.create(folder, with_pip=True)
        site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        (folder / "lib" / version / "site-packages" / "toolkit_site.pth").write_text(f"{site}\n")
    if packages:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
    return python


def run(command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, log: Path | None = None) -> None:
    """Run a command; its output goes to ``log`` (or through); a failure stops with the command and the log."""
    print("$ " + " ".join(command), flush=True)
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("a")) if log else None
        done = subprocess.run(list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT if out else None)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}" + (f"; see {log}" if log else ""))


def arguments(description: str, pinned: str, python: bool = False) -> argparse.ArgumentParser:
    """The common command line: the checkout, the pinned commit, a work folder, threads, and optionally the
    python of a virtual environment that can run the public code."""
    parser = argparse.ArgumentParser(description=f"{description} The public code's pinned commit: {pinned}.")
    parser.add_argument("checkout", type=Path, help="a checkout of the public code at its pinned commit")
    parser.add_argument("--work", type=Path, default=Path("compare_work"), help="throwaway folder (rewritten)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (the same on both sides)")
    if python:
        parser.add_argument(
            "--python",
            type=Path,
            help="python of a virtual environment that can run the public code; without it one is created in "
            "<work>/venv on top of this project's environment",
        )
    return parser


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
