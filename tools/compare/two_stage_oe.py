"""The two-stage OE port against the recipe (ibkuroyagi/dcase2022_task2_challenge_recipe, commit 8239364), unit
level.

    python -m tools.compare.two_stage_oe CHECKOUT [--work DIR] [--python VENV/bin/python] [--end-to-end]

Imported from the checkout as they are: ``asd_tools.utils.pytorch_utils.mixup_for_asd`` (given the same Beta
draws and permutation: the script draws them from the seeded global generators the recipe uses, then replays
them to ours), ``asd_tools.utils.utils.mixup_apply_rate`` (mode "cos") against ``mixup_probability``,
``asd_tools.datasets.collators.WaveEvalCollator`` (the test crops of 10 s clips) against ``eval_crop_starts``,
and ``asd_tools.datasets.samplers.OECBalancedBatchSampler`` (``drop_last``, 64 + 64, n_target 0 and 2) against
``balanced_batches``: batches per epoch, positives and outliers per batch, each source clip at most once.

The network (``asd_tools.models.timm_models.ASDModel``, timm's ``tf_efficientnet_b0_ns``), its front end, one
training step and the stage-2 detectors need the recipe's timm, torchvision and torchaudio, whose compiled
libraries do not load on this CPU-only PyTorch 2.13: tools/compare/two_stage_oe_network.py compares them in a
side virtual environment (``--python``, or one made in ``<work>/venv``: this project's environment plus
``TIMM_PACKAGES`` installed ``--no-deps``), after tools/compare/two_stage_oe_boot.py's two stand-ins. Its clips:
four 2 s clips of noise written into ``<work>``. ``--end-to-end`` then trains both codes from the same start on the
same synthetic clips, several seeds (tools/compare/two_stage_oe_end_to_end.py, in the same venv).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from tools.compare.common import (
    REPOSITORY,
    Table,
    arguments,
    check_commit,
    ensure_venv,
    max_difference,
    public_modules,
    run,
    set_threads,
)

PINNED = "8239364"
# the versions the network comparison was measured with (timm's EfficientNet, torchaudio's MelSpectrogram)
TIMM_PACKAGES = ("timm==1.0.31", "torchvision==0.29.1", "torchaudio==2.11.1")
UTILS_IMPORTS = ("h5py",)  # asd_tools.utils.utils imports h5py at the top (it reads the recipe's dumps)


class Replay:
    """Stands in for our numpy Generator: returns the Beta draws and the permutation the recipe drew."""

    def __init__(self, lam: np.ndarray, order: np.ndarray) -> None:
        self.lam, self.order = lam, order

    def beta(self, a: float, b: float, size: int) -> np.ndarray:
        return self.lam

    def permutation(self, n: int) -> np.ndarray:
        return self.order


def compare_mixup(pytorch_utils, table: Table, batch: int = 16) -> None:
    from networks.two_stage_oe.training import mixup

    rng = np.random.default_rng(0)
    waves = torch.from_numpy(rng.standard_normal((batch, 32000)).astype(np.float32))
    machine = torch.from_numpy((np.arange(batch) % 2 == 0).astype(np.float32))[:, None]
    sections = torch.nn.functional.one_hot(torch.from_numpy(rng.integers(0, 3, batch)), 3).float()
    np.random.seed(1), torch.manual_seed(1)
    theirs = pytorch_utils.mixup_for_asd(waves, machine, sections.clone(), mix_section=True, alpha=0.2)
    np.random.seed(1), torch.manual_seed(1)
    lam, order = np.random.beta(0.2, 0.2, batch), torch.randperm(batch).numpy()
    ours = mixup(waves, machine, sections.clone(), 0.2, Replay(lam, order))
    for name, a, b in zip(("waveforms", "machine targets", "section targets"), ours[:3], theirs[:3], strict=True):
        table.add(f"mixup (mix_section, Beta(0.2, 0.2)): {name}", max_difference(a, b))
    table.add("mixup: rows that take the section loss", max_difference(ours[3].float(), theirs[3].float()))


def compare_schedule(utils, table: Table, steps: int = 20) -> None:
    from networks.two_stage_oe.training import mixup_probability

    theirs = [
        utils.mixup_apply_rate(max_step=steps, step=s, max_rate=1.0, min_rate=0.0, mode="cos") for s in range(steps + 1)
    ]
    ours = [mixup_probability(s, steps) for s in range(steps + 1)]
    table.add(f"mixup probability (cos), {steps + 1} steps", max_difference(ours, theirs))


def compare_crops(collators, table: Table) -> None:
    from networks.two_stage_oe.detectors import eval_crop_starts

    rng = np.random.default_rng(0)
    lengths = (160000, 160000 + 7, 192000)
    waves = [rng.standard_normal(length).astype(np.float32) for length in lengths]
    items = collators.WaveEvalCollator(sf=16000, sec=2.0, n_split=10, is_dcase2022=False)([{"wave": w} for w in waves])
    worst = scale = 0.0
    for clip, wave in enumerate(waves):
        starts = eval_crop_starts(len(wave), 32000, 10)
        ours = np.stack([wave[s : s + 32000] for s in starts])
        theirs = np.stack([items[f"X{i}"][clip].numpy() for i in range(10)])
        difference, largest = max_difference(ours, theirs)
        worst, scale = max(worst, difference), max(scale, largest)
    table.add(f"test crops (10 of 2 s) of clips of {', '.join(map(str, lengths))} samples", worst, scale)


def sampler_batches(samplers, n_source: int, n_target: int, n_outliers: int, per_class: int, target_per_batch: int):
    dataset = SimpleNamespace(
        pos_source_files=[None] * n_source, pos_target_files=[None] * n_target, neg_files=[None] * n_outliers
    )
    sampler = samplers.OECBalancedBatchSampler(
        dataset, batch_size=2 * per_class, shuffle=True, drop_last=True, n_target=target_per_batch
    )
    return list(iter(sampler))


def compare_sampler(samplers, table: Table) -> None:
    from networks.two_stage_oe.training import balanced_batches

    n_source, n_target, n_outliers = 990, 10, 6000
    for target_per_batch in (0, 2):
        np.random.seed(0)
        theirs = sampler_batches(samplers, n_source, n_target, n_outliers, 64, target_per_batch)
        source, target = np.arange(n_source), np.arange(n_source, n_source + n_target)
        outliers = np.arange(n_source + n_target, n_source + n_target + n_outliers)
        ours = balanced_batches(source, target, outliers, 64, target_per_batch, np.random.default_rng(0))

        def counts(batches):
            sizes = [(np.sum(np.asarray(b) < n_source), np.sum(np.asarray(b) >= n_source + n_target)) for b in batches]
            used = np.concatenate([np.asarray(b)[np.asarray(b) < n_source] for b in batches])
            return len(batches), sizes, len(used) == len(set(used.tolist()))

        (their_n, their_sizes, their_once), (our_n, our_sizes, our_once) = counts(theirs), counts(ours)
        table.add(f"sampler, n_target {target_per_batch}: batches per epoch ({our_n})", abs(our_n - their_n), their_n)
        mismatch = sum(a != b for a, b in zip(our_sizes, their_sizes, strict=True))
        table.add(
            f"sampler, n_target {target_per_batch}: batches whose (source, outlier) counts differ", mismatch, len(ours)
        )
        table.add(
            f"sampler, n_target {target_per_batch}: a source clip used twice (1 = yes) ours / theirs",
            int(not our_once) + int(not their_once),
            0,
        )


def unit_table(checkout: Path) -> Table:
    """Every comparison of this script, as a table."""
    for name in UTILS_IMPORTS:
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = SimpleNamespace()  # imported at the top of utils.py, unused by the functions here
    with public_modules(checkout.resolve()) as load:
        pytorch_utils, utils = load("asd_tools.utils.pytorch_utils"), load("asd_tools.utils.utils")
        collators, samplers = load("asd_tools.datasets.collators"), load("asd_tools.datasets.samplers")
    table = Table(f"two-stage OE against ibkuroyagi/dcase2022_task2_challenge_recipe {PINNED}")
    compare_mixup(pytorch_utils, table)
    compare_schedule(utils, table)
    compare_crops(collators, table)
    compare_sampler(samplers, table)
    return table


def timm_python(work: Path) -> Path:
    """The python of ``<work>/venv``: this project's environment plus TIMM_PACKAGES (``--no-deps``: their
    declared torch is another build; the stand-ins of two_stage_oe_boot.py make them import on ours)."""
    python = ensure_venv(work / "venv", ())
    probe = subprocess.run([str(python), "-c", "import timm, torchvision, torchaudio"], capture_output=True)
    if probe.returncode:
        run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", *TIMM_PACKAGES], cwd=work)
    return python


def noise_clips(folder: Path, count: int = 4) -> list[Path]:
    """16-bit 16 kHz 2 s clips of Gaussian noise (seed 0)."""
    from scipy.io import wavfile

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    clips = [folder / f"noise_{number}.wav" for number in range(count)]
    for clip in clips:
        wavfile.write(clip, 16000, (rng.standard_normal(32000) * 3000).astype(np.int16))
    return clips


def network_table(checkout: Path, work: Path, python: Path | None = None, threads: int = 1) -> Table:
    """two_stage_oe_network.py's table, run by ``python`` (or ``<work>/venv``'s, made when missing)."""
    work.mkdir(parents=True, exist_ok=True)
    python = python or timm_python(work)
    rows = work / "network_rows.json"
    command = [str(python), "-m", "tools.compare.two_stage_oe_network", str(checkout.resolve())]
    command += [*map(str, noise_clips(work / "clips")), "--rows", str(rows), "--threads", str(threads)]
    run(command, cwd=REPOSITORY)
    table = Table(f"two-stage OE network against ibkuroyagi/dcase2022_task2_challenge_recipe {PINNED} (timm)")
    for name, difference, scale in json.loads(rows.read_text()):
        table.add(name, difference, scale)
    return table


def end_to_end(checkout: Path, work: Path, python: Path | None, epochs: int, seeds: list[int]) -> None:
    """two_stage_oe_end_to_end.py (both trainings and stage 2 on the same synthetic clips) in the side venv."""
    work.mkdir(parents=True, exist_ok=True)
    command = [str(python or timm_python(work)), "-m", "tools.compare.two_stage_oe_end_to_end", str(checkout)]
    command += ["--work", str(work / "end_to_end"), "--epochs", str(epochs), "--seeds", *map(str, seeds)]
    run(command, cwd=REPOSITORY)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], PINNED, python=True)
    parser.add_argument(
        "--end-to-end", action="store_true", help="also train both codes on the same synthetic clips (minutes)"
    )
    parser.add_argument("--epochs", type=int, default=60, help="end to end: training epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="end to end: training seeds")
    options = parser.parse_args()
    set_threads(options.threads)
    check_commit(options.checkout, PINNED)
    unit_table(options.checkout).show()
    work = options.work.resolve()
    network_table(options.checkout, work, options.python, options.threads)
    if options.end_to_end:
        end_to_end(options.checkout.resolve(), work, options.python, options.epochs, options.seeds)


if __name__ == "__main__":
    main()
