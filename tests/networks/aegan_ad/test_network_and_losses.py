"""AEGAN-AD's networks (shapes, layers, initialisation) and losses against independent computations: the gradient
penalty against central finite differences of the critic, the feature matching and the WGAN losses against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from networks.aegan_ad.losses import critic_loss, feature_matching, generator_loss, gradient_penalty
from networks.aegan_ad.network import Discriminator, Generator, NetworkShape, halvings, initialise_weights


@pytest.mark.parametrize("size", [8, 32, 128])
def test_shapes_follow_the_patch_side(size: int) -> None:
    shape = NetworkShape(size=size, latent_dim=12, encoder_width=4, decoder_width=4)
    generator, critic = Generator(shape), Discriminator(shape)
    x = torch.rand(3, 1, size, size) * 2 - 1
    recon = generator(x)
    assert recon.shape == x.shape and recon.abs().max() <= 1  # tanh output
    assert generator.encode(x).shape == (3, 12, 1, 1)
    value, embedding = critic(x)
    # the critic's width doubles at every halving after the first: 4 * 2 ** (halvings - 1) channels at 4 x 4
    assert value.shape == (3, 1) and embedding.shape == (3, 4 * 2 ** (halvings(size) - 1)) == (3, critic.embedding_dim)


def test_the_first_encoder_norm_is_optional_and_the_embedding_layer_is_depthwise() -> None:
    with_norm = Generator(NetworkShape(size=32, encoder_first_norm=True)).encoder.layers
    without = Generator(NetworkShape(size=32, encoder_first_norm=False)).encoder.layers
    assert isinstance(with_norm[1], nn.LayerNorm) and isinstance(without[1], nn.LeakyReLU)
    assert len(with_norm) == len(without) + 1
    convolution = Discriminator(NetworkShape(size=32, encoder_width=8)).embedding[0]
    assert convolution.groups == convolution.in_channels == convolution.out_channels == 32


@pytest.mark.parametrize("size", [4, 12, 48])
def test_a_side_that_is_not_a_power_of_two_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        halvings(size)


def test_initialisation_draws_convolutions_from_n_0_002() -> None:
    torch.manual_seed(0)
    generator = Generator(NetworkShape(size=64))
    generator.apply(initialise_weights)
    weights = torch.cat(
        [m.weight.detach().flatten() for m in generator.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    )
    assert abs(float(weights.mean())) < 1e-3 and float(weights.std()) == pytest.approx(0.02, rel=0.01)
    norms = [m for m in generator.modules() if isinstance(m, nn.LayerNorm)]
    assert all(bool((m.weight == 1).all()) and bool((m.bias == 0).all()) for m in norms)


@pytest.mark.parametrize(
    "norm, kind", [("layer", nn.LayerNorm), ("batch", nn.BatchNorm2d), ("instance", nn.InstanceNorm2d)]
)
def test_the_generator_normalisation_is_a_setting_and_the_critic_keeps_layer_norm(norm: str, kind: type) -> None:
    shape = NetworkShape(size=32, encoder_width=4, decoder_width=4, generator_norm=norm)
    generator, critic = Generator(shape), Discriminator(shape)
    layer_norm_generator = Generator(NetworkShape(size=32, encoder_width=4, decoder_width=4))
    kinds = [type(m) for m in generator.modules() if isinstance(m, nn.LayerNorm | nn.BatchNorm2d | nn.InstanceNorm2d)]
    expected = sum(isinstance(m, nn.LayerNorm) for m in layer_norm_generator.modules())
    assert kinds == [kind] * expected
    assert all(type(m) is not kind or kind is nn.LayerNorm for m in critic.modules())
    generator.train()
    x = torch.rand(6, 1, 32, 32)
    after_first = generator.encoder.layers[:2](x).detach().double()  # convolution, then the normalisation
    convolved = generator.encoder.layers[0](x).detach().double()
    axes = {"layer": (1, 2, 3), "batch": (0, 2, 3), "instance": (2, 3)}[norm]
    mean, var = convolved.mean(dim=axes, keepdim=True), convolved.var(dim=axes, keepdim=True, unbiased=False)
    torch.testing.assert_close(after_first, (convolved - mean) / torch.sqrt(var + 1e-5), rtol=1e-4, atol=1e-4)


def test_initialisation_draws_batch_norm_scales_from_n_1_002_as_the_public_weights_init() -> None:
    torch.manual_seed(0)
    generator = Generator(NetworkShape(size=64, encoder_width=16, decoder_width=16, generator_norm="batch"))
    generator.apply(initialise_weights)
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([m.weight.detach() for m in norms])
    assert float(scales.mean()) == pytest.approx(1.0, abs=0.005) and float(scales.std()) == pytest.approx(0.02, rel=0.1)
    assert all(bool((m.bias == 0).all()) for m in norms)


def finite_difference_gradient(function, x: torch.Tensor, step: float = 1e-6) -> torch.Tensor:
    """Central differences of the scalar ``function`` at every element of ``x`` (float64)."""
    gradient = torch.zeros_like(x)
    flat, grad_flat = x.view(-1), gradient.view(-1)
    for index in range(flat.numel()):
        saved = flat[index].item()
        flat[index] = saved + step
        above = function(x).item()
        flat[index] = saved - step
        below = function(x).item()
        flat[index] = saved
        grad_flat[index] = (above - below) / (2 * step)
    return gradient


def test_gradient_penalty_matches_finite_differences() -> None:
    torch.manual_seed(1)
    critic = Discriminator(NetworkShape(size=8, encoder_width=2)).double()
    real, fake = torch.rand(3, 1, 8, 8, dtype=torch.float64), torch.rand(3, 1, 8, 8, dtype=torch.float64)
    alpha = torch.rand(3, 1, 1, 1, dtype=torch.float64)
    mixed = alpha * real + (1 - alpha) * fake
    norms = []
    with torch.no_grad():
        for row in range(3):  # each patch's critic value depends on that patch alone
            gradient = finite_difference_gradient(lambda u: critic(u)[0][0, 0], mixed[row : row + 1].clone())
            norms.append(float(gradient.norm()))
    expected = np.mean((np.array(norms) - 1) ** 2)
    assert gradient_penalty(critic, real, fake, alpha).item() == pytest.approx(expected, rel=1e-6)


def test_gradient_penalty_reaches_the_critic_weights_and_not_the_inputs() -> None:
    torch.manual_seed(2)
    critic = Discriminator(NetworkShape(size=8, encoder_width=2))
    fake = torch.rand(2, 1, 8, 8, requires_grad=True)
    penalty = gradient_penalty(critic, torch.rand(2, 1, 8, 8), fake, torch.rand(2, 1, 1, 1))
    penalty.backward()
    assert critic.features[0].weight.grad is not None and float(critic.features[0].weight.grad.abs().sum()) > 0
    assert fake.grad is None


def test_wgan_and_generator_losses_match_numpy() -> None:
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    loss = critic_loss(torch.from_numpy(real), torch.from_numpy(fake), torch.tensor(0.3, dtype=torch.float64), 10.0)
    assert loss.item() == pytest.approx(-real.mean() + fake.mean() + 3.0, rel=1e-12)
    x, recon = rng.normal(size=(4, 1, 8, 8)), rng.normal(size=(4, 1, 8, 8))
    total, reconstruction = generator_loss(
        torch.from_numpy(recon), torch.from_numpy(x), torch.tensor(2.0, dtype=torch.float64), 0.1
    )
    assert reconstruction.item() == pytest.approx(np.mean((recon - x) ** 2), rel=1e-12)
    assert total.item() == pytest.approx(np.mean((recon - x) ** 2) + 0.2, rel=1e-12)


@pytest.mark.parametrize(("mean_weight", "std_weight"), [(1.0, 0.0), (0.0, 1.0), (1.0, 0.5)])
def test_feature_matching_matches_numpy(mean_weight: float, std_weight: float) -> None:
    rng = np.random.default_rng(4)
    fake, real = rng.normal(size=(16, 10)), rng.normal(1.0, 2.0, size=(16, 10))
    expected = mean_weight * np.mean((fake.mean(0) - real.mean(0)) ** 2) + std_weight * np.mean(
        (fake.std(0) - real.std(0)) ** 2
    )  # numpy's std: the population one
    value = feature_matching(torch.from_numpy(fake), torch.from_numpy(real), mean_weight, std_weight)
    assert value.item() == pytest.approx(expected, rel=1e-12)
