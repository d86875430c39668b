"""The network (front end against librosa, EfficientNet-B0's TensorFlow padding and layout, the heads' formulas),
the pretrained-weights path with a weights file the test writes, and the model's clear errors."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import librosa
import numpy as np
import pytest
import torch

from errors import DataError
from networks import registry
from networks.two_stage_oe.efficientnet import EfficientNetB0, same_padding
from networks.two_stage_oe.model import TwoStageOEModel, section_classes
from networks.two_stage_oe.network import NetworkShape, OutlierExposureNet, htk_mel_filterbank
from networks.two_stage_oe.pretrained import load_backbone_weights

TINY = dict(n_classes=3, sample_rate=16000, n_fft=512, hop_length=256, n_mels=32, fmin=50.0, fmax=7800.0)


def test_registered_under_its_name() -> None:
    assert registry.get("two-stage-OE") is TwoStageOEModel
    assert TwoStageOEModel.score_modes[:2] == ("GMM", "KNN")  # 02a and 02b


def test_mel_filters_equal_librosa_htk_filters() -> None:
    ours = htk_mel_filterbank(16000, 2048, 224, 50.0, 7800.0).numpy().T
    expected = librosa.filters.mel(sr=16000, n_fft=2048, n_mels=224, fmin=50.0, fmax=7800.0, htk=True, norm=None)
    assert np.allclose(ours, expected, atol=2e-5)


def test_front_end_is_the_window_normalised_stft_magnitude_through_the_filters() -> None:
    net = OutlierExposureNet(NetworkShape(**TINY))
    signal = np.random.default_rng(0).normal(size=8000).astype(np.float32)
    stft = librosa.stft(signal, n_fft=512, hop_length=256, window="hann", center=True, pad_mode="reflect")
    window = np.hanning(513)[:-1]  # periodic Hann
    expected = net.front_end.filters.numpy().T @ (np.abs(stft) / np.sqrt(np.sum(window**2)))
    with torch.no_grad():
        ours = net.front_end(torch.from_numpy(signal)[None])[0].numpy()
    assert np.allclose(ours, expected, rtol=1e-4, atol=1e-5)


def test_heads_follow_the_recipes_formulas() -> None:
    torch.manual_seed(0)
    net = OutlierExposureNet(NetworkShape(**TINY)).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 8000))
        norm = out["embedding"].pow(2).sum(1, keepdim=True) / 128
        expected = norm * net.machine_head.weight + net.machine_head.bias
    assert out["embedding"].shape == (2, 128) and out["section"].shape == (2, 3)
    assert torch.allclose(out["machine"], expected)
    assert torch.allclose(out["section"], out["embedding"] @ net.section_head.weight.T)


@pytest.mark.parametrize(("size", "kernel", "stride"), [(224, 3, 2), (63, 5, 2), (7, 3, 1), (1, 5, 2)])
def test_same_padding_gives_ceil_size_over_stride(size: int, kernel: int, stride: int) -> None:
    before, after = same_padding(size, kernel, stride)
    out = (size + before + after - kernel) // stride + 1
    assert out == math.ceil(size / stride) or size + before + after < kernel
    assert 0 <= after - before <= 1


def test_backbone_has_efficientnet_b0s_size_and_output() -> None:
    backbone = EfficientNetB0()
    assert sum(p.numel() for p in backbone.parameters()) == 4_007_548  # timm's tf_efficientnet_b0 without classifier
    assert backbone(torch.zeros(1, 3, 64, 40)).shape == (1, 1280, 2, 2)


def test_pretrained_weights_file_is_loaded_and_checked(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = EfficientNetB0()
    path = tmp_path / "b0.pth"
    torch.save({"state_dict": {**source.state_dict(), "classifier.weight": torch.zeros(1000, 1280)}}, path)
    target = EfficientNetB0()
    assert str(path) in load_backbone_weights(target, str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    torch.save({"conv_stem.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(DataError, match="not the weights of timm's tf_efficientnet_b0"):
        load_backbone_weights(target, str(tmp_path / "wrong.pth"))
    with pytest.raises(DataError, match="no such file"):
        load_backbone_weights(target, str(tmp_path / "missing.pth"))


def test_section_classes_are_sections_or_domain_and_attributes() -> None:
    assert section_classes(["00", "01", "00"], ["source"] * 3, ["a", "b", ""]) == ["00", "01", "00"]
    assert section_classes(["00", "00"], ["source", "target"], ["spd_6", ""]) == ["source/spd_6", "target"]


def test_one_machine_type_alone_is_refused_with_what_the_method_needs() -> None:
    data = SimpleNamespace(run_machine="fan", machines=["fan"])
    options = SimpleNamespace()
    with pytest.raises(DataError, match="other machine types of the dataset"):
        TwoStageOEModel.shape_of(options, data)
