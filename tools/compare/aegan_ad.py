"""The AEGAN-AD port against the public code (jianganbai/AEGAN-AD, folder dcase22/, commit 5a62682), unit level.

    python -m tools.compare.aegan_ad CHECKOUT [--work DIR] [--size 128] [--batches 2]

The checkout's ``dcase22/`` is copied into ``<work>/public`` and imported from there (its ``net.py``,
``utils.weights_init`` and ``train.py``, which reads ``config.yaml`` from the working folder when imported).
Per configuration (the public ``config.yaml``; ``pretrain/gearbox_cfg.yaml``: BatchNorm generator and std matching;
``pretrain/ToyCar_cfg.yaml``: Adam beta1 0 and, as the public net.py does for ToyCar, no first encoder
normalisation): the public networks are built and initialised with the public ``weights_init``, their weights
copied into our ``AeganModel`` built with the matching options (``--aegan_generator_norm``, ``--aegan_match_std``,
``--aegan_beta1``, ``--aegan_encoder_first_norm``), both fed the same random patches; then the public
``train_one_epoch`` (critic step, generator step per batch, its own losses and gradient penalty) against our
``critic_step`` / ``generator_step`` on the same batches with the same alphas (the same seed before the draws).

No patch of the public code is needed. (Its train.py, run as a script with ``pretrain/ToyCar_cfg.yaml``, would
stop on current PyTorch: ``beta1: 0`` is read as an int and ``torch.optim.Adam`` refuses ``betas=(0, 0.999)``;
the comparison builds the optimisers itself, with ``float(beta1)``.)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml

from tools.compare.common import (
    Table,
    arguments,
    check_commit,
    copy_checkout,
    copy_weights,
    max_difference,
    public_modules,
    set_threads,
    synthetic_data,
    weight_difference,
)

PINNED = "5a62682"
CONFIGURATIONS = {  # name: (configuration file, machine type the public net.py is built for)
    "config.yaml": ("config.yaml", "gearbox"),
    "gearbox_cfg.yaml": ("pretrain/gearbox_cfg.yaml", "gearbox"),
    "ToyCar_cfg.yaml": ("pretrain/ToyCar_cfg.yaml", "ToyCar"),
}


def our_name(name: str) -> str:
    """A public parameter name -> ours."""
    name = re.sub(r"^Encoder\.main\.", "generator.encoder.layers.", name)
    name = re.sub(r"^Decoder\.main\.", "generator.decoder.layers.", name)
    stage = re.match(r"^main\.(\d+)\.(\d+)\.(.*)$", name)
    if stage:  # their critic stages are nested Sequentials (3 layers each), ours one flat Sequential
        return f"discriminator.features.{3 * int(stage[1]) + int(stage[2])}.{stage[3]}"
    name = re.sub(r"^feat_extract_layer\.", "discriminator.embedding.", name)
    return re.sub(r"^output_layer\.", "discriminator.head.", name)


class Pair(torch.nn.Module):
    """Our two networks under one state dict (``generator.`` and ``discriminator.``)."""

    def __init__(self, generator: torch.nn.Module, discriminator: torch.nn.Module) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator


class PublicPair(torch.nn.Module):
    def __init__(self, generator: torch.nn.Module, discriminator: torch.nn.Module) -> None:
        super().__init__()
        self.g, self.d = generator, discriminator


def rename(name: str) -> str:
    """A PublicPair name (``g.`` generator, ``d.`` critic) -> the Pair name."""
    return our_name(name.split(".", 1)[1])


def our_model(param: dict, machine: str, size: int, data=None, **changes):
    """Our AeganModel with the public configuration's settings (``changes``: other option values); its decibel
    range from ``data``'s training clips when given (end to end), else a fixed one."""
    import dataclasses

    from networks.aegan_ad.model import AeganModel
    from networks.aegan_ad.network import NetworkShape
    from networks.aegan_ad.options import AeganOptions

    net, train = param["net"], param["train"]
    norm = {"ln": "layer", "bn": "batch", "in": "instance"}[net["normalize"]["g"]]
    options = AeganOptions(
        epochs=1, batch_size=8, learning_rate=train["lrG"], shuffle=False, seed=0, n_mels=size, frames=1,
        aegan_latent_dim=net["nz"], aegan_encoder_width=net["ndf"], aegan_decoder_width=net["ngf"],
        aegan_encoder_first_norm=machine not in ("bearing", "fan", "ToyCar"), aegan_generator_norm=norm,
        aegan_beta1=float(train["beta1"]), aegan_matching_weight=train["wgan"]["feat_match_eff"],
        aegan_match_mean=float(train["wgan"]["match_item"].get("mu", 0)),
        aegan_match_std=float(train["wgan"]["match_item"].get("sigma", 0)),
        aegan_penalty_weight=float(train["wgan"]["lambda_gp"]), aegan_critic_steps=train["wgan"]["ncritic"],
    )  # fmt: skip
    options = dataclasses.replace(options, **changes)
    options.validate()
    if data is not None:
        return AeganModel(options, AeganModel.shape_of(options, data), torch.device("cpu"))
    shape = NetworkShape(
        size=size, latent_dim=options.aegan_latent_dim, encoder_width=options.aegan_encoder_width,
        decoder_width=options.aegan_decoder_width, encoder_first_norm=options.aegan_encoder_first_norm,
        generator_norm=norm,
    )  # fmt: skip
    return AeganModel(
        options, {"network": shape.as_dict(), "decibel_min": -80.0, "decibel_max": 0.0}, torch.device("cpu")
    )


