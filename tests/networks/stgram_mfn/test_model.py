"""STgram-MFN: shapes, the log-mel front end and the ArcFace margin against independent computations, the
score modes against a brute-force numpy kNN and a direct softmax, a save/load round trip, and a small
model that separates a planted anomaly in generated sounds better than chance."""

from __future__ import annotations

import itertools
import math
from argparse import Namespace

import numpy as np
import pytest
import torch
from imblearn.over_sampling import SMOTE
from sklearn.metrics import roc_auc_score

from datasets.features import FeatureParams, log_mel_spectrogram, mel_filterbank
from engine.checkpoint import load_torch, save_torch
from errors import ConfigError
from networks import registry
from networks.backends.knn import selective_knn_scores
from networks.backends.knn_smote import knn_smote_scores
from networks.family_classifier import epoch_batches
from networks.stgram_mfn.model import STgramMFNModel, learning_rate_at, smote_reference
from networks.stgram_mfn.network import ArcFaceHead, NetworkShape, STgramMFN, scaled
from networks.stgram_mfn.options import StgramOptions
from networks.stgram_mfn.scores import section_nll

RATE = 8000
TINY = dict(n_mels=32, n_fft=256, hop_length=128, width=0.125, embedding_dim=16)


def tiny_settings(**changes: object) -> StgramOptions:
    values = dict(
        epochs=1,
        batch_size=8,
        learning_rate=3e-3,
        shuffle=True,
        seed=0,
        crop_seconds=0.25,
        network_width=0.125,
        embedding_dim=16,
        arcface_margin=0.3,
        arcface_scale=16.0,
        knn_k=1,
        target_weight=1.0,
        n_mels=32,
        n_fft=256,
        hop_length=128,
        win_length=None,
        power=2.0,
        fmin=0.0,
        fmax=None,
    )
    values.update(changes)
    return StgramOptions(**values)


def tiny_detector(n_classes: int, seed: int = 0, **changes: object) -> STgramMFNModel:
    torch.manual_seed(seed)
    settings = tiny_settings(**changes)
    shape = NetworkShape(
        n_classes=n_classes,
        n_mels=settings.n_mels,
        n_fft=settings.n_fft,
        hop_length=settings.hop_length,
        width=settings.network_width,
        embedding_dim=settings.embedding_dim,
    )
    classes = [f"m/00/source/c{number}" for number in range(n_classes)]
    return STgramMFNModel(
        settings, {"network": shape.as_dict(), "classes": classes, "sample_rate": RATE}, torch.device("cpu")
    )


# ---------------------------------------------------------------- network


