"""The multi-resolution network's front end against numpy, its sizes against the recipe, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from networks.scac_multires.network import (
    MultiResolutionNet,
    NetworkShape,
    StftBranch,
    fft_branch_length,
    frequency_range,
    spectrogram_size,
)


def numpy_spectrogram(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred (zero-padded) STFT magnitude with a periodic Hann window, divided by the window's L2 norm."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    padded = np.pad(signal, n_fft // 2)
    frames = np.stack([padded[start : start + n_fft] for start in range(0, len(padded) - n_fft + 1, hop)])
    return np.abs(np.fft.rfft(frames * window, axis=1)).T / np.sqrt((window**2).sum())


def test_stft_branch_input_is_the_linear_magnitude_from_200_to_8000_hz() -> None:
    shape = NetworkShape(samples=16000, stfts=((256, 128),), width=16)
    branch = StftBranch(shape, 256, 128)
    signal = np.random.default_rng(0).normal(size=16000)
    ours = branch.spectrogram(torch.tensor(signal[None], dtype=torch.float32))[0].numpy()
    expected = numpy_spectrogram(signal, 256, 128)[4:129]  # bins 250 Hz (the first >= 200) .. 8000 Hz
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


def test_bins_and_frames_of_the_three_recipe_branches() -> None:
    assert [
        spectrogram_size(192000, n, h, 16000, 200.0, 8000.0) for n, h in ((256, 128), (1024, 512), (4096, 2048))
    ] == [(125, 1501), (500, 376), (1997, 94)]
    assert frequency_range(4096, 16000, 200.0, 8000.0) == (52, 2049)  # 51 x 3.90625 Hz < 200 <= 52 x 3.90625 Hz


def test_the_recipe_network_embeds_into_512_values_without_biases() -> None:
    net = MultiResolutionNet(NetworkShape(samples=192000))
    assert all(not name.endswith("bias") for name, _ in net.named_parameters())
    # the parameter count of ASDKit's MultiResNet for the same recipe (tools/compare/asdkit.py prints both)
    assert sum(parameter.numel() for parameter in net.parameters()) == 5_033_200
    net.eval()
    assert net(torch.zeros(2, 192000)).shape == (2, 512)


def test_windows_too_short_for_a_branch_are_refused() -> None:
    with pytest.raises(ValueError, match="4096/2048 STFT of 64000 samples has 1997 bins x 32 frames"):
        MultiResolutionNet(NetworkShape(samples=64000, use_fft=False))
    assert fft_branch_length(70014) >= 1 > fft_branch_length(64000)