@contextlib.contextmanager
def working_folder(folder: Path):
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def compare(public: Path, name: str, size: int, n_batches: int, table: Table) -> None:
    path, machine = CONFIGURATIONS[name]
    param = yaml.safe_load((public / path).read_text())
    param["net"]["isize"], param["mt"] = size, machine
    with working_folder(public), public_modules(public) as load:
        net_module, utils_module, train_module = load("net"), load("utils"), load("train")
    train_module.param = param  # the public module-level configuration its train_one_epoch reads
    torch.manual_seed(0)
    generator, critic = net_module.Generator(param), net_module.Discriminator(param)
    generator.apply(utils_module.weights_init), critic.apply(utils_module.weights_init)
    theirs = PublicPair(generator, critic)
    model = our_model(param, machine, size)
    ours = Pair(model.generator, model.discriminator)
    copy_weights(theirs, ours, rename)
    label = f"{name} ({machine}, {size} x {size})"
    rng = np.random.default_rng(0)
    patches = torch.from_numpy(rng.uniform(-1, 1, (n_batches * 8, 1, size, size)).astype(np.float32))
    generator.eval(), critic.eval(), ours.eval()
    with torch.no_grad():
        table.add(
            f"{label}: generator output (eval mode)",
            max_difference(model.generator(patches[:6]), generator(patches[:6])),
        )
        table.add(
            f"{label}: latent code",
            max_difference(model.generator.encode(patches[:6]), generator(patches[:6], outz=True)),
        )
        value, embedding = model.discriminator(patches[:6])
        their_value, their_embedding = critic(patches[:6])
        table.add(
            f"{label}: critic value / embedding",
            max(max_difference(value, their_value), max_difference(embedding, their_embedding)),
        )
    # as the public train.py's main block builds them; float(): ToyCar_cfg.yaml's `beta1: 0` is an int, which
    # torch >= 2.2 refuses next to 0.999 ("betas must be either both floats or both Tensors")
    betas = (float(param["train"]["beta1"]), 0.999)
    optim_d = torch.optim.Adam(critic.parameters(), lr=param["train"]["lrD"], betas=betas)
    optim_g = torch.optim.Adam(generator.parameters(), lr=param["train"]["lrG"], betas=betas)
    batches = [(patches[8 * i : 8 * (i + 1)], None, None) for i in range(n_batches)]
    torch.manual_seed(1)
    *_, their_losses = train_module.train_one_epoch(
        critic, generator, batches, optim_d, optim_g, torch.device("cpu"), param["train"]["wgan"]["feat_match_eff"]
    )
    torch.manual_seed(1)
    reconstruction = matching = 0.0
    for batch, _, _ in batches:
        model.critic_step(batch, torch.rand((len(batch), 1, 1, 1)))
        logged = model.generator_step(batch)
        reconstruction, matching = reconstruction + logged["reconstruction"], matching + logged["feature_matching"]
    table.add(
        f"{label}: mean reconstruction loss of {n_batches} steps",
        max_difference(reconstruction / n_batches, their_losses["recon"]),
    )
    table.add(f"{label}: mean feature-matching loss", max_difference(matching / n_batches, their_losses["d2g"]))
    table.add(
        f"{label}: every weight and buffer after {n_batches} critic + generator steps",
        weight_difference(theirs, ours, rename),
    )


