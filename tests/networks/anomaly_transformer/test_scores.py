"""The Anomaly Transformer's losses and scores: the association discrepancy against a numpy KL divergence, the
frame score against a direct softmax, which parameters each minimax phase moves (its stop-gradients), and the
windowing and aggregation of frame scores into clip scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from networks.anomaly_transformer.network import AnomalyTransformer, Associations, NetworkShape
from networks.anomaly_transformer.scores import (
    aggregate,
    frame_scores,
    minimax_losses,
    step_discrepancy,
    stitch_windows,
    symmetric_kl,
    window_starts,
)


def random_rows(rng: np.random.Generator, shape: tuple[int, ...], concentration: float = 0.7) -> np.ndarray:
    values = rng.gamma(concentration, size=shape)
    return values / values.sum(axis=-1, keepdims=True)


def numpy_kl(p: np.ndarray, q: np.ndarray, epsilon: float = 1e-4) -> np.ndarray:
    """sum_j p_j log((p_j + eps) / (q_j + eps)) of every row, then the mean over heads (axis 1)."""
    return np.sum(p * np.log((p + epsilon) / (q + epsilon)), axis=-1).mean(axis=1)


def test_discrepancy_is_the_symmetrised_kl_summed_over_layers() -> None:
    rng = np.random.default_rng(0)
    layers = [(random_rows(rng, (2, 3, 5, 5)), random_rows(rng, (2, 3, 5, 5))) for _ in range(2)]
    associations = Associations([torch.from_numpy(s) for s, _ in layers], [torch.from_numpy(p) for _, p in layers], [])
    expected = sum(numpy_kl(s, p) + numpy_kl(p, s) for s, p in layers)
    np.testing.assert_allclose(step_discrepancy(associations).numpy(), expected, rtol=1e-12)
    # the epsilon is what the public code adds; on rows without tiny probabilities it is scipy's KL divergence
    s, p = random_rows(rng, (2, 3, 5, 5), 20.0), random_rows(rng, (2, 3, 5, 5), 20.0)
    exact = (entropy(s, p, axis=-1) + entropy(p, s, axis=-1)).mean(axis=1)
    np.testing.assert_allclose(symmetric_kl(torch.from_numpy(s), torch.from_numpy(p)).numpy(), exact, rtol=1e-2)
    assert float(symmetric_kl(torch.from_numpy(s), torch.from_numpy(s)).abs().max()) == 0.0


def test_frame_score_is_the_softmax_of_the_negative_discrepancy_times_the_error() -> None:
    rng = np.random.default_rng(1)
    series, prior = random_rows(rng, (3, 2, 6, 6)), random_rows(rng, (3, 2, 6, 6))
    associations = Associations([torch.from_numpy(series)], [torch.from_numpy(prior)], [])
    frames, reconstruction = rng.normal(size=(3, 6, 4)), rng.normal(size=(3, 6, 4))
    got = frame_scores(torch.from_numpy(frames), torch.from_numpy(reconstruction), associations, 50.0).numpy()
    logits = -50.0 * (numpy_kl(series, prior) + numpy_kl(prior, series))
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, weights * ((frames - reconstruction) ** 2).mean(axis=-1), rtol=1e-10)


def tiny_network() -> tuple[AnomalyTransformer, torch.Tensor]:
    torch.manual_seed(0)
    net = AnomalyTransformer(NetworkShape(n_bands=6, window=10, d_model=8, heads=2, layers=2, d_ff=8))
    return net, torch.randn(3, 10, 6)


def gradients(net: AnomalyTransformer, loss: torch.Tensor) -> dict[str, float]:
    """Largest absolute gradient of ``loss`` for every parameter (0 for one it does not reach)."""
    named = dict(net.named_parameters())
    grads = torch.autograd.grad(loss, list(named.values()), retain_graph=True, allow_unused=True)
    return {name: 0.0 if grad is None else float(grad.abs().max()) for name, grad in zip(named, grads, strict=True)}


def test_minimax_stop_gradients_decide_which_parameters_each_phase_moves() -> None:
    net, frames = tiny_network()
    reconstruction, associations = net(frames)
    weight = 3.0
    losses = minimax_losses(frames, reconstruction, associations, weight)
    # the discrepancy terms alone: maximise = rec - lambda * D(series, prior.detach()), minimise = rec + lambda * D(...)
    maximise_part = gradients(net, losses.maximise - losses.reconstruction)
    minimise_part = gradients(net, losses.minimise - losses.reconstruction)
    for layer in range(2):
        # the prior only changes in the minimise phase: its sigma projection gets nothing from maximising
        assert maximise_part[f"layers.{layer}.attention.sigma.weight"] == 0.0
        assert minimise_part[f"layers.{layer}.attention.sigma.weight"] > 0.0
        # the series (queries and keys) is pushed away from the prior in the maximise phase
        assert maximise_part[f"layers.{layer}.attention.query.weight"] > 0.0
        assert maximise_part[f"layers.{layer}.attention.key.weight"] > 0.0
    # in the minimise phase the series is detached: the last layer's queries and keys get no gradient
    assert minimise_part["layers.1.attention.query.weight"] == 0.0
    assert minimise_part["layers.1.attention.key.weight"] == 0.0
    # what comes after the last attention weights touches only the reconstruction
    after = [
        "layers.1.attention.value.weight",
        "layers.1.attention.out.weight",
        "layers.1.feed_in.weight",
        "norm.weight",
        "reconstruction.weight",
    ]
    reconstruction_only = gradients(net, losses.reconstruction)
    for name in after:
        assert maximise_part[name] == minimise_part[name] == 0.0
        assert reconstruction_only[name] > 0.0
    # the maximise phase's discrepancy term is -lambda x the logged (mean over layers) discrepancy
    discrepancy_term = float((losses.maximise - losses.reconstruction).detach())
    np.testing.assert_allclose(discrepancy_term, -weight * float(losses.discrepancy), rtol=1e-6)


def test_lambda_zero_leaves_plain_reconstruction_in_both_phases() -> None:
    net, frames = tiny_network()
    reconstruction, associations = net(frames)
    losses = minimax_losses(frames, reconstruction, associations, 0.0)
    expected = float(((frames - reconstruction) ** 2).mean())
    assert float(losses.maximise) == pytest.approx(expected) and float(losses.minimise) == pytest.approx(expected)
    assert all(value == 0.0 for name, value in gradients(net, losses.minimise - losses.reconstruction).items())


def test_one_minimax_step_applies_the_sum_of_both_phases_gradients() -> None:
    """What the public code does with loss1.backward(retain_graph=True); loss2.backward(); step()."""
    net, frames = tiny_network()
    reconstruction, associations = net(frames)
    losses = minimax_losses(frames, reconstruction, associations, 3.0)
    losses.maximise.backward(retain_graph=True)
    losses.minimise.backward()
    separate = {name: p.grad.clone() for name, p in net.named_parameters()}
    net.zero_grad()
    reconstruction, associations = net(frames)
    losses = minimax_losses(frames, reconstruction, associations, 3.0)
    (losses.maximise + losses.minimise).backward()
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad, separate[name], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("n_frames", "window", "stride", "expected"),
    [
        (313, 100, 100, [0, 100, 200, 213]),
        (300, 100, 100, [0, 100, 200]),
        (12, 5, 3, [0, 3, 6, 7]),
        (5, 5, 2, [0]),
    ],
)
def test_windows_start_every_stride_and_the_last_ends_at_the_last_frame(
    n_frames: int, window: int, stride: int, expected: list[int]
) -> None:
    starts = window_starts(n_frames, window, stride)
    assert starts.tolist() == expected
    covered = np.zeros(n_frames, dtype=bool)
    for start in starts:
        covered[start : start + window] = True
    assert covered.all()


def test_a_clip_shorter_than_a_window_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer than a window"):
        window_starts(4, 5, 1)


def test_each_frame_keeps_the_score_of_the_first_window_covering_it() -> None:
    rng = np.random.default_rng(2)
    starts = window_starts(12, 5, 3)
    scores = rng.random((len(starts), 5))
    got = stitch_windows(scores, starts, 12)
    for frame in range(12):
        first = next(w for w, start in enumerate(starts) if start <= frame < start + 5)
        assert got[frame] == scores[first, frame - starts[first]]
    with pytest.raises(ValueError, match="cover"):
        stitch_windows(scores[:1], starts[:1], 12)


def test_clip_aggregation_is_the_mean_or_the_maximum_over_frames() -> None:
    values = np.array([0.2, 1.5, 0.1, 0.4])
    assert aggregate(values, "mean") == pytest.approx(0.55) and aggregate(values, "max") == 1.5
    with pytest.raises(ValueError):
        aggregate(values, "median")
