"""The Anomaly Transformer as a registered model: its options, the band standardisation against scikit-learn's
StandardScaler, the windows it cuts from a clip's frames, the clip scores against a direct computation through
the network, the public solver's learning-rate schedule, training steps, and a save/load round trip."""

from __future__ import annotations

from argparse import Namespace

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from datasets.clip_features import ClipFeatures
from datasets.features import FeatureParams
from datasets.vector_data import VectorSet
from errors import ConfigError, DataError
from networks import registry
from networks.anomaly_transformer.model import (
    AnomalyTransformerModel,
    FrameWindows,
    band_standardiser,
    learning_rate_at,
)
from networks.anomaly_transformer.network import AnomalyTransformer
from networks.anomaly_transformer.options import AnomalyTransformerOptions
from networks.anomaly_transformer.scores import frame_scores

BANDS = 6


def tiny_options(**changes: object) -> AnomalyTransformerOptions:
    values = dict(
        epochs=2,
        batch_size=4,
        learning_rate=1e-3,
        shuffle=True,
        seed=0,
        n_mels=BANDS,
        at_window=8,
        at_train_stride=4,
        at_d_model=8,
        at_heads=2,
        at_layers=2,
        at_d_ff=8,
        at_lambda=3.0,
        at_temperature=50.0,
    )
    values.update(changes)
    return AnomalyTransformerOptions(**values)


def vector_set(clip_lengths: list[int], seed: int = 0, frames_per_vector: int = 1, offset: float = 0.0) -> VectorSet:
    rng = np.random.default_rng(seed)
    log_mel = (offset + rng.normal(size=(sum(clip_lengths), BANDS)) * np.arange(1, BANDS + 1)).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(clip_lengths)])
    names = [f"section_00_source_train_normal_{index:04d}.wav" for index in range(len(clip_lengths))]
    features = ClipFeatures(offsets=offsets, names=names, sample_rate=16000, log_mel=log_mel)
    params = FeatureParams(n_mels=BANDS, frames=frames_per_vector)
    return VectorSet.from_features(features, params, np.zeros(len(clip_lengths), dtype=bool), torch.device("cpu"))


def tiny_model(data: VectorSet, **changes: object) -> AnomalyTransformerModel:
    torch.manual_seed(0)
    options = tiny_options(**changes)
    return AnomalyTransformerModel(options, AnomalyTransformerModel.shape_of(options, data), torch.device("cpu"))


def test_registry_entry_is_a_per_machine_model_on_log_mel_frames_with_mean_and_max_scores() -> None:
    cls = registry.get("Anomaly-Transformer")
    assert cls is AnomalyTransformerModel and cls.scope == "machine" and cls.inputs == "vectors"
    assert cls.score_modes == ("MEAN", "MAX")


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("at_window", 1),
        ("at_train_stride", 9),
        ("at_heads", 9),
        ("at_lambda", -1.0),
        ("at_temperature", 0.0),
        ("at_layers", 0),
    ],
)
def test_settings_refuse_values_that_cannot_work(flag: str, value: object) -> None:
    config = Namespace(**{**tiny_options().__dict__, flag: value})
    with pytest.raises(ConfigError, match=f"--{flag}"):
        AnomalyTransformerOptions.from_config(config)