def compare_front_end(public: Path, clips: Sequence[Path], table: Table) -> None:
    """The public ``utils.generate_spec`` (librosa mel, ``power_to_db(ref=1)``, scaled by the training extremes)
    against our features, ``clip_decibels`` and ``scale_to_unit`` on the same clips (treated as training clips)."""
    from datasets.audio import read_clip
    from datasets.features import FeatureParams, log_mel_spectrogram
    from networks.aegan_ad.patches import clip_decibels, scale_to_unit

    with working_folder(public), public_modules(public) as load:
        utils_module = load("utils")
    spec_dir = public / "spec_compare"
    shutil.rmtree(spec_dir, ignore_errors=True)
    theirs = utils_module.generate_spec(
        {"dev": [str(c) for c in clips]}, 2048, 128, 512, str(spec_dir), "fan", "train", "dev"
    )
    params = FeatureParams(n_mels=128, frames=1, n_fft=2048, hop_length=512)
    decibels = [clip_decibels(torch.from_numpy(log_mel_spectrogram(*read_clip(c), params))) for c in clips]
    low, high = float(torch.cat(decibels).min()), float(torch.cat(decibels).max())
    ours = torch.stack([scale_to_unit(d, low, high).T for d in decibels])
    table.add(
        f"front end: decibel log-mel of {len(clips)} clips scaled to [-1, 1] (utils.generate_spec)",
        max_difference(ours, theirs),
    )


def unit_table(
    checkout: Path,
    work: Path,
    size: int = 32,
    batches: int = 2,
    configurations: Sequence[str] = tuple(CONFIGURATIONS),
    clips: Sequence[Path] = (),
) -> Table:
    """Every comparison of this script, as a table (the checkout's dcase22/ copied into ``work``/public)."""
    public = copy_checkout(checkout.resolve() / "dcase22", work.resolve() / "public")
    table = Table(f"AEGAN-AD against jianganbai/AEGAN-AD {PINNED} (copied weights)")
    if clips:
        compare_front_end(public, clips, table)
    for name in configurations:
        compare(public, name, size, batches, table)
    return table


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], PINNED)
    parser.add_argument("--size", type=int, default=128, help="patch side (the public configuration: 128)")
    parser.add_argument("--batches", type=int, default=2, help="training batches of 8 patches")
    parser.add_argument("--configurations", nargs="+", default=list(CONFIGURATIONS), choices=list(CONFIGURATIONS))
    options = parser.parse_args()
    set_threads(options.threads)
    check_commit(options.checkout, PINNED)
    data = synthetic_data(options.work.resolve() / "data", ["fan"], n_train=6, n_target=1, n_test=1)
    clips = sorted((data / "dcase2024t2" / "dev_data" / "raw" / "fan" / "train").glob("*.wav"))
    table = unit_table(options.checkout, options.work, options.size, options.batches, options.configurations, clips)
    table.show()


if __name__ == "__main__":
    main()
