"""Two-stage OE end to end: the recipe's training and stage 2 against ours, from the same random start, on the same
synthetic clips, several seeds (tools/compare/two_stage_oe.py ``--end-to-end`` runs it in the side venv).

    <venv>/bin/python -m tools.compare.two_stage_oe_end_to_end CHECKOUT --work DIR [--epochs 40] [--seeds 1 2 3]

Data: a synthetic DCASE2024T2 dev set (``tools.compare.common.synthetic_data``) of ``--machines`` (the first is
trained, the others are its outliers), read once through our loader (``load_family_training_set``), each
machine type's clips normalised by its training clips' mean and std (equal to the recipe's normalize_wave.py,
tools/compare/two_stage_oe_network.py). The section classes (DCASE2024: domain and attribute) are ours
(``section_classes``) on both sides.

Recipe side (from a copy of the checkout in ``<work>/public``, patched; each patch printed): ``ASDModel``,
``OECBalancedBatchSampler`` (one for the whole run, as train.py builds it), ``WaveCollator`` (random crops),
``MetricOECTrainer._train_step`` (mixup, its cosine schedule, both losses, AdamW and OneCycleLR with the epochs
and steps per epoch train.py gives it) on a stand-in trainer, ``WaveEvalCollator`` (test crops) and infer.py's
detector lines (tools/compare/two_stage_oe_network.py ``recipe_detectors``, z-scored over the test crops, crop
scores averaged per clip). Our side: ``TwoStageOEModel`` (``train_epoch``, ``fit_reference``, ``score``), the
code ``train.py`` and 02a/02b run. Both networks start from the same weights (the recipe's, seeded, copied).
AUCs by scikit-learn on both sides: source normals (target normals) and all anomalies of section 00.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from datasets.file_list import list_test_clips, list_train_clips
from datasets.registry import resolve_dataset
from datasets.waveforms import (
    cached_machine_clips,
    list_family_training_clips,
    load_family_training_set,
    machine_clips_from_files,
)
from networks.two_stage_oe.model import TwoStageOEModel
from networks.two_stage_oe.options import TwoStageOEOptions
from tools.compare.common import Patch, copy_checkout, domain_aucs, public_modules, set_threads, synthetic_data
from tools.compare.two_stage_oe_network import our_name, recipe_detectors

PATCHES = (
    Patch(
        "asd_tools/trainer/trainer.py",
        "num_classes=6",
        "num_classes=self.model.out_dim",
        "the recipe one-hot encodes DCASE2022's 6 sections; the DCASE2024 set has its own number of classes",
        count=2,
    ),
)
DETECTOR_SETTINGS = {"GMM": 1, "KNN": 4, "LOF": 4}  # ours' defaults (two_stage_oe.yaml); the recipe's hp is one


def load(root: Path, machines: list[str]):
    spec = resolve_dataset("DCASE2024T2" + machines[0], "dev")
    listing = [entry for entry in list_family_training_clips("DCASE2024T2", "dev", root, [], machines[0])]
    listing = [entry for entry in listing if entry[0].machine in machines]
    data = load_family_training_set(listing, root)
    data.run_machine = machines[0]
    reference = cached_machine_clips(spec, list_train_clips(spec, root, []), root)
    test = machine_clips_from_files(spec.machine, list_test_clips(spec, root, "00")[0])
    return data, reference, test


def our_options(setting: argparse.Namespace, seed: int) -> TwoStageOEOptions:
    options = TwoStageOEOptions(
        epochs=setting.epochs, batch_size=setting.batch_size, learning_rate=1e-3, seed=seed, n_mels=setting.n_mels,
        n_fft=setting.n_fft, hop_length=setting.hop_length, power=1.0, fmin=50.0, fmax=7800.0,
        oe_crop_seconds=setting.crop_seconds, oe_test_crops=setting.test_crops, oe_gmm_components=1,
        oe_knn_k=DETECTOR_SETTINGS["KNN"], oe_lof_neighbors=DETECTOR_SETTINGS["LOF"],
    )  # fmt: skip
    options.validate()
    return options


def normalised_clip(data, model: TwoStageOEModel, number: int) -> np.ndarray:
    waves = data.waveforms[data.clip_machine[number]]
    machine = data.machines[data.clip_machine[number]]
    signal = waves.clip(int(data.clip_index[number]))[None].astype(np.float32)
    return model._normalised(signal, [machine]).numpy()[0]


def recipe_model(modules, shape: dict, seed: int):
    torch.manual_seed(seed)
    network = shape["network"]
    return modules["timm_models"].ASDModel(
        "tf_efficientnet_b0_ns", neck="option-F", embedding_size=network["embedding_dim"], pretrained=False,
        use_pos=False, in_chans=3, n_fft=network["n_fft"], hop_length=network["hop_length"],
        n_mels=network["n_mels"], power=network["power"], out_dim=network["n_classes"],
    )  # fmt: skip


def recipe_train(modules, model, data, ours: TwoStageOEModel, setting, seed: int) -> list[float]:
    """The recipe's training loop; the machine loss of every epoch."""
    labels = ours._labels(data)
    mine = labels >= 0
    order = np.concatenate([np.flatnonzero(mine & ~data.is_target), np.flatnonzero(mine & data.is_target)])
    order = np.concatenate([order, np.flatnonzero(~mine)])
    n_source = int(np.sum(mine & ~data.is_target))
    files = SimpleNamespace(
        pos_source_files=order[:n_source], pos_target_files=order[n_source : mine.sum()], neg_files=order[mine.sum() :]
    )
    np.random.seed(seed)
    sampler = modules["samplers"].OECBalancedBatchSampler(files, setting.batch_size, True, True, 0)
    collator = modules["collators"].WaveCollator(sf=16000, sec=setting.crop_seconds, pos_machine=ours.machine)
    collator.rng = np.random.default_rng(seed)  # the recipe's is unseeded
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)  # asd_model.000.yaml
    steps_per_epoch = n_source // (setting.batch_size // 2) + 1
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-3, epochs=setting.epochs, steps_per_epoch=steps_per_epoch
    )
    config = {
        "mixup_alpha": 0.2, "mixup_scheduler": {"max_rate": 1.0, "min_rate": 0.0, "mode": "cos"},
        "train_max_epochs": setting.epochs, "section_loss_type": "BCEWithLogitsLoss", "section_loss_lambda": 10.0,
        "accum_grads": 1, "scheduler_type": "OneCycleLR",
    }  # fmt: skip
    trainer = SimpleNamespace(
        device=torch.device("cpu"), config=config, model=model, metric_fc=None, forward_count=0, steps=0,
        steps_per_epoch=steps_per_epoch, optimizer=optimizer, scheduler=scheduler,
        criterion={"machine_loss": torch.nn.BCEWithLogitsLoss(), "section_loss": torch.nn.BCEWithLogitsLoss()},
    )  # fmt: skip
    curve = []
    for _ in range(setting.epochs):
        trainer.total_train_loss = {"train/machine_loss": 0.0, "train/section_loss": 0.0, "train/loss": 0.0}
        model.train()
        batches = list(iter(sampler))
        for ids in batches:
            items = [
                {
                    "wave": normalised_clip(data, ours, i),
                    "machine": data.clip_machine_names[i],
                    "section": max(labels[i], 0),
                }
                for i in ids
            ]
            modules["trainer"].MetricOECTrainer._train_step(trainer, collator(items))
        curve.append(trainer.total_train_loss["train/machine_loss"] / len(batches))
    return curve


