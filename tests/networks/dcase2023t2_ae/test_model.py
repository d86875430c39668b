"""The autoencoder model: layer sizes, the covariance pass against numpy on a tiny model, clip scores
against direct computations, and the registry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from errors import ConfigError
from networks import registry
from networks.dcase2023t2_ae.model import AutoencoderModel, Batch, domain_means
from networks.dcase2023t2_ae.network import AENet
from networks.dcase2023t2_ae.options import AutoencoderOptions


def test_layers_and_buffers_have_the_spec_shapes() -> None:
    net = AENet(640, 128)
    linear = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [
        (640, 128),
        (128, 128),
        (128, 128),
        (128, 128),
        (128, 8),
        (8, 128),
        (128, 128),
        (128, 128),
        (128, 128),
        (128, 640),
    ]
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 9 and all(m.momentum == 0.01 and m.eps == 1e-3 for m in norms)
    state = net.state_dict()
    assert state["cov_source"].shape == state["cov_target"].shape == (128, 128)
    recon, z = net(torch.zeros(4, 640))
    assert recon.shape == (4, 640) and z.shape == (4, 8)


def tiny_detector() -> AutoencoderModel:
    torch.manual_seed(0)
    options = AutoencoderOptions(
        batch_size=16,
        learning_rate=1e-3,
        shuffle=True,
        validation_split=0.1,
        seed=0,
        log_interval=100,
        n_mels=4,
        frames=2,
    )
    return AutoencoderModel(options, {"input_dim": 8, "block_size": 4}, torch.device("cpu"))


def test_covariance_pass_matches_numpy() -> None:
    detector = tiny_detector()
    rng = np.random.default_rng(0)
    batches = []
    for size in (7, 5, 1, 6):  # the batch of one vector is skipped, as in the baseline
        x = rng.normal(size=(size, 8)).astype(np.float32)
        is_target = rng.random(size) < 0.3
        batches.append(Batch(torch.from_numpy(x), torch.from_numpy(is_target)))
    batches[0].is_target[:2] = True  # make sure there are target vectors

    calibration = detector.fit_covariances(lambda: iter(batches), lambda: iter(batches[:1]))

    sums = {False: np.zeros((4, 4), np.float32), True: np.zeros((4, 4), np.float32)}
    counts = {False: 0, True: 0}
    detector.net.eval()
    with torch.no_grad():
        for batch in batches:
            if len(batch.x) <= 1:
                continue
            error = (batch.x - detector.net(batch.x)[0]).numpy()  # float32, summed in float32 below
            for domain in (False, True):
                rows = error[batch.is_target.numpy() == domain]
                counts[domain] += len(rows)
                if len(rows):
                    blocks = rows.reshape(-1, 4)
                    centred = blocks - blocks.mean(axis=0)  # centred on this batch's own mean
                    sums[domain] += centred.T @ centred
    assert sums[False].dtype == np.float32 and detector.net.cov_source.dtype == torch.float32
    np.testing.assert_allclose(detector.net.cov_source.numpy(), sums[False] / (counts[False] - 1), rtol=1e-5)
    np.testing.assert_allclose(detector.net.cov_target.numpy(), sums[True] / (counts[True] - 1), rtol=1e-5)
    assert len(calibration["MAHALA"]) == len(batches) + 1  # every train batch (none skipped) + validation


def test_target_covariance_copies_source_without_target_clips() -> None:
    detector = tiny_detector()
    x = torch.randn(20, 8)
    detector.fit_covariances(lambda: iter([Batch(x, torch.zeros(20, dtype=torch.bool))]), lambda: iter([]))
    assert torch.equal(detector.net.cov_source, detector.net.cov_target)
    assert torch.count_nonzero(detector.net.cov_source) > 0


def fitted_detector() -> AutoencoderModel:
    detector = tiny_detector()
    detector.fit_covariances(lambda: iter([Batch(torch.randn(50, 8), torch.arange(50) % 5 == 0)]), lambda: iter([]))
    detector.net.eval()
    return detector


def test_clip_scores_are_the_float32_per_clip_recipe() -> None:
    """Each clip's scores, from chunks that do not follow clip bounds, have the bits of a one-clip pass
    with the baseline's expressions, and agree with a numpy float32 computation."""
    detector = fitted_detector()
    x = torch.randn(9, 8)
    bounds = np.array([0, 4, 9])
    scores = detector.score_vectors(iter([x[:3], x[3:]]), bounds)
    precisions = [torch.inverse(c.float()) for c in (detector.net.cov_source, detector.net.cov_target)]
    for clip, (start, stop) in enumerate(itertools.pairwise(bounds)):
        clip_x = x[start:stop].clone()
        with torch.no_grad():
            recon = detector.net(clip_x)[0]  # the baseline's batch: one clip
            mse = torch.nn.functional.mse_loss(recon, clip_x, reduction="none").mean().item()
            d = recon.view(-1, 4) - clip_x.view(-1, 4)
            per_domain = [
                (torch.sum(torch.mean(torch.matmul(torch.matmul(d, p), d.t()), dim=1)) / d.shape[0]).item()
                for p in precisions
            ]
        assert scores["MSE"][clip] == mse
        assert scores["MAHALA"][clip] == min(per_domain)
        difference = (recon - clip_x).numpy()
        assert scores["MSE"][clip] == pytest.approx(np.mean(difference**2, dtype=np.float32), rel=1e-6)
        blocks = difference.reshape(-1, 4)
        numpy_scores = [
            np.sum(np.mean(blocks @ p.numpy() @ blocks.T, axis=1)) / np.float32(len(blocks)) for p in precisions
        ]
        assert scores["MAHALA"][clip] == pytest.approx(float(min(numpy_scores)), rel=1e-5)


