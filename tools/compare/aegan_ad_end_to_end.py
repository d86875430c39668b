"""AEGAN-AD end to end: the public train.py (run as a script, in a patched copy) against our AeganModel, on the same
synthetic DCASE2022 clips, same small setting, several seeds.

    python -m tools.compare.aegan_ad_end_to_end CHECKOUT --work DIR [--epochs 10] [--seeds 1 2 3]

Data: ``python -m datasets.synthetic.legacy --year 2022 --machines fan`` (3 sections, ``--clips`` source and 3
target training clips per section, 8 test clips per section, domain and label), seen by the public code through
``<work>/public_data/dev_data -> <data>/dcase2022t2/dev_data/raw``. The setting (both sides): 32 mels (n_fft 2048,
hop ``--hop_length`` 1024: twice the public 512, half the patches), 32 x 32 patches at every frame (the public
``graph_hop_f: 1``; ours ``--aegan_patch_hop 1``), latent 32, widths 8, LayerNorm, batch 64, Adam 2e-4 / beta1 0.5,
feature matching 0.1 on the means, gradient penalty 10; the public net.py leaves out the first encoder
normalisation for fan, so ours does too.

Public side: ``config.yaml`` rewritten with that setting (printed), the patches below (printed with their
reasons), ``train.py --mt fan --seed S``; the per-epoch reconstruction loss and the h-means of the two modes
compared come from its log (the patched ``test`` logs every mode, not only the best one). Our side:
``AeganModel`` (``train_epoch``, ``fit_reference``, ``score``), as train.py and 02a/02b run it, seeded with S.
AUCs as the public ``test`` computes them (source: source clips and target anomalies; target likewise),
h-mean over the 3 sections; the last epoch's, never a best epoch picked on test labels.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import scipy.stats
import torch
import yaml

from datasets.dcase_data import load_test_set, load_train_set
from datasets.features import FeatureParams
from datasets.registry import resolve_dataset
from datasets.vector_data import VectorSet
from tools.compare.aegan_ad import our_model
from tools.compare.common import REPOSITORY, Patch, copy_checkout, domain_aucs, run, set_threads

MODES = ("G_z_1_sum", "D_lof")
PATCHES = (
    Patch(
        "train.py",
        "device = torch.device('cuda:{}'.format(param['card_id']))",
        "device = torch.device('cpu')",
        "CPU only: the public script hard-codes a CUDA card",
    ),
    Patch(
        "utils.py",
        "                        assert atn in segs\n                        atv = segs[segs.index(atn) + 1]",
        "                        atv = segs[segs.index(atn) + 1] if atn in segs else 'none'",
        "its attribute map is DCASE2022's per section; the synthetic clips name other attributes (auxiliary "
        "labels, used in neither training nor scoring)",
    ),
    Patch(
        "train.py",
        "    logger.info('-' * 110)\n    return hmean_all[best_idx, :], best_metric",
        "    logger.info('modes ' + ' '.join(f'{id2metric[i]}={hmean_all[i, 0]:.4f},{hmean_all[i, 1]:.4f}'"
        " for i in range(len(hmean_all))))\n    logger.info('-' * 110)\n    return hmean_all[best_idx, :], best_metric",
        "it logs only the best mode of each epoch, picked on the test labels; the comparison reads fixed modes",
    ),
)


def public_config(public: Path, data: Path, setting: argparse.Namespace) -> dict:
    param = yaml.safe_load((public / "config.yaml").read_text())
    param["dataset_dir"], param["spec_dir"] = str(data), "./spec"
    param["feat"] = {"fft_num": 2048, "mel_bin": 32, "frame_hop": setting.hop_length, "frame_num": 32, "graph_hop_f": 1}
    param["net"].update({"nz": 32, "ndf": 8, "ngf": 8, "isize": 32})
    param["train"].update({"epoch": setting.epochs, "batch_size": 64})
    (public / "config.yaml").write_text(yaml.safe_dump(param))
    print(f"config.yaml: feat {param['feat']}, net {param['net']}, train {param['train']}")
    return param


def public_run(public: Path, seed: int) -> dict:
    """Train the public code; per epoch its reconstruction loss and each mode's (AUC_s, AUC_t) h-means."""
    log = public / f"run_{seed}.log"
    log.unlink(missing_ok=True)
    began = time.time()
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    run([sys.executable, "train.py", "--mt", "fan", "--seed", str(seed)], public, env, log)
    text = log.read_text()
    recon = [float(x) for x in re.findall(r"\[recon: ([0-9.e+-]+)\]", text)]
    modes = {mode: [] for mode in MODES}
    for line in re.findall(r"^modes (.*)$", text, flags=re.M):
        values = dict(item.split("=") for item in line.split())
        for mode in MODES:
            modes[mode].append(tuple(float(v) for v in values[mode].split(",")))
    return {"curve": recon, "aucs": {mode: modes[mode][-1] for mode in MODES}, "seconds": time.time() - began}


