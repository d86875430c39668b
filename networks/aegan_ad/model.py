"""AEGAN-AD: an autoencoder trained against a WGAN-GP critic, one per machine type, scored by its reconstruction
errors (``G_`` modes) or by the critic's embedding of a clip (``D_`` modes), see networks/aegan_ad/scores.py.

It sees the shared single-frame log-mel features of one machine type (``--frames 1``), turns them into
librosa-style decibels scaled by the training clips' range, and cuts square patches of ``n_mels`` frames.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from datasets.vector_data import VectorSet
from errors import ASDError, DataError
from networks.aegan_ad.losses import critic_loss, feature_matching, generator_loss, gradient_penalty
from networks.aegan_ad.network import Discriminator, Generator, NetworkShape, initialise_weights
from networks.aegan_ad.options import AeganOptions
from networks.aegan_ad.patches import clip_decibels, clip_patches, patch_starts, scale_to_unit
from networks.aegan_ad.scores import (
    DISCRIMINATOR_MODES,
    GENERATOR_MODES,
    embedding_scores,
    generator_scores,
    patch_error_table,
)
from networks.base import EpochResult, Inputs, Model, Scope
from progress import progress_bar

SCORING_PATCHES = 256  # patches per forward pass when scoring
ADAM_BETA2 = 0.999
# 02a: latent-space L1 error summed over the patches (the public result of bearing and ToyCar, DCASE2022);
# 02b: LOF on the critic's embedding (the discriminator score the public results pick most often)
MAIN_MODES = ("G_z_1_sum", "D_lof")


class CriticDivergedError(ASDError):
    """The critic loss ran away: the adversarial game has diverged."""


def mixed_precision(device: torch.device) -> torch.dtype | None:
    """bfloat16 autocast on a CUDA device that supports it (no loss scaling needed); float32 elsewhere."""
    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None


def clip_frame_bounds(data: VectorSet) -> list[tuple[int, int]]:
    """(first, end) frame of every clip: from its first vector's first frame to its last vector's last frame
    (all of its frames with ``--frames 1``, as the yaml files set it)."""
    starts = data.starts.cpu().numpy()
    return [
        (int(starts[first]), int(starts[end - 1]) + data.params.frames)
        for first, end in itertools.pairwise(data.clip_bounds().tolist())
    ]


def decibel_frames(data: VectorSet) -> torch.Tensor:
    """All frames of ``data`` with librosa's decibel floors applied clip by clip, (total frames, n_mels)."""
    return torch.cat([clip_decibels(data.frames[first:end]) for first, end in clip_frame_bounds(data)])


def epoch_batches(n_items: int, batch_size: int, order: torch.Tensor) -> list[torch.Tensor]:
    """Full batches of ``order`` (the last partial one dropped, as the public loader does), or one batch of
    everything when there are fewer items than a batch."""
    if n_items < batch_size:
        return [order]
    return [order[start : start + batch_size] for start in range(0, n_items - batch_size + 1, batch_size)]


