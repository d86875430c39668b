"""The AEGAN-AD model on small in-memory clips: an epoch trains both networks, the clip outputs equal the networks
applied to the patches directly, a runaway critic stops training with a clear message, and the numbered scripts run
one epoch end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.features import FeatureParams
from datasets.vector_data import VectorSet
from errors import ConfigError
from networks import registry
from networks.aegan_ad.model import AeganModel, CriticDivergedError, epoch_batches
from networks.aegan_ad.options import AeganOptions
from networks.aegan_ad.patches import clip_decibels, clip_patches
from networks.aegan_ad.scores import DISCRIMINATOR_MODES, GENERATOR_MODES, embedding_scores
from tests.conftest import run_script
from tests.test_legacy import run_stages_in_copy

SIZE = 16


def vector_set(n_clips: int, seed: int, frames_per_vector: int = 1) -> VectorSet:
    rng = np.random.default_rng(seed)
    clips = [rng.normal(-40.0, 8.0, (30 + int(rng.integers(0, 4)), SIZE)).astype(np.float32) for _ in range(n_clips)]
    frames = torch.from_numpy(np.concatenate(clips))
    params = FeatureParams(n_mels=SIZE, frames=frames_per_vector)
    starts, owners, offset = [], [], 0
    for index, clip in enumerate(clips):
        starts.append(np.arange(offset, offset + len(clip) - frames_per_vector + 1))
        owners.append(np.full(len(starts[-1]), index))
        offset += len(clip)
    return VectorSet(
        frames,
        torch.from_numpy(np.concatenate(starts)),
        np.concatenate(owners),
        np.arange(n_clips) >= n_clips - 3,
        [f"clip{i}" for i in range(n_clips)],
        params,
    )


def options(**changes: object) -> AeganOptions:
    settings = dict(
        epochs=1,
        batch_size=8,
        learning_rate=2e-4,
        shuffle=True,
        seed=0,
        n_mels=SIZE,
        frames=1,
        aegan_patch_hop=4,
        aegan_latent_dim=8,
        aegan_encoder_width=4,
        aegan_decoder_width=4,
    )
    return AeganOptions(**{**settings, **changes})


def make_model(data: VectorSet, **changes: object) -> AeganModel:
    torch.manual_seed(0)
    chosen = options(**changes)
    return AeganModel(chosen, AeganModel.shape_of(chosen, data), torch.device("cpu"))


def test_epoch_batches_drop_the_last_partial_batch_unless_there_is_no_full_one() -> None:
    order = torch.arange(10)
    assert [b.tolist() for b in epoch_batches(10, 4, order)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [b.tolist() for b in epoch_batches(10, 16, order)] == [list(range(10))]


def test_the_scaling_range_is_the_training_clips_decibel_range() -> None:
    data = vector_set(6, 1)
    model = make_model(data)
    decibels = np.concatenate(
        [
            clip_decibels(data.frames[a:b]).numpy()
            for a, b in zip(data.clip_bounds()[:-1], data.clip_bounds()[1:], strict=True)
        ]
    )
    assert (model.shape["decibel_min"], model.shape["decibel_max"]) == (decibels.min(), decibels.max())
    unit = model.unit_frames(data)
    assert float(unit.min()) == pytest.approx(-1.0) and float(unit.max()) == pytest.approx(1.0)


def test_clip_frames_do_not_depend_on_the_frames_per_vector() -> None:
    single, stacked = vector_set(5, 2), vector_set(5, 2, frames_per_vector=3)
    torch.testing.assert_close(make_model(single).unit_frames(single), make_model(stacked).unit_frames(stacked))


def test_an_epoch_updates_both_networks_and_logs_every_column() -> None:
    data = vector_set(8, 3)
    model = make_model(data)
    before = [p.detach().clone() for p in (*model.generator.parameters(), *model.discriminator.parameters())]
    result = model.train_epoch(data, 1)
    assert list(result.log) == list(model.log_columns) and all(np.isfinite(list(result.log.values())))
    after = [*model.generator.parameters(), *model.discriminator.parameters()]
    changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
    assert sum(changed) >= len(changed) - 1  # all but the critic's last bias, which no loss depends on


def test_adam_beta1_and_the_generator_normalisation_are_settings() -> None:
    data = vector_set(6, 0)
    default = make_model(data)
    assert default.generator_optimizer.param_groups[0]["betas"] == (0.5, 0.999)
    changed = make_model(data, aegan_beta1=0.0, aegan_generator_norm="batch")
    for optimiser in (changed.generator_optimizer, changed.critic_optimizer):
        assert optimiser.param_groups[0]["betas"] == (0.0, 0.999)
    assert changed.shape["network"]["generator_norm"] == "batch"
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in changed.generator.modules())
    changed.train_epoch(data, 1)
    with pytest.raises(ConfigError, match="--aegan_beta1"):
        options(aegan_beta1=1.0).validate()


def test_a_runaway_critic_stops_training_naming_the_epoch_and_the_setting() -> None:
    data = vector_set(6, 4)
    model = make_model(data, aegan_critic_limit=1e-9)
    with pytest.raises(CriticDivergedError, match=r"epoch 3.*--aegan_critic_limit.*-lr"):
        model.train_epoch(data, 3)


def test_clip_outputs_and_scores_equal_the_networks_applied_directly() -> None:
    train, test = vector_set(10, 5), vector_set(4, 6)
    model = make_model(train)
    thresholds = model.fit_reference(train)
    assert set(thresholds) == set(model.score_modes) == set(GENERATOR_MODES) | set(DISCRIMINATOR_MODES)
    scores = model.score(test, ["D_lof"])
    unit = model.unit_frames(test)
    bounds = test.clip_bounds()
    with torch.no_grad():
        for clip in range(4):
            patches = clip_patches(unit[bounds[clip] : bounds[clip + 1]], SIZE, 4)
            embedding = model.discriminator(patches)[1].double().mean(0).numpy()
            error = (model.generator.encode(model.generator(patches)) - model.generator.encode(patches)).abs()
            assert scores["G_z_1_sum"][clip] == pytest.approx(float(error.sum()), rel=1e-5)
            assert scores["G_x_2_max"][clip] == pytest.approx(
                float(((model.generator(patches) - patches) ** 2).sum(dim=(1, 2, 3)).max()), rel=1e-5
            )
            if clip == 0:
                first_embedding = embedding
    test_embeddings, _ = model.clip_outputs(test, "test")
    np.testing.assert_allclose(test_embeddings[0], first_embedding, rtol=1e-5)
    expected = embedding_scores(
        "lof", test_embeddings, model.reference["embeddings"], train.clip_is_target, False, 2, 4
    )
    np.testing.assert_allclose(scores["D_lof"], expected)
    assert "D_maha" not in scores  # an embedding mode not asked for is not computed


def test_weights_and_reference_survive_a_save_and_load() -> None:
    train, test = vector_set(8, 7), vector_set(3, 8)
    model = make_model(train)
    model.train_epoch(train, 1)
    model.fit_reference(train)
    copy = AeganModel(model.options, model.shape, torch.device("cpu"))
    copy.load_model_state(model.model_state())
    copy.load_reference_state(model.reference_state())
    copy.load_optimizer_state(model.optimizer_state())
    for mode, values in model.score(test).items():
        np.testing.assert_array_equal(copy.score(test)[mode], values, err_msg=mode)


def test_one_epoch_through_the_numbered_scripts(tiny_data_dir: Path, tmp_path: Path) -> None:
    """01, 02a, 02b and 03 with aegan_ad_demo.yaml and one tiny epoch, on two DCASE2024 dev machine types."""
    flags = [*registry.get("AEGAN-AD").tiny_test_flags, "--machines", "fan,valve"]
    run_stages_in_copy(tmp_path, tiny_data_dir, "aegan_ad_demo.yaml", flags, 2)
    env = {"PYTHONPATH": str(tmp_path)}
    for mode in AeganModel.score_modes[:2]:
        results = sorted((tmp_path / "results/dev_data" / f"aegan_demo_{mode}").glob("result_*_roc.csv"))
        assert len(results) == 2 and results[0].read_text().startswith("section,AUC (source),AUC (target)")
    summary = run_script(
        "03_summarize_results.sh",
        "DCASE2024T2",
        "-d",
        "--systems",
        "aegan_demo_G_z_1_sum",
        "aegan_demo_D_lof",
        cwd=tmp_path,
        env=env,
    )
    assert summary.returncode == 0, summary.stderr[-2000:]
    assert "aegan_demo_G_z_1_sum" in summary.stdout and "aegan_demo_D_lof" in summary.stdout