@torch.no_grad()
def recipe_embeddings(modules, model, signals: list[np.ndarray], setting) -> np.ndarray:
    """(clips, crops, embedding) of the recipe's eval crops, eval mode."""
    model.eval()
    collator = modules["collators"].WaveEvalCollator(sf=16000, sec=setting.crop_seconds, n_split=setting.test_crops)
    items = collator([{"wave": signal} for signal in signals])
    crops = [model(items[f"X{i}"])["embedding"].double().numpy() for i in range(setting.test_crops)]
    return np.stack(crops, axis=1)


def recipe_scores(modules, model, ours: TwoStageOEModel, reference, test, setting, zscore) -> dict[str, np.ndarray]:
    def signals(clips):
        return [ours._normalised(clips.read(np.array([i])), [ours.machine]).numpy()[0] for i in range(len(clips.clips))]

    valid = recipe_embeddings(modules, model, signals(reference), setting)
    evaluation = recipe_embeddings(modules, model, signals(test), setting)
    flat_valid, flat_eval = valid.reshape(-1, valid.shape[-1]), evaluation.reshape(-1, evaluation.shape[-1])
    scores = {}
    for name, hp in DETECTOR_SETTINGS.items():
        normality = recipe_detectors(flat_valid, flat_eval, hp, 128, zscore)[name]
        scores[name] = -normality.reshape(evaluation.shape[:2]).mean(axis=1)  # mean over crops, anomaly sign
    return scores