def public_solver_rates(epochs: int, base: float) -> list[float]:
    """The rate each 0-based epoch trains at in the public solver: the optimiser starts at ``base`` and
    ``adjust_learning_rate(optimizer, epoch + 1, base)`` sets ``base * 0.5 ** ((epoch - 1) // 1)`` after each."""
    rate, rates = base, []
    for epoch in range(epochs):
        rates.append(rate)
        following = epoch + 1
        rate = base * (0.5 ** ((following - 1) // 1))
    return rates


def test_learning_rate_follows_the_public_solver() -> None:
    expected = public_solver_rates(10, 1e-4)
    assert [learning_rate_at(epoch, 1e-4) for epoch in range(1, 11)] == expected
    assert expected[:4] == [1e-4, 1e-4, 5e-5, 2.5e-5]


def test_bands_are_standardised_as_scikit_learn_does() -> None:
    data = vector_set([20, 15], offset=-30.0)
    mean, scale = band_standardiser(data.frames.numpy())
    scaler = StandardScaler().fit(data.frames.numpy().astype(np.float64))
    np.testing.assert_allclose(mean, scaler.mean_, rtol=1e-12)
    np.testing.assert_allclose(scale, scaler.scale_, rtol=1e-12)
    model = tiny_model(data)
    standardised = model.standardised(data.frames).numpy()
    np.testing.assert_allclose(standardised, scaler.transform(data.frames.numpy()), atol=1e-5)
    constant = band_standardiser(np.ones((4, 2)))
    assert constant == ([1.0, 1.0], [1.0, 1.0])


@pytest.mark.parametrize("frames_per_vector", [1, 5])
def test_windows_cover_each_clip_and_hold_its_own_frames(frames_per_vector: int) -> None:
    data = vector_set([20, 11, 8], frames_per_vector=frames_per_vector)
    windows = FrameWindows(data, 8, 4)
    assert [starts.tolist() for starts in windows.clip_starts] == [[0, 4, 8, 12], [0, 3], [0]]
    frames = data.frames.numpy()
    clip_first = [0, 20, 31]
    gathered = windows.gather(np.arange(len(windows))).numpy()
    expected = [
        frames[clip_first[clip] + start : clip_first[clip] + start + 8]
        for clip, starts in enumerate(windows.clip_starts)
        for start in starts
    ]
    np.testing.assert_array_equal(gathered, np.stack(expected))


def test_a_clip_shorter_than_the_window_is_refused_by_name() -> None:
    data = vector_set([20, 6])
    with pytest.raises(DataError, match=r"section_00_source_train_normal_0001\.wav has 6 log-mel frames.*--at_window"):
        FrameWindows(data, 8, 4)


def test_clip_scores_are_the_mean_and_max_of_the_network_frame_scores() -> None:
    data = vector_set([16, 12])  # 2 windows of 8; 2 windows (0 and 4) of which the second adds 4 frames
    model = tiny_model(data)
    scores = model.score(data)
    mean, scale = band_standardiser(data.frames.numpy())
    frames = (data.frames.numpy().astype(np.float64) - mean) / scale
    net = model.net.eval()
    expected_frames = []
    for first, end in [(0, 16), (16, 28)]:
        clip = torch.from_numpy(frames[first:end]).float()
        windows = torch.stack([clip[:8], clip[-8:]])
        with torch.no_grad():
            reconstruction, associations = net(windows)
            per_window = frame_scores(windows, reconstruction, associations, 50.0).numpy()
        n_tail = (end - first) - 8
        expected_frames.append(np.concatenate([per_window[0], per_window[1][8 - n_tail :]]))
    np.testing.assert_allclose(scores["MEAN"], [values.mean() for values in expected_frames], rtol=1e-5)
    np.testing.assert_allclose(scores["MAX"], [values.max() for values in expected_frames], rtol=1e-5)
    assert set(model.fit_reference(data)) == {"MEAN", "MAX"}


def test_training_steps_lower_the_reconstruction_and_log_every_column() -> None:
    data = vector_set([40] * 6)
    model = tiny_model(data, learning_rate=3e-3)
    before = {name: p.detach().clone() for name, p in model.net.named_parameters()}
    first = model.train_epoch(data, 1).log
    for epoch in range(2, 6):
        last = model.train_epoch(data, epoch).log
    assert list(first) == list(AnomalyTransformerModel.log_columns)
    assert last["reconstruction"] < first["reconstruction"]
    assert last["learning_rate"] == pytest.approx(3e-3 / 8)  # epoch 5 of 1, 1, 1/2, 1/4, 1/8
    assert first["loss"] == pytest.approx(first["reconstruction"] - 3.0 * first["discrepancy"], rel=1e-5)
    assert all(not torch.equal(before[name], p) for name, p in model.net.named_parameters())


def test_saved_weights_load_into_a_new_model_and_score_identically() -> None:
    data = vector_set([16, 12])
    model = tiny_model(data)
    model.train_epoch(data, 1)
    again = AnomalyTransformerModel(model.options, model.shape, torch.device("cpu"))
    again.load_model_state(model.model_state())
    again.load_optimizer_state(model.optimizer_state())
    for mode, values in model.score(data).items():
        np.testing.assert_array_equal(again.score(data)[mode], values)
    assert isinstance(model.net, AnomalyTransformer) and model.describe() == "cpu (float32)"
