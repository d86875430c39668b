"""The unit-level side-by-side comparisons of tools/compare/ against the public code, run when a checkout of that
code (at its pinned commit) is named by an environment variable; skipped otherwise, saying which variable.

    BASELINE_AE_CHECKOUT=... STGRAM_CHECKOUT=... TWO_STAGE_OE_CHECKOUT=... AEGAN_AD_CHECKOUT=... \\
    ANOMALY_TRANSFORMER_CHECKOUT=... python -m pytest tests/tools/compare -q

(TWO_STAGE_OE_PYTHON may name a virtual environment's python with the recipe's timm; without it one is made.)

The autoencoder must agree to the bit (the port is byte-identical); the others to float32 rounding."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from tools.compare.common import Table


def checkout(variable: str) -> Path:
    value = os.environ.get(variable, "")
    if not value:
        pytest.skip(f"set {variable} to a checkout of the public code to run this comparison")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"{variable}={value} is not a folder")
    return path


def relative_rows(table: Table) -> list[tuple[str, float]]:
    """(row, difference / max(scale, 1e-30)) of every row."""
    return [(name, difference / max(scale, 1e-30)) for name, difference, scale in table.rows]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def noise_clips(folder: Path, count: int = 2, seconds: float = 2.0) -> list[Path]:
    """16-bit 16 kHz clips of Gaussian noise (seed 0)."""
    rng = np.random.default_rng(0)
    clips = [folder / f"section_00_source_train_normal_{number:04d}.wav" for number in range(count)]
    for clip in clips:
        wavfile.write(clip, 16000, (rng.standard_normal(int(16000 * seconds)) * 3000).astype(np.int16))
    return clips


def test_the_autoencoder_agrees_with_the_public_baseline_to_the_bit(tmp_path: Path) -> None:
    from tools.compare.baseline_ae import unit_level

    folder = checkout("BASELINE_AE_CHECKOUT")
    table = unit_level(folder, noise_clips(tmp_path))
    assert [row for row in table.rows if row[1] != 0] == []


def test_the_anomaly_transformer_agrees_with_the_public_code(tmp_path: Path) -> None:
    from tools.compare.anomaly_transformer import RATE, unit_table

    table = unit_table(checkout("ANOMALY_TRANSFORMER_CHECKOUT"), tmp_path, ["demo"], ["float32", "float64"])
    for name, relative in relative_rows(table):
        if "after one Adam step" in name:
            # Adam's first step is about lr * sign(gradient): a gradient within rounding of 0 may flip it
            assert dict((n, d) for n, d, _ in table.rows)[name] <= 2 * RATE, name
        else:
            assert relative < (1e-12 if "float64" in name else 1e-5), name
    assert table.rows[0][0].startswith("learning rate") and table.rows[0][1] == 0


def test_aegan_ad_agrees_with_the_public_code_in_every_configuration(tmp_path: Path) -> None:
    from tools.compare.aegan_ad import unit_table

    folder = checkout("AEGAN_AD_CHECKOUT")
    table = unit_table(folder, tmp_path, size=32, batches=2, clips=noise_clips(tmp_path, 3, 4.0))
    assert len(table.rows) == 19 and table.rows[0][0].startswith("front end")
    assert [name for name, relative in relative_rows(table) if relative > 1e-6] == []


def test_stgram_mfn_agrees_with_the_public_code_where_the_networks_match() -> None:
    from tools.compare.stgram_mfn import unit_table

    table = unit_table(checkout("STGRAM_CHECKOUT"))
    assert [name for name, relative in relative_rows(table) if relative > 1e-5] == []


def test_two_stage_oe_agrees_with_the_recipe(tmp_path: Path) -> None:
    from tools.compare.two_stage_oe import network_table, unit_table

    folder = checkout("TWO_STAGE_OE_CHECKOUT")
    assert [row for row in unit_table(folder).rows if row[1] != 0] == []
    # the network side runs in a virtual environment with the recipe's timm: TWO_STAGE_OE_PYTHON's, or one made
    python = os.environ.get("TWO_STAGE_OE_PYTHON")
    table = network_table(folder, tmp_path, Path(python) if python else None)
    names = [row[0] for row in table.rows]
    assert len(names) == 15 and any("gradient" in name for name in names), names
    # network, front end, losses and gradients: the same operations on the same weights, to the bit; the
    # detectors: scikit-learn on both sides, only the z-score's arithmetic differs
    assert [row for row in table.rows if not row[0].startswith("detector") and row[1] != 0] == []
    assert [name for name, relative in relative_rows(table) if relative > 1e-12] == []


def patched_copy(source: Path, destination: Path, patches) -> None:
    """Copy and patch (copy_checkout stops when a patch's text is not found as often as it says); then every new
    text is in its file and no old text is left (but inside a new one)."""
    from tools.compare.common import copy_checkout

    public = copy_checkout(source, destination, patches)
    for patch in patches:
        text = (public / patch.path).read_text(encoding="utf-8")
        assert patch.new in text and (patch.old in patch.new or patch.old not in text), patch.reason


def test_the_aegan_ad_end_to_end_patches_apply(tmp_path: Path) -> None:
    from tools.compare.aegan_ad_end_to_end import PATCHES

    patched_copy(checkout("AEGAN_AD_CHECKOUT") / "dcase22", tmp_path / "aegan", PATCHES)


def test_the_two_stage_oe_end_to_end_patch_applies(tmp_path: Path) -> None:
    from tools.compare.two_stage_oe_end_to_end import PATCHES

    patched_copy(checkout("TWO_STAGE_OE_CHECKOUT"), tmp_path / "oe", PATCHES)