@pytest.mark.parametrize("n_samples", [RATE // 2, RATE + 37])
def test_network_gives_one_embedding_per_clip_whatever_its_length(n_samples: int) -> None:
    torch.manual_seed(0)
    filters = torch.from_numpy(mel_filterbank(RATE, 256, 32, 0.0, None).copy())
    net = STgramMFN(NetworkShape(n_classes=5, **TINY), filters).eval()
    waveform = 0.1 * torch.randn(3, n_samples)
    n_frames = 1 + n_samples // 128
    assert net.log_mel(waveform).shape == (3, 32, n_frames)
    assert net.tgram(waveform).shape == (3, 32, n_frames)  # one Tgram frame per STFT frame
    with torch.no_grad():
        embeddings = net(waveform)
    assert embeddings.shape == (3, 16)
    assert net.head.logits(embeddings).shape == (3, 5)


def test_widths_scale_the_backbone_channels() -> None:
    assert scaled(64, 1.0) == 64 and scaled(128, 0.25) == 32 and scaled(64, 0.01) == 8
    filters = torch.zeros(32, 129)
    small = STgramMFN(NetworkShape(n_classes=3, **{**TINY, "width": 0.25}), filters)
    large = STgramMFN(NetworkShape(n_classes=3, **{**TINY, "width": 1.0}), filters)
    assert sum(p.numel() for p in small.backbone.parameters()) < sum(p.numel() for p in large.backbone.parameters())


def test_log_mel_front_end_matches_the_project_features() -> None:
    rng = np.random.default_rng(0)
    signal = (0.2 * rng.standard_normal(RATE)).astype(np.float32)
    params = FeatureParams(n_mels=32, n_fft=256, hop_length=128)
    expected = log_mel_spectrogram(signal, RATE, params).T  # (n_mels, frames), numpy reference
    filters = torch.from_numpy(mel_filterbank(RATE, 256, 32, 0.0, None).copy())
    net = STgramMFN(NetworkShape(n_classes=2, **TINY), filters)
    got = net.log_mel(torch.from_numpy(signal)[None])[0].numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_arcface_margin_moves_only_the_true_class_by_the_angle() -> None:
    torch.manual_seed(0)
    head = ArcFaceHead(6, 4, margin=0.4, scale=10.0)
    embeddings = torch.randn(5, 6)
    labels = torch.tensor([0, 3, 1, 1, 2])
    plain = head.logits(embeddings).detach().numpy()
    with_margin = head.margin_logits(embeddings, labels).detach().numpy()
    e = embeddings.numpy() / np.linalg.norm(embeddings.numpy(), axis=1, keepdims=True)
    w = head.centres.detach().numpy() / np.linalg.norm(head.centres.detach().numpy(), axis=1, keepdims=True)
    cosine = e @ w.T
    np.testing.assert_allclose(plain, 10.0 * cosine, atol=1e-5)
    for row, label in enumerate(labels.numpy()):
        angle = math.acos(cosine[row, label])
        expected = math.cos(angle + 0.4) if angle + 0.4 <= math.pi else cosine[row, label] - 0.4 * math.sin(0.4)
        assert with_margin[row, label] == pytest.approx(10.0 * expected, abs=1e-4)
        others = np.arange(4) != label
        np.testing.assert_allclose(with_margin[row, others], plain[row, others], atol=1e-5)
    head.margin = 0.0
    np.testing.assert_allclose(head.margin_logits(embeddings, labels).detach().numpy(), plain, atol=1e-4)


def test_learning_rate_warms_up_then_decays_to_one_percent() -> None:
    rates = [learning_rate_at(step, 100, 1e-3) for step in range(100)]
    assert rates[0] == pytest.approx(1e-3 / 5) and max(rates) == pytest.approx(1e-3)
    assert all(a >= b for a, b in itertools.pairwise(rates[5:]))
    assert rates[-1] == pytest.approx(1e-5, rel=0.05)


# ---------------------------------------------------------------- scores against independent computations


def test_nll_is_minus_log_of_the_section_probability_mass() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=4.0, size=(5, 7))
    in_section = np.array([0, 1, 1, 0, 0, 1, 0], dtype=bool)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.log(probabilities[:, in_section].sum(axis=1))
    np.testing.assert_allclose(section_nll(logits, in_section), expected, rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError):
        section_nll(logits, np.zeros(7, dtype=bool))


# ---------------------------------------------------------------- detector


def test_registry_entry_is_a_family_model_with_its_score_modes() -> None:
    cls = registry.get("STgram-MFN")
    assert cls is STgramMFNModel and cls.scope == "family" and cls.inputs == "waveforms"
    assert cls.score_modes == ("KNN", "NLL", "SMOTE")


@pytest.mark.parametrize(("n_target", "neighbours"), [(6, 2), (2, 1), (1, 0)])
def test_smote_mode_oversamples_as_imbalanced_learn_with_the_neighbours_the_target_clips_allow(
    n_target: int, neighbours: int
) -> None:
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(60 + n_target, 8))
    is_target = np.arange(len(embeddings)) >= 60
    reference = smote_reference(embeddings, is_target)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    if neighbours:
        points, labels = SMOTE(sampling_strategy=0.2, k_neighbors=neighbours, random_state=0).fit_resample(
            unit, is_target.astype(int)
        )
        expected = points[labels == 1] / np.linalg.norm(points[labels == 1], axis=1, keepdims=True)
    else:
        expected = unit[is_target]
    np.testing.assert_allclose(reference.target, expected, atol=1e-12)
    np.testing.assert_allclose(reference.source, unit[~is_target], atol=1e-12)
    queries = rng.normal(size=(5, 8))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    nearest = [
        np.linalg.norm(queries[:, None] - bank[None], axis=2).min(axis=1) for bank in (unit[~is_target], expected)
    ]
    np.testing.assert_allclose(knn_smote_scores(queries, reference), np.minimum(*nearest) / 2, atol=1e-12)


def test_settings_refuse_values_that_cannot_work() -> None:
    config = Namespace(**{**tiny_settings().__dict__, "knn_k": 0})
    with pytest.raises(ConfigError, match="--knn_k"):
        StgramOptions.from_config(config)
    config = Namespace(**{**tiny_settings().__dict__, "target_weight": 0.5})
    with pytest.raises(ConfigError, match="--target_weight"):
        StgramOptions.from_config(config)


