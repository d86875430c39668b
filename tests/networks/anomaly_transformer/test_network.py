"""The Anomaly Transformer's network against direct numpy computations: the prior association (a row-normalised
Gaussian of the distance between steps with the learnt width), the series association (softmax attention), the
sinusoidal positions, and the shapes of what it returns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from networks.anomaly_transformer.network import (
    AnomalyAttention,
    AnomalyTransformer,
    NetworkShape,
    prior_association,
    prior_width,
    sinusoidal_positions,
)


def numpy_width(logits: np.ndarray) -> np.ndarray:
    return 3.0 ** (1.0 / (1.0 + np.exp(-5.0 * logits)) + 1e-5) - 1.0


def numpy_gaussian_rows(sigma: np.ndarray, window: int) -> np.ndarray:
    """(..., window) widths -> (..., window, window): N(|i - j|; 0, sigma_i) over j, divided by its sum."""
    i, j = np.meshgrid(np.arange(window), np.arange(window), indexing="ij")
    s = sigma[..., None]
    density = np.exp(-((i - j) ** 2) / (2.0 * s**2)) / (math.sqrt(2.0 * math.pi) * s)
    return density / density.sum(axis=-1, keepdims=True)


def test_prior_association_is_a_row_normalised_gaussian_of_the_step_distance() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=0.8, size=(2, 3, 12))
    sigma = prior_width(torch.from_numpy(logits))
    np.testing.assert_allclose(sigma.numpy(), numpy_width(logits), rtol=1e-12)
    assert float(sigma.min()) > 0.0 and float(sigma.max()) <= 2.0 + 1e-9
    prior = prior_association(sigma, 12).numpy()
    np.testing.assert_allclose(prior, numpy_gaussian_rows(numpy_width(logits), 12), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(prior.sum(axis=-1), 1.0, rtol=1e-12)
    # a wide Gaussian spreads its mass; each row peaks on its own step
    assert (prior.argmax(axis=-1) == np.arange(12)).all()


def test_attention_layer_gives_the_prior_of_its_sigma_projection_and_the_softmax_series() -> None:
    torch.manual_seed(0)
    attention = AnomalyAttention(d_model=12, heads=3).double()
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    with torch.no_grad():
        out, series, prior, sigma = attention(x)
    xs = x.numpy()
    weight = {
        name: (getattr(attention, name).weight.detach().numpy(), getattr(attention, name).bias.detach().numpy())
        for name in ("query", "key", "value", "sigma", "out")
    }
    sigma_logits = (xs @ weight["sigma"][0].T + weight["sigma"][1]).transpose(0, 2, 1)  # (batch, heads, steps)
    np.testing.assert_allclose(sigma.numpy(), numpy_width(sigma_logits), rtol=1e-10)
    np.testing.assert_allclose(prior.numpy(), numpy_gaussian_rows(numpy_width(sigma_logits), 7), rtol=1e-9, atol=1e-14)
    q, k, v = ((xs @ weight[name][0].T + weight[name][1]).reshape(2, 7, 3, 4) for name in ("query", "key", "value"))
    logits = np.einsum("blhe,bshe->bhls", q, k) / 2.0  # 1 / sqrt(head dim 4)
    expected = np.exp(logits - logits.max(axis=-1, keepdims=True))
    expected /= expected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(series.numpy(), expected, rtol=1e-9)
    attended = np.einsum("bhls,bshd->blhd", expected, v).reshape(2, 7, 12)
    np.testing.assert_allclose(out.numpy(), attended @ weight["out"][0].T + weight["out"][1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("d_model", [8, 9])
def test_positions_are_sines_on_even_and_cosines_on_odd_columns(d_model: int) -> None:
    got = sinusoidal_positions(5, d_model).numpy()
    for column in range(d_model):
        rate = 10000.0 ** (-(column - column % 2) / d_model)
        wave = np.sin if column % 2 == 0 else np.cos
        np.testing.assert_allclose(got[:, column], wave(np.arange(5) * rate), atol=1e-6)


def test_network_reconstructs_every_step_and_returns_every_layers_associations() -> None:
    torch.manual_seed(0)
    shape = NetworkShape(n_bands=10, window=16, d_model=12, heads=3, layers=2, d_ff=20)
    net = AnomalyTransformer(shape)
    reconstruction, associations = net(torch.randn(4, 16, 10))
    assert reconstruction.shape == (4, 16, 10)
    assert len(associations.series) == len(associations.prior) == len(associations.sigma) == 2
    for series, prior in zip(associations.series, associations.prior, strict=True):
        assert series.shape == prior.shape == (4, 3, 16, 16)
        torch.testing.assert_close(series.sum(-1), torch.ones(4, 3, 16))
        torch.testing.assert_close(prior.sum(-1), torch.ones(4, 3, 16))
    assert "positions" not in net.state_dict()  # computed, as the public code's table


def test_embedding_wraps_around_the_window() -> None:
    """The value embedding is a 3-step convolution with circular padding: the first step sees the last."""
    torch.manual_seed(0)
    net = AnomalyTransformer(NetworkShape(n_bands=3, window=6, d_model=4, heads=1, layers=1, d_ff=4))
    frames = torch.randn(1, 6, 3)
    weight = net.embedding.weight.detach().numpy()  # (d_model, bands, 3)
    x = frames[0].numpy()
    expected = np.stack([sum(weight[:, :, k] @ x[(t + k - 1) % 6] for k in range(3)) for t in range(6)])
    got = net.embedding(frames.transpose(1, 2)).transpose(1, 2)[0].detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