def run_seed(modules, data, reference, test, setting, seed: int) -> dict[str, dict]:
    options = our_options(setting, seed)
    shape = TwoStageOEModel.shape_of(options, data)
    torch.manual_seed(seed)
    ours = TwoStageOEModel(options, shape, torch.device("cpu"))
    theirs = recipe_model(modules, shape, seed)
    start = {our_name(k): v.clone() for k, v in theirs.state_dict().items() if our_name(k) is not None}
    ours.net.load_state_dict(start, strict=True)
    results = {}
    began = time.time()
    curve = [ours.train_epoch(data, epoch).log["machine_loss"] for epoch in range(1, options.epochs + 1)]
    ours.fit_reference(reference)
    results["ours"] = {"curve": curve, "scores": ours.score(test), "seconds": time.time() - began}
    began = time.time()
    curve = recipe_train(modules, theirs, data, ours, setting, seed)
    scores = recipe_scores(modules, theirs, ours, reference, test, setting, modules["utils"].zscore)
    results["recipe"] = {"curve": curve, "scores": scores, "seconds": time.time() - began}
    return results


def report(all_results: dict[int, dict], test) -> str:
    lines = ["| code | seed | machine loss: epoch 1 -> last (min) | GMM AUC src / tgt | KNN | LOF | s |"]
    lines.append("|---|---|---|---|---|---|---|")
    for seed, results in all_results.items():
        for code, result in results.items():
            curve = result["curve"]
            cells = [f"{code} | {seed} | {curve[0]:.3f} -> {curve[-1]:.3f} ({min(curve):.3f})"]
            for name in ("GMM", "KNN", "LOF"):
                source, target = domain_aucs(np.asarray(result["scores"][name]), test.clips)
                cells.append(f"{source:.3f} / {target:.3f}")
            lines.append("| " + " | ".join(cells) + f" | {result['seconds']:.0f} |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--machines", nargs="+", default=["fan", "valve", "ToyCar"])
    parser.add_argument("--clips", type=int, default=40, help="source training clips per machine type")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--batch_size",
        type=int,
        default=18,
        help="half of it must not divide --clips (else the recipe's sampler does not reset between epochs)",
    )
    parser.add_argument("--n_fft", type=int, default=1024)
    parser.add_argument("--hop_length", type=int, default=512)
    parser.add_argument("--n_mels", type=int, default=32)
    parser.add_argument("--crop_seconds", type=float, default=1.0)
    parser.add_argument("--test_crops", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=1)
    setting = parser.parse_args()
    set_threads(setting.threads)
    work = setting.work.resolve()
    root = synthetic_data(work / "data", setting.machines, n_train=setting.clips, n_target=4, n_test=10)
    public = copy_checkout(setting.checkout.resolve(), work / "public", PATCHES)

    sys.modules.setdefault("tensorboardX", SimpleNamespace(SummaryWriter=None))
    sys.modules.setdefault("h5py", SimpleNamespace())
    with public_modules(public) as load_module:
        modules = {
            "timm_models": load_module("asd_tools.models.timm_models"),
            "samplers": load_module("asd_tools.datasets.samplers"),
            "collators": load_module("asd_tools.datasets.collators"),
            "trainer": load_module("asd_tools.trainer.trainer"),
            "utils": load_module("asd_tools.utils.utils"),
        }
    data, reference, test = load(root, setting.machines)
    print(f"setting: {vars(setting)}; {data.n_clips} training clips, {len(test.clips)} test clips", flush=True)
    all_results = {}
    for seed in setting.seeds:
        all_results[seed] = run_seed(modules, data, reference, test, setting, seed)
        report({seed: all_results[seed]}, test)
    report(all_results, test)


if __name__ == "__main__":
    main()