def test_saved_weights_load_into_a_new_detector_and_embed_identically(tmp_path) -> None:
    detector = tiny_detector(4)
    waveforms = 0.1 * torch.randn(6, RATE // 2)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    detector.train_step(waveforms, labels, 1e-3)  # moves the BatchNorm statistics away from their start
    save_torch(tmp_path / "model.pth", detector.model_state())
    save_torch(tmp_path / "optimiser.pth", detector.optimizer_state())
    other = tiny_detector(4, seed=5)
    other.load_model_state(load_torch(tmp_path / "model.pth", "model"))
    other.load_optimizer_state(load_torch(tmp_path / "optimiser.pth", "optimiser"))
    first, first_logits = detector.embed(waveforms)
    second, second_logits = other.embed(waveforms)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first_logits, second_logits)
    assert first.shape == (6, 16) and first_logits.shape == (6, 4)


def machine_sound(rng: np.random.Generator, base_hz: float, n: int, anomaly: bool = False) -> np.ndarray:
    t = np.arange(n) / RATE
    hz = base_hz * rng.uniform(0.98, 1.02)
    sound = sum(np.sin(2 * np.pi * hz * h * t + rng.uniform(0, 6.3)) / h for h in (1, 2, 3))
    sound = sound + 0.3 * rng.standard_normal(n)
    if anomaly:  # a planted fault: a strong rattle band that normal clips never have
        burst = rng.standard_normal(n) * (np.sin(2 * np.pi * 6 * t) > 0.5)
        sound = sound + 1.2 * np.convolve(burst, np.hanning(5), mode="same")
    return (0.1 * sound / np.std(sound)).astype(np.float32)


def test_a_trained_model_separates_a_planted_anomaly_better_than_chance() -> None:
    rng = np.random.default_rng(0)
    bases = (300.0, 700.0, 1300.0)  # three "machines", one class each
    n = RATE  # one-second clips
    train = np.stack([machine_sound(rng, bases[i % 3], n) for i in range(48)])
    labels = torch.tensor([i % 3 for i in range(48)])
    detector = tiny_detector(3, learning_rate=5e-3)
    for step in range(60):
        batch = rng.choice(48, 16, replace=False)
        crops = np.stack([train[i, s : s + RATE // 2] for i, s in zip(batch, rng.integers(0, n // 2, 16), strict=True)])
        detector.train_step(torch.from_numpy(crops), labels[batch], learning_rate_at(step, 60, 5e-3))

    reference, _ = detector.embed(torch.from_numpy(train[0::3]))  # the first machine's training clips
    normal = np.stack([machine_sound(rng, bases[0], n) for _ in range(12)])
    anomalous = np.stack([machine_sound(rng, bases[0], n, anomaly=True) for _ in range(12)])
    test_embeddings, test_logits = detector.embed(torch.from_numpy(np.concatenate([normal, anomalous])))
    truth = np.r_[np.zeros(12), np.ones(12)]
    knn = selective_knn_scores(test_embeddings, reference, np.zeros(len(reference), dtype=bool), 1)  # source only
    nll = section_nll(test_logits, np.array([True, False, False]))
    assert roc_auc_score(truth, knn) > 0.75
    assert roc_auc_score(truth, nll) > 0.6


def test_epoch_batches_cover_every_clip_once_without_weights() -> None:
    rng = np.random.default_rng(0)
    for weights in (None, np.ones(37)):
        batches = epoch_batches(37, 8, True, rng, weights)
        assert [len(batch) for batch in batches] == [8, 8, 8, 8, 5]
        assert sorted(np.concatenate(batches).tolist()) == list(range(37))


def test_target_weight_draws_target_clips_as_often_as_it_says() -> None:
    is_target = np.zeros(1000, dtype=bool)
    is_target[:50] = True
    weights = np.where(is_target, 5.0, 1.0)
    rng = np.random.default_rng(1)
    drawn = np.concatenate([np.concatenate(epoch_batches(1000, 32, True, rng, weights)) for _ in range(40)])
    expected = 50 * 5.0 / (50 * 5.0 + 950)  # share of target draws: 0.208
    share = is_target[drawn].mean()
    assert len(drawn) == 40 * 1000 and abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / len(drawn))
    counts = np.bincount(drawn, minlength=1000)
    assert abs(counts[is_target].mean() / counts[~is_target].mean() - 5.0) < 0.3
