"""The two-stage OE network, its front end, one training step and the stage-2 detectors against the recipe
(ibkuroyagi/dcase2022_task2_challenge_recipe, commit 8239364). Runs in a virtual environment with the recipe's
timm, torchvision and torchaudio (tools/compare/two_stage_oe.py makes one, or takes ``--python``), after
tools/compare/two_stage_oe_boot.py:

    <venv>/bin/python -m tools.compare.two_stage_oe_network CHECKOUT [--rows FILE.json]

Imported from the checkout: ``asd_tools.models.timm_models.ASDModel`` (``tf_efficientnet_b0_ns``, random
initialisation, neck "option-F", no positional channel, no SpecAugment, no domain head: the settings ours ports),
``asd_tools.trainer.trainer.MetricOECTrainer._train_step`` (called on a stand-in trainer: the model, its criteria
BCEWithLogitsLoss, section weight 10, no mixup, an optimiser whose step does nothing so that the gradients stay)
and ``asd_tools.utils.utils.zscore``. Re-implemented here, because they are inline lines of a script's ``main``
and not importable: the waveform statistics of ``asd_tools/bin/normalize_wave.py`` (``librosa.load`` of each
clip, mean and std of all samples) and the detectors of ``asd_tools/bin/infer.py`` (``LocalOutlierFactor(
n_neighbors=hp, novelty=True)``, ``GaussianMixture(n_components=hp, random_state=seed).score_samples / 1000``,
``NearestNeighbors(n_neighbors=hp)`` mean distance, each z-scored over the test crops).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from networks.two_stage_oe.detectors import section_scores
from networks.two_stage_oe.network import NetworkShape, OutlierExposureNet
from networks.two_stage_oe.training import outlier_exposure_losses, waveform_statistics
from tools.compare.common import (
    Table,
    gradient_difference,
    max_difference,
    public_modules,
    set_threads,
)
from tools.compare.two_stage_oe_boot import install

install()  # before the recipe's modules import timm and torchaudio

PINNED = "8239364"
N_CLASSES = 6  # the recipe's _train_step one-hot encodes sections into 6 classes, whatever out_dim says
SECTION_WEIGHT = 10.0


def our_name(name: str) -> str | None:
    """A recipe parameter name -> ours (None: the recipe's classifier and mel buffers, which ours has not)."""
    if name.startswith("backbone.net."):
        rest = name.removeprefix("backbone.net.")
        return None if rest.startswith("classifier.") else f"backbone.{rest}"
    if name.startswith("melspectrogram."):
        return None
    return name


def build_pair(load, seed: int = 0):
    """The recipe's ASDModel (seeded) and our network with its weights copied by ``our_name``."""
    timm_models = load("asd_tools.models.timm_models")
    torch.manual_seed(seed)
    theirs = timm_models.ASDModel(
        "tf_efficientnet_b0_ns", neck="option-F", embedding_size=128, pretrained=False, use_pos=False,
        in_chans=3, n_fft=2048, hop_length=256, n_mels=224, power=1.0, out_dim=N_CLASSES,
    )  # fmt: skip
    ours = OutlierExposureNet(NetworkShape(n_classes=N_CLASSES, sample_rate=16000, fmin=50.0, fmax=7800.0))
    state = {our_name(k): v for k, v in theirs.state_dict().items() if our_name(k) is not None}
    ours.load_state_dict(state, strict=True)  # strict: every tensor of ours comes from the recipe's
    return theirs, ours


def compare_statistics(clips: list[Path], table: Table) -> tuple[float, float]:
    """normalize_wave.py's statistics (re-implemented) against waveform_statistics; returns theirs."""
    import librosa

    samples = np.stack([librosa.load(str(clip), sr=16000)[0] for clip in clips]).astype(np.float64)
    theirs = (float(samples.mean()), float(samples.std()))
    ours = waveform_statistics([librosa.load(str(clip), sr=16000)[0] for clip in clips])
    table.add(f"waveform mean and std of {len(clips)} clips (normalize_wave.py)", max_difference(ours, theirs))
    return theirs


def compare_outputs(theirs, ours, waves: torch.Tensor, table: Table) -> None:
    theirs.eval(), ours.eval()
    with torch.no_grad():
        table.add(
            f"front end: mel of {len(waves)} normalised 2 s crops (torchaudio MelSpectrogram)",
            max_difference(ours.front_end(waves), theirs.melspectrogram(waves)),
        )
        mine, recipe = ours(waves), theirs(waves)
        for name in ("embedding", "machine", "section"):
            table.add(f"eval forward: {name}", max_difference(mine[name], recipe[name]))


def compare_step(trainer_module, theirs, ours, waves: torch.Tensor, table: Table) -> None:
    """One training step (train mode, the neck's dropout on the same seed) of both: losses and gradients."""
    machine = torch.tensor([1.0, 1.0, 0.0, 0.0] * (len(waves) // 4))
    section = torch.arange(len(waves)) % N_CLASSES
    stand_in = SimpleNamespace(
        device=torch.device("cpu"), config={"section_loss_lambda": SECTION_WEIGHT, "accum_grads": 1},
        model=theirs, metric_fc=None, forward_count=0, steps=0, scheduler=None,
        criterion={"machine_loss": torch.nn.BCEWithLogitsLoss(), "section_loss": torch.nn.BCEWithLogitsLoss()},
        optimizer=SimpleNamespace(step=lambda: None, zero_grad=lambda: None),
        total_train_loss={"train/machine_loss": 0.0, "train/section_loss": 0.0, "train/loss": 0.0},
    )  # fmt: skip
    theirs.train(), ours.train()
    theirs.zero_grad(), ours.zero_grad()
    torch.manual_seed(1)
    trainer_module.MetricOECTrainer._train_step(stand_in, {"machine": machine, "section": section, "wave": waves})
    torch.manual_seed(1)
    outputs = ours(waves)
    is_machine = machine[:, None]
    sections = torch.nn.functional.one_hot(section, N_CLASSES).float()
    losses = outlier_exposure_losses(
        outputs["machine"], outputs["section"], is_machine, sections, machine.bool(), SECTION_WEIGHT
    )
    losses["loss"].backward()
    for name, key in (("machine", "machine_loss"), ("section", "section_loss"), ("loss", "loss")):
        their_loss = stand_in.total_train_loss[f"train/{key}"]
        table.add(f"one training step (train mode): {key}", max_difference(losses[name].item(), their_loss))
    table.add("one training step: every parameter's gradient", gradient_difference(ours, theirs, their_name))


def their_name(name: str) -> str:
    return f"backbone.net.{name.removeprefix('backbone.')}" if name.startswith("backbone.") else name


def recipe_detectors(valid: np.ndarray, test: np.ndarray, hp: int, seed: int, zscore) -> dict[str, np.ndarray]:
    """infer.py's three detectors on one section (its lines, with ``hp`` neighbours / components)."""
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

    lof = LocalOutlierFactor(n_neighbors=hp, novelty=True).fit(valid)
    gmm = GaussianMixture(n_components=hp, random_state=seed).fit(valid)
    knn = NearestNeighbors(n_neighbors=hp, metric="euclidean").fit(valid)
    return {
        "LOF": zscore(lof.score_samples(test)),
        "GMM": zscore(gmm.score_samples(test) / 1000),
        "KNN": zscore(-knn.kneighbors(test)[0].mean(1)),
    }


def compare_detectors(zscore, table: Table, seed: int = 128) -> None:
    """Our section_scores against the recipe's lines on the same embeddings, z-scored over the test crops as
    the recipe does (ours z-scores by the training crops' scores: an increasing affine map, same AUC)."""
    rng = np.random.default_rng(0)
    valid = rng.standard_normal((60, 16)) + rng.integers(0, 2, (60, 1)) * 3.0
    test = rng.standard_normal((40, 16)) * 1.3 + rng.integers(0, 2, (40, 1)) * 3.0
    for hp in (2, 8):
        ours = section_scores(test, valid, np.arange(len(valid)) // 10, {"GMM": hp, "KNN": hp, "LOF": hp}, seed)
        theirs = recipe_detectors(valid, test, hp, seed, zscore)
        for name in ("GMM", "KNN", "LOF"):
            table.add(
                f"detector {name}, hp {hp}: test crops' z-scored normality",
                max_difference(zscore(ours[name][0]), theirs[name]),
            )


def network_table(checkout: Path, clips: list[Path], batch: int = 4) -> Table:
    """Every comparison of this module, as a table."""

    sys.modules.setdefault("tensorboardX", SimpleNamespace(SummaryWriter=None))  # imported by trainer.py only
    sys.modules.setdefault("h5py", SimpleNamespace())  # imported by utils.py, for the recipe's dumps only
    with public_modules(checkout.resolve()) as load:
        utils, trainer_module = load("asd_tools.utils.utils"), load("asd_tools.trainer.trainer")
        theirs, ours = build_pair(load)
    table = Table(f"two-stage OE network against ibkuroyagi/dcase2022_task2_challenge_recipe {PINNED} (timm)")
    mean, std = compare_statistics(clips, table)
    import librosa

    waves = np.stack([librosa.load(str(clip), sr=16000)[0][:32000] for clip in clips[:batch]])
    waves = torch.from_numpy(((waves - mean) / std).astype(np.float32))
    compare_outputs(theirs, ours, waves, table)
    compare_step(trainer_module, theirs, ours, waves, table)
    compare_detectors(utils.zscore, table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("clips", type=Path, nargs="+", help="16 kHz clips of at least 2 s (4 or more)")
    parser.add_argument("--rows", type=Path, help="also write the table's rows here (JSON)")
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    set_threads(options.threads)
    table = network_table(options.checkout, options.clips)
    table.show()
    if options.rows:
        options.rows.write_text(json.dumps(table.rows))


if __name__ == "__main__":
    main()