class AeganModel(Model):
    """The generator and critic of AEGAN-AD with the scores of the public code."""

    options_class: ClassVar[type[AeganOptions]] = AeganOptions
    scope: ClassVar[Scope] = Scope.MACHINE
    inputs: ClassVar[Inputs] = Inputs.VECTORS
    score_modes: ClassVar[tuple[str, ...]] = MAIN_MODES + tuple(
        mode for mode in DISCRIMINATOR_MODES + GENERATOR_MODES if mode not in MAIN_MODES
    )
    tiny_test_flags: ClassVar[tuple[str, ...]] = (
        "--config",
        "aegan_ad_demo.yaml",
        "--epochs",
        "1",
        "--batch_size",
        "16",
        "--aegan_latent_dim",
        "8",
        "--aegan_encoder_width",
        "4",
        "--aegan_decoder_width",
        "4",
        "--num_workers",
        "1",
    )
    log_columns: ClassVar[tuple[str, ...]] = (
        "generator_loss",
        "reconstruction",
        "feature_matching",
        "critic_loss",
        "gradient_penalty",
        "wasserstein_estimate",
    )

    def __init__(self, options: AeganOptions, shape: dict[str, Any], device: torch.device) -> None:
        super().__init__(options, shape, device)
        self.network_shape = NetworkShape(**shape["network"])
        self.generator = Generator(self.network_shape).to(device)
        self.discriminator = Discriminator(self.network_shape).to(device)
        self.generator.apply(initialise_weights)
        self.discriminator.apply(initialise_weights)
        self.generator_optimizer = torch.optim.Adam(
            self.generator.parameters(), lr=options.learning_rate, betas=(options.aegan_beta1, ADAM_BETA2)
        )
        self.critic_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=options.learning_rate, betas=(options.aegan_beta1, ADAM_BETA2)
        )
        self.precision = mixed_precision(device)
        self.reference: dict[str, np.ndarray] = {}
        self._prepared: tuple[VectorSet, torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def shape_of(cls, options: AeganOptions, training_data: VectorSet) -> dict[str, Any]:
        """The network's shape and the training clips' decibel range (every clip is scaled with it)."""
        lengths = [end - first for first, end in clip_frame_bounds(training_data)]
        if min(lengths) < options.n_mels:
            raise DataError(
                f"a training clip has {min(lengths)} frames, fewer than one {options.n_mels}-frame "
                "patch; use shorter patches (--n_mels) or a shorter --hop_length"
            )
        decibels = decibel_frames(training_data)
        network = NetworkShape(
            size=options.n_mels,
            latent_dim=options.aegan_latent_dim,
            encoder_width=options.aegan_encoder_width,
            decoder_width=options.aegan_decoder_width,
            encoder_first_norm=options.aegan_encoder_first_norm,
            generator_norm=options.aegan_generator_norm,
        )
        return {
            "network": network.as_dict(),
            "decibel_min": float(decibels.min()),
            "decibel_max": float(decibels.max()),
        }

    def describe(self) -> str:
        precision = "float32" if self.precision is None else "bfloat16"
        return f"{self.device} ({precision})"

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.precision)

    def unit_frames(self, data: VectorSet) -> torch.Tensor:
        """The frames of ``data`` as the networks see them: decibels scaled by the training range."""
        return scale_to_unit(decibel_frames(data), self.shape["decibel_min"], self.shape["decibel_max"])

    def _training_patches(self, data: VectorSet) -> tuple[torch.Tensor, torch.Tensor]:
        """(patch windows over all frames, first frame of every training patch), computed once per data set."""
        if self._prepared is None or self._prepared[0] is not data:
            size, starts = self.network_shape.size, []
            for first, end in clip_frame_bounds(data):
                starts.append(first + patch_starts(end - first, size, self.options.aegan_patch_hop))
            windows = self.unit_frames(data).unfold(0, size, 1)
            self._prepared = (data, windows, torch.from_numpy(np.concatenate(starts)).to(self.device))
        return self._prepared[1], self._prepared[2]

    def train_epoch(self, training_data: VectorSet, epoch: int) -> EpochResult:
        windows, starts = self._training_patches(training_data)
        n_patches = len(starts)
        order = torch.randperm(n_patches) if self.options.shuffle else torch.arange(n_patches)
        batches = epoch_batches(n_patches, self.options.batch_size, order)
        totals = dict.fromkeys(self.log_columns, 0.0)
        generator_steps = 0
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}", unit="batch", transient=True)
        for number, ids in enumerate(batches):
            patches = windows[starts[ids.to(self.device)]].unsqueeze(1)
            alpha = torch.rand((len(ids), 1, 1, 1)).to(self.device)
            for name, value in self.critic_step(patches, alpha).items():
                totals[name] += value / len(batches)
            if number % self.options.aegan_critic_steps == 0:
                for name, value in self.generator_step(patches).items():
                    totals[name] += value
                generator_steps += 1
            bar.update()
        bar.close()
        for name in ("generator_loss", "reconstruction", "feature_matching"):
            totals[name] /= max(generator_steps, 1)
        self._check_critic(totals["critic_loss"], epoch)
        return EpochResult(totals)

    def _check_critic(self, mean_loss: float, epoch: int) -> None:
        if abs(mean_loss) > self.options.aegan_critic_limit:
            raise CriticDivergedError(
                f"AEGAN-AD training diverged at epoch {epoch}: the critic loss averaged {mean_loss:.4g}, beyond "
                f"--aegan_critic_limit {self.options.aegan_critic_limit:g}; lower the learning rate (-lr) or raise "
                f"--aegan_penalty_weight, then train again (the checkpoint of epoch {epoch - 1}, if any, is kept "
                "and --restart resumes from it)"
            )

    def critic_step(self, patches: torch.Tensor, alpha: torch.Tensor) -> dict[str, float]:
        """One critic update on a batch of patches; its log values."""
        self.generator.train()
        self.discriminator.train()
        with self._autocast():
            with torch.no_grad():
                recon = self.generator(patches)
            real_values = self.discriminator(patches)[0].float()
            fake_values = self.discriminator(recon)[0].float()
            penalty = gradient_penalty(self.discriminator, patches, recon, alpha).float()
        loss = critic_loss(real_values, fake_values, penalty, self.options.aegan_penalty_weight)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optimizer.step()
        return {
            "critic_loss": loss.item(),
            "gradient_penalty": penalty.item(),
            "wasserstein_estimate": (real_values.mean() - fake_values.mean()).item(),
        }

    def generator_step(self, patches: torch.Tensor) -> dict[str, float]:
        """One generator update: reconstruction MSE plus the weighted feature matching on the critic's embedding."""
        options = self.options
        with self._autocast():
            recon = self.generator(patches)
            real_embeddings = self.discriminator(patches)[1].float()
            fake_embeddings = self.discriminator(recon)[1].float()
        matching = feature_matching(fake_embeddings, real_embeddings, options.aegan_match_mean, options.aegan_match_std)
        loss, reconstruction = generator_loss(recon.float(), patches, matching, options.aegan_matching_weight)
        self.generator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.generator_optimizer.step()
        return {
            "generator_loss": loss.item(),
            "reconstruction": reconstruction.item(),
            "feature_matching": matching.item(),
        }

    @torch.no_grad()
    def clip_outputs(self, data: VectorSet, description: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every clip's mean critic embedding (n_clips, dim) and its generator scores (mode -> (n_clips,))."""
        self.generator.eval()
        self.discriminator.eval()
        frames, size, hop = self.unit_frames(data), self.network_shape.size, self.options.aegan_patch_hop
        bounds = clip_frame_bounds(data)
        embeddings = np.zeros((len(bounds), self.discriminator.embedding_dim))
        scores = {mode: np.zeros(len(bounds)) for mode in GENERATOR_MODES}
        bar = progress_bar(total=len(bounds), desc=description, unit="clip", transient=True)
        for clip, (first, end) in enumerate(bounds):
            if end - first < size:
                raise DataError(
                    f"clip {data.names[clip]} has {end - first} frames, fewer than one {size}-frame "
                    "patch; AEGAN-AD cannot score it"
                )
            embedding_sum, tables = torch.zeros(embeddings.shape[1], dtype=torch.float64), []
            for chunk in clip_patches(frames[first:end], size, hop).split(SCORING_PATCHES):
                with self._autocast():
                    recon = self.generator(chunk)
                    embedding_sum += self.discriminator(chunk)[1].double().sum(dim=0).cpu()
                    table = patch_error_table(
                        chunk, recon.float(), self.generator.encode(chunk).float(), self.generator.encode(recon).float()
                    )
                tables.append(table)
            n_patches = sum(len(table["G_x_2"]) for table in tables)
            embeddings[clip] = (embedding_sum / n_patches).numpy()
            joined = {kind: torch.cat([table[kind] for table in tables]).float() for kind in tables[0]}
            for mode, value in generator_scores(joined).items():
                scores[mode][clip] = value
            bar.update()
        bar.close()
        return embeddings, scores

    def _embedding_scores(self, modes: Sequence[str], embeddings: np.ndarray, own: bool) -> dict[str, np.ndarray]:
        options, reference = self.options, self.reference
        return {
            mode: embedding_scores(
                mode.removeprefix("D_"),
                embeddings,
                reference["embeddings"],
                reference["is_target"],
                options.aegan_pooled_detectors,
                options.aegan_knn_k,
                options.aegan_lof_k,
                queries_are_references=own,
            )
            for mode in modes
            if mode in DISCRIMINATOR_MODES
        }

    def fit_reference(self, reference_data: VectorSet) -> dict[str, np.ndarray]:
        """The training clips' mean embeddings are the detectors' reference; every mode's threshold samples are
        the training clips' own scores (KNN: each clip left out of its own neighbours)."""
        embeddings, scores = self.clip_outputs(reference_data, "training clips")
        self.reference = {"embeddings": embeddings, "is_target": np.asarray(reference_data.clip_is_target, bool)}
        return {**scores, **self._embedding_scores(self.score_modes, embeddings, own=True)}

    def reference_state(self) -> dict[str, np.ndarray]:
        return dict(self.reference)

    def load_reference_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.reference = {"embeddings": arrays["embeddings"], "is_target": arrays["is_target"].astype(bool)}

    def score(self, test_data: VectorSet, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """The generator modes come together from one pass; of the embedding modes only those asked for."""
        embeddings, scores = self.clip_outputs(test_data, "test clips")
        return {**scores, **self._embedding_scores(modes or self.score_modes, embeddings, own=False)}

    def model_state(self) -> dict[str, torch.Tensor]:
        return {
            **{f"generator.{key}": value for key, value in self.generator.state_dict().items()},
            **{f"discriminator.{key}": value for key, value in self.discriminator.state_dict().items()},
        }

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        for prefix, network in (("generator.", self.generator), ("discriminator.", self.discriminator)):
            network.load_state_dict(
                {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}
            )

    def optimizer_state(self) -> dict[str, Any]:
        return {"generator": self.generator_optimizer.state_dict(), "critic": self.critic_optimizer.state_dict()}

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.generator_optimizer.load_state_dict(state["generator"])
        self.critic_optimizer.load_state_dict(state["critic"])
