"""Stage 1's maths against independent computations: the losses against the BCE formula in numpy, the balanced
batches' composition, the mixup and its decaying probability against their definitions, the crop starts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from networks.two_stage_oe.training import (
    balanced_batches,
    mixup,
    mixup_probability,
    outlier_exposure_losses,
    random_crop_starts,
    waveform_statistics,
)


def numpy_bce(logits: np.ndarray, targets: np.ndarray) -> float:
    probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    return float(np.mean(-(targets * np.log(probabilities) + (1 - targets) * np.log(1 - probabilities))))


def test_losses_follow_the_binary_cross_entropy_formula() -> None:
    rng = np.random.default_rng(0)
    machine_logits, section_logits = rng.normal(size=(6, 1)), rng.normal(size=(6, 4))
    machine_targets = np.array([[1.0], [1.0], [0.3], [0.0], [0.0], [1.0]])
    section_targets = rng.uniform(size=(6, 4)) * (machine_targets > 0)
    rows = machine_targets[:, 0] > 0
    losses = outlier_exposure_losses(
        *(
            torch.tensor(a, dtype=torch.float32)
            for a in (machine_logits, section_logits, machine_targets, section_targets)
        ),
        torch.from_numpy(rows),
        10.0,
    )
    machine = numpy_bce(machine_logits, machine_targets)
    section = numpy_bce(section_logits[rows], section_targets[rows])
    assert losses["machine"].item() == pytest.approx(machine, rel=1e-5)
    assert losses["section"].item() == pytest.approx(section, rel=1e-5)
    assert losses["loss"].item() == pytest.approx(machine + 10.0 * section, rel=1e-5)


def test_a_batch_without_the_machine_type_has_no_section_loss() -> None:
    losses = outlier_exposure_losses(
        torch.zeros(3, 1),
        torch.ones(3, 2),
        torch.zeros(3, 1),
        torch.zeros(3, 2),
        torch.zeros(3, dtype=torch.bool),
        10.0,
    )
    assert losses["section"].item() == 0.0 and losses["loss"].item() == pytest.approx(np.log(2), rel=1e-6)


def test_balanced_batches_hold_half_positives_half_outliers_and_each_source_clip_once() -> None:
    source, target, outliers = np.arange(100), np.arange(100, 105), np.arange(200, 230)
    batches = balanced_batches(source, target, outliers, 16, 2, np.random.default_rng(0))
    assert len(batches) == (100 - 1) // 14  # the recipe's count with drop_last
    seen = np.concatenate([batch[batch < 100] for batch in batches])
    assert len(seen) == len(set(seen.tolist())) == 14 * len(batches)
    for batch in batches:
        assert len(batch) == 32
        assert np.sum(batch < 100) == 14 and np.sum((batch >= 100) & (batch < 105)) == 2
        assert np.sum(batch >= 200) == 16  # 30 outliers, reshuffled and reused for 7 x 16 draws


def test_too_few_source_clips_still_give_one_batch() -> None:
    batches = balanced_batches(np.arange(3), np.array([], dtype=int), np.arange(10, 20), 8, 0, np.random.default_rng(1))
    assert len(batches) == 1 and np.sum(batches[0] < 3) == 3 and np.sum(batches[0] >= 10) == 8


def test_mixup_probability_decays_along_a_quarter_cosine() -> None:
    steps = np.arange(0, 101, 10)
    expected = 0.1 + 0.8 * np.cos(np.pi / 2 * steps / 100)
    assert np.allclose([mixup_probability(int(s), 100, 0.9, 0.1) for s in steps], expected)
    assert mixup_probability(0, 100) == 1.0 and mixup_probability(100, 100) == pytest.approx(0.0, abs=1e-12)


def test_mixup_mixes_waves_and_targets_with_the_same_weights() -> None:
    rng = np.random.default_rng(3)
    waves = torch.randn(6, 50)
    is_machine = torch.tensor([[1.0], [1.0], [1.0], [0.0], [0.0], [0.0]])
    sections = torch.eye(4)[torch.tensor([0, 1, 2, 3, 3, 0])]
    mixed, machine, mixed_sections, rows = mixup(waves, is_machine, sections, 0.2, np.random.default_rng(3))
    lam, order = rng.beta(0.2, 0.2, 6)[:, None], rng.permutation(6)
    zeroed = sections.numpy() * is_machine.numpy()
    assert np.allclose(mixed.numpy(), lam * waves.numpy() + (1 - lam) * waves.numpy()[order], atol=1e-6)
    assert np.allclose(machine.numpy(), lam * is_machine.numpy() + (1 - lam) * is_machine.numpy()[order], atol=1e-6)
    assert np.allclose(mixed_sections.numpy(), lam * zeroed + (1 - lam) * zeroed[order], atol=1e-6)
    assert np.array_equal(rows.numpy(), machine.numpy()[:, 0] > 0)


def test_random_crop_starts_stay_inside_the_clip() -> None:
    lengths = np.array([100, 50, 30, 500])
    starts = np.stack([random_crop_starts(lengths, 40, np.random.default_rng(seed)) for seed in range(200)])
    assert (starts >= 0).all() and (starts[:, 3] < 460).all() and (starts[:, 2] == 0).all()
    assert starts[:, 0].max() == 59  # the recipe's exclusive upper end: length - crop - 1


def test_waveform_statistics_equal_those_of_all_samples() -> None:
    rng = np.random.default_rng(4)
    chunks = [rng.normal(0.1, 0.3, size) for size in (10, 1000, 37)]
    mean, std = waveform_statistics(chunks)
    together = np.concatenate(chunks)
    assert mean == pytest.approx(together.mean()) and std == pytest.approx(together.std())
