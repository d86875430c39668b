"""Stage 1's training maths as small pure functions: the balanced outlier-exposure batches, the crops, the
mixup and its decaying probability, the two losses (numpy / torch, no files).

Each follows the recipe (asd_tools/datasets/samplers.py ``OECBalancedBatchSampler``, collators.py, utils
``mixup_apply_rate``, pytorch_utils.py ``mixup_for_asd``, trainer.py ``_train_step``); where ours differs
it says so.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def balanced_batches(
    source_ids: np.ndarray,
    target_ids: np.ndarray,
    outlier_ids: np.ndarray,
    n_positive: int,
    n_target: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """One epoch of batches of ``n_positive`` clips of the machine type (``n_target`` of them drawn at random
    from its target-domain clips, the rest its source clips in a shuffled order) and ``n_positive``
    pseudo-anomalies (other machine types' clips, shuffled, taken in turn).

    As the recipe's sampler with ``drop_last``: ``(n_source - 1) // n_source_per_batch`` batches, every source
    clip at most once. Ours differs where the recipe breaks: at least one batch when there are fewer source
    clips than a batch holds, and the outliers are reshuffled and reused when there are fewer than the epoch
    needs (the recipe then returns short batches)."""
    per_batch = n_positive - n_target
    if per_batch < 1 or len(source_ids) == 0 or len(outlier_ids) == 0:
        raise ValueError("balanced batches need source clips, outliers and n_positive > n_target")
    sources = rng.permutation(source_ids)
    n_batches = max(1, (len(sources) - 1) // per_batch)
    needed = n_batches * n_positive
    outliers = np.concatenate([rng.permutation(outlier_ids) for _ in range(math.ceil(needed / len(outlier_ids)))])
    batches = []
    for number in range(n_batches):
        batch = [sources[number * per_batch : (number + 1) * per_batch]]
        if n_target > 0 and len(target_ids) > 0:
            batch.append(rng.choice(target_ids, n_target))
        batch.append(outliers[number * n_positive : (number + 1) * n_positive])
        batches.append(rng.permutation(np.concatenate(batch)))
    return batches


def random_crop_starts(lengths: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """The recipe's training crop: start uniform in ``[0, max(length - crop, 1))``."""
    return rng.integers(np.maximum(np.asarray(lengths) - crop, 1))


def mixup_probability(step: int, total_steps: int, max_rate: float = 1.0, min_rate: float = 0.0) -> float:
    """Probability that a batch is mixed up, decaying along a quarter cosine from ``max_rate`` at step 0 to
    ``min_rate`` at ``total_steps`` (the recipe's ``mixup_apply_rate`` in mode "cos")."""
    return float(np.cos(np.pi / 2 * step / total_steps) * (max_rate - min_rate) + min_rate)


def mixup(
    waveforms: torch.Tensor, is_machine: torch.Tensor, sections: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix every clip with a random other clip of the batch, weight ``lam ~ Beta(alpha, alpha)`` per clip;
    the machine target and the one-hot section targets (zeroed for outliers first) are mixed alike. Returns
    ``(waveforms, machine targets (batch, 1), section targets, rows that take the section loss)``: the rows
    with any share of the machine type (the recipe's ``mix_section`` case, its BCE section loss)."""
    batch = waveforms.shape[0]
    lam = torch.from_numpy(rng.beta(alpha, alpha, batch).astype(np.float32)).to(waveforms.device)[:, None]
    order = torch.from_numpy(rng.permutation(batch)).to(waveforms.device)
    sections = sections * is_machine
    mixed_machine = lam * is_machine + (1 - lam) * is_machine[order]
    mixed_sections = lam * sections + (1 - lam) * sections[order]
    return lam * waveforms + (1 - lam) * waveforms[order], mixed_machine, mixed_sections, mixed_machine[:, 0] > 0


def outlier_exposure_losses(
    machine_logits: torch.Tensor,
    section_logits: torch.Tensor,
    machine_targets: torch.Tensor,
    section_targets: torch.Tensor,
    section_rows: torch.Tensor,
    section_weight: float,
) -> dict[str, torch.Tensor]:
    """``machine``: BCE with logits of the machine head, all rows; ``section``: BCE with logits of the
    section head against the (soft) one-hot targets, mean over the rows of the machine type; ``loss``:
    ``machine + section_weight * section``. A batch without a row of the machine type has no section loss
    (the recipe's would be NaN)."""
    machine = F.binary_cross_entropy_with_logits(machine_logits.float(), machine_targets)
    if bool(section_rows.any()):
        section = F.binary_cross_entropy_with_logits(
            section_logits.float()[section_rows], section_targets[section_rows]
        )
    else:
        section = machine.new_zeros(())
    return {"loss": machine + section_weight * section, "machine": machine, "section": section}


def waveform_statistics(chunks: list[np.ndarray]) -> tuple[float, float]:
    """Mean and standard deviation of all samples of a machine type's training clips (the recipe normalises
    every clip of a machine type by these two numbers, taken from its development training clips only; for a
    -d run those are ours too, see docs/systems/two_stage_oe.md for -e)."""
    count = sum(len(chunk) for chunk in chunks)
    if count == 0:
        raise ValueError("no samples")
    total = sum(float(np.sum(chunk, dtype=np.float64)) for chunk in chunks)
    mean = total / count
    squares = sum(float(np.sum((np.asarray(chunk, dtype=np.float64) - mean) ** 2)) for chunk in chunks)
    return mean, max(math.sqrt(squares / count), 1e-12)