def test_chunked_forward_pass_gives_the_one_clip_bits() -> None:
    detector = fitted_detector()
    net = AENet(640, 128).eval()
    x = torch.randn(700, 640)
    with torch.no_grad():
        together = net(x)[0]
        for start, stop in ((0, 309), (309, 618), (618, 700)):
            assert torch.equal(together[start:stop], net(x[start:stop].clone())[0])
    bounds = np.array([0, 5, 6, 20])
    y = torch.randn(20, 8)
    whole = detector.score_vectors(iter([y]), bounds)
    split = detector.score_vectors(iter([y[:2], y[2:13], y[13:]]), bounds)
    for mode in ("MSE", "MAHALA"):
        assert np.array_equal(whole[mode], split[mode])


def test_asking_for_one_mode_gives_its_bits_and_skips_the_other() -> None:
    """02a asks for MSE only: the same values as scoring both modes, without the Mahalanobis matrices."""
    detector = fitted_detector()
    y = torch.randn(20, 8)
    bounds = np.array([0, 5, 6, 20])
    both = detector.score_vectors(iter([y]), bounds)
    mse_only = detector.score_vectors(iter([y[:7], y[7:]]), bounds, modes=("MSE",))
    assert set(mse_only) == {"MSE"}
    assert np.array_equal(mse_only["MSE"], both["MSE"])
    assert np.array_equal(detector.score_vectors(iter([y]), bounds, modes=("MAHALA",))["MAHALA"], both["MAHALA"])


def test_train_epoch_logs_and_calibration() -> None:
    detector = tiny_detector()
    batches = [Batch(torch.randn(16, 8), torch.arange(16) < 4) for _ in range(3)] + [
        Batch(torch.randn(1, 8), torch.zeros(1, dtype=bool))
    ]
    valid = [Batch(torch.randn(10, 8), torch.zeros(10, dtype=torch.bool))]
    result = detector.train_batches(iter(batches), 4, iter(valid), 1)
    assert set(result.log) == set(AutoencoderModel.log_columns)
    assert len(result.calibration["MSE"]) == 3 + 1  # trained batches + validation batches
    mean_batch_loss = result.calibration["MSE"][:3].sum() / 4  # quirk: divided by all 4 batches
    assert result.log["loss"] == pytest.approx(mean_batch_loss, rel=1e-6)
    with torch.no_grad():  # the network is as it was for the validation pass
        x = valid[0].x
        expected_val_loss = float(torch.nn.functional.mse_loss(detector.net(x)[0], x, reduction="none").mean())
    assert result.log["val_loss"] == expected_val_loss / 1


def test_domain_means_are_float32_sums_divided_by_counts() -> None:
    errors = torch.rand(37) * 10
    is_target = torch.arange(37) % 4 == 0
    means = domain_means(errors, is_target)
    assert means[0].item() == (torch.sum(errors[~is_target]) / 27).item()
    assert means[1].item() == (torch.sum(errors[is_target]) / 10).item()
    numpy_errors = errors.numpy()
    assert means[0].item() == pytest.approx(float(np.sum(numpy_errors[~is_target.numpy()]) / np.float32(27)), rel=1e-6)
    assert domain_means(errors, torch.zeros(37, dtype=torch.bool))[1].item() == 0.0


def test_registry_error_lists_valid_names() -> None:
    assert registry.get("DCASE2023T2-AE") is AutoencoderModel
    with pytest.raises(ConfigError, match="unknown model 'AE'; valid names: ") as error:
        registry.get("AE")
    assert str(error.value).split("valid names: ")[1].split(", ") == sorted(registry.MODELS)