def our_run(root: Path, param: dict, setting: argparse.Namespace, seed: int) -> dict:
    began = time.time()
    spec = resolve_dataset("DCASE2022T2fan", "dev")
    features = FeatureParams(n_mels=32, frames=1, n_fft=2048, hop_length=setting.hop_length, power=2.0)
    train_set = load_train_set(spec, root, features, [], 0)
    data = VectorSet.from_features(train_set.features, features, train_set.is_target, torch.device("cpu"))
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = our_model(param, "fan", 32, data, epochs=setting.epochs, batch_size=64, seed=seed, shuffle=True)
    curve = [model.train_epoch(data, epoch).log["reconstruction"] for epoch in range(1, setting.epochs + 1)]
    model.fit_reference(data)
    per_mode = {mode: [] for mode in MODES}
    for section in spec.sections:
        test_set = load_test_set(spec, root, features, section, 0)
        test = VectorSet.from_features(test_set.features, features, test_set.is_target, torch.device("cpu"))
        scores = model.score(test, list(MODES))
        for mode in MODES:
            per_mode[mode].append(domain_aucs(np.asarray(scores[mode]), test_set.clips))
    aucs = {mode: tuple(scipy.stats.hmean(np.array(v), axis=0)) for mode, v in per_mode.items()}
    return {"curve": curve, "aucs": aucs, "seconds": time.time() - began}


def report(results: dict) -> str:
    lines = [
        "| code | seed | reconstruction loss: epoch 1 -> last (min) | "
        + " | ".join(f"{mode} AUC src / tgt (h-mean of 3 sections)" for mode in MODES)
        + " | s |",
        "|---|---|---|---|---|---|",
    ]
    for (code, seed), result in results.items():
        curve = result["curve"]
        cells = [code, str(seed), f"{curve[0]:.4f} -> {curve[-1]:.4f} ({min(curve):.4f})"]
        cells += [f"{result['aucs'][m][0]:.3f} / {result['aucs'][m][1]:.3f}" for m in MODES]
        lines.append("| " + " | ".join(cells) + f" | {result['seconds']:.0f} |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hop_length", type=int, default=1024, help="STFT hop (both sides)")
    parser.add_argument("--clips", type=int, default=30, help="source training clips per section")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=1)
    setting = parser.parse_args()
    set_threads(setting.threads)
    work = setting.work.resolve()
    root = work / "data"
    if not (root / "dcase2022t2").exists():
        command = ["-m", "datasets.synthetic.legacy", "--year", "2022", "--split", "dev", "--root", str(root)]
        command += ["--machines", "fan", "--n_train_source", str(setting.clips), "--n_train_target", "3"]
        run([sys.executable, *command, "--n_test_per_group", "8", "--duration", "10", "--seed", "0"], REPOSITORY)
    public_data = work / "public_data"
    public_data.mkdir(exist_ok=True)
    if not (public_data / "dev_data").exists():
        (public_data / "dev_data").symlink_to(root / "dcase2022t2" / "dev_data" / "raw")
    public = copy_checkout(setting.checkout.resolve() / "dcase22", work / "public", PATCHES)
    param = public_config(public, public_data, setting)
    results = {}
    for seed in setting.seeds:
        results[("ours", seed)] = our_run(root, param, setting, seed)
        results[("public", seed)] = public_run(public, seed)
        report({key: results[key] for key in (("ours", seed), ("public", seed))})
    report(results)


if __name__ == "__main__":
    main()
