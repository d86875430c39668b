"""The autoencoder (DCASE2023T2-AE) against the public baseline v3.3.0 (nttcslab/dcase2023_task2_baseline_ae).

    python -m tools.compare.baseline_ae CHECKOUT [--work DIR] [--python PY] [--unit-only] [--epochs 2]

Unit level (imports the checkout's network.py and datasets/loader_common.py beside this package): the log-mel
vectors of synthetic clips from the public ``file_to_vectors`` and from ours, and the network with our weights
copied into theirs: outputs in train and eval mode, one step's loss, gradients and the weights after one Adam step.
End to end: a small synthetic DCASE2024T2 set (fan and valve), the public ``train.py`` (``--train_only``, then
``--test_only --score MSE`` and ``MAHALA``) in a copy of the checkout and this project's 01/02a/02b scripts in a
copy of this repository, same data, seed and flags, one thread on both sides; every anomaly-score,
decision-result, ROC and log.csv line compared byte for byte.

Patch of the copy (not of the checkout): tools/plot_common.py ``boxplot(labels=...)`` -> ``tick_labels=``
(Matplotlib 3.10 removed ``labels``; it only draws the score figure). The created environment adds seaborn and
fasteners (imported by the public code, not by this project) on top of this project's packages. For the unit
level, when ``fasteners`` is not installed an empty module stands in for it: the public loader uses it only to
lock downloads, which the comparison does not run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch

from tools.compare.common import (
    REPOSITORY,
    Patch,
    Table,
    arguments,
    check_commit,
    copy_checkout,
    copy_weights,
    ensure_venv,
    gradient_difference,
    identical_lines,
    max_difference,
    public_modules,
    run,
    set_threads,
    synthetic_data,
    weight_difference,
)

PINNED = "ce6566a"  # tag v3.3.0
PATCHES = (
    Patch(
        "tools/plot_common.py",
        "labels=args[idx].labels",
        "tick_labels=args[idx].labels",
        "Matplotlib 3.10 removed boxplot(labels=)",
        count=3,
    ),
)
MACHINES = ("fan", "valve")
FEATURES = dict(n_mels=128, n_frames=5, n_fft=1024, hop_length=512, power=2.0, fmin=0.0, fmax=None)  # baseline.yaml


def unit_level(checkout: Path, clips: list[Path]) -> Table:
    from datasets.clip_features import extract_features
    from datasets.features import FeatureParams
    from datasets.vector_data import VectorSet
    from networks.dcase2023t2_ae.network import AENet

    sys.modules.setdefault("fasteners", types.ModuleType("fasteners"))  # download locks only (see above)
    with public_modules(checkout) as load:
        public_loader = load("datasets.loader_common")
        public_network = load("networks.dcase2023t2_ae.network")
    table = Table("Autoencoder against the public baseline v3.3.0, unit level")
    params = FeatureParams()
    theirs = [public_loader.file_to_vectors(str(clip), **FEATURES) for clip in clips]
    # the vectors as training and scoring read them: the clips' log-mel frames, stacked by VectorSet
    vectors = VectorSet.from_features(
        extract_features(clips, params, 1, "clips"), params, np.zeros(len(clips), dtype=bool), torch.device("cpu")
    )
    ours = vectors.gather(torch.arange(vectors.n_vectors)).numpy()
    table.add(f"log-mel vectors of {len(clips)} clips (file_to_vectors)", max_difference(np.concatenate(theirs), ours))

    torch.manual_seed(0)
    mine, public = AENet(640, 128), public_network.AENet(640, 128)
    copy_weights(mine, public, lambda name: name)
    x = torch.from_numpy(ours[:256].copy())
    for mode in ("train", "eval"):
        mine.train(mode == "train"), public.train(mode == "train")
        (recon_a, z_a), (recon_b, z_b) = mine(x), public(x)
        table.add(f"reconstruction, {mode} mode", max_difference(recon_a, recon_b))
        table.add(f"bottleneck code, {mode} mode", max_difference(z_a, z_b))
    optimisers = [torch.optim.Adam(net.parameters(), lr=1e-3) for net in (mine, public)]
    losses = []
    for net, optimiser in zip((mine, public), optimisers, strict=True):
        net.train()
        optimiser.zero_grad()
        recon, _ = net(x)
        # the public loss_fn / loss_reduction_1d / loss_reduction: per-vector mean, summed, divided by the count
        loss = torch.nn.functional.mse_loss(recon, x, reduction="none").mean(dim=1).sum() / len(x)
        loss.backward()
        optimiser.step()
        losses.append(loss)
    table.add("training loss of one batch of 256", max_difference(losses[0], losses[1]))
    table.add("gradient of every parameter", gradient_difference(mine, public, lambda name: name))
    table.add("every weight and buffer after one Adam step", weight_difference(mine, public, lambda name: name))
    return table


def public_runs(public: Path, python: Path, epochs: int, env: dict, log: Path) -> None:
    for machine in MACHINES:
        flags = [f"--dataset=DCASE2024T2{machine}", "-d", "-tag=id(0_)", "--use_ids", "0", "--epochs", str(epochs)]
        run([str(python), "train.py", *flags, "--train_only"], cwd=public, env=env, log=log)
        for score in ("MSE", "MAHALA"):
            run([str(python), "train.py", *flags, "--score", score, "--test_only"], cwd=public, env=env, log=log)


def our_runs(ours: Path, data: Path, epochs: int, env: dict, log: Path) -> None:
    flags = ["-d", "--epochs", str(epochs), "--machines", ",".join(MACHINES), "--dataset_directory", str(data)]
    for script in ("01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh"):
        run(["bash", script, *flags], cwd=ours, env={**env, "PYTHON": sys.executable}, log=log)


def copy_repository(destination: Path) -> Path:
    """The tracked files of this repository (as committed or edited), without data, models or results."""
    files = subprocess.run(["git", "-C", str(REPOSITORY), "ls-files"], capture_output=True, text=True, check=True)
    for name in files.stdout.splitlines():
        source = REPOSITORY / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (destination / name).write_bytes(source.read_bytes())
    return destination


def compare_outputs(public: Path, ours: Path) -> tuple[Table, bool]:
    table = Table("Autoencoder against the public baseline v3.3.0, end to end", ("identical lines", "lines"))
    every_line_equal = True
    kinds = ("anomaly_score_", "decision_result_", "result_")
    for system in ("baseline_MSE", "baseline_MAHALA"):
        for kind in kinds:
            files = sorted((public / "results" / "dev_data" / system).glob(f"{kind}*.csv"))
            same = total = 0
            for file in files:
                mine = ours / "results" / "dev_data" / system / file.name
                equal, lines = identical_lines(file, mine) if mine.exists() else (0, 1)
                same, total = same + equal, total + lines
            every_line_equal &= same == total and bool(files)
            table.rows.append((f"{system}: {kind}*.csv ({len(files)} files)", float(same), float(total)))
    logs = sorted((public / "logs").rglob("log.csv"))
    same = total = 0
    for file in logs:
        equal, lines = identical_lines(file, ours / file.relative_to(public))
        same, total = same + equal, total + lines
    every_line_equal &= same == total and bool(logs)
    table.rows.append((f"log.csv ({len(logs)} files)", float(same), float(total)))
    return table, every_line_equal


def end_to_end(checkout: Path, work: Path, python: Path | None, epochs: int, threads: int) -> bool:
    data = synthetic_data(work / "data", MACHINES)
    if python is not None and python.is_dir():
        python = python / "bin" / "python"  # the folder of a virtual environment
    python = python or ensure_venv(work / "venv", ["seaborn", "fasteners"])
    public = copy_checkout(checkout, work / "public", PATCHES)
    shutil.rmtree(public / "data", ignore_errors=True)  # the checkout's empty placeholder folders
    (public / "data").symlink_to(data)
    ours = work / "ours"
    shutil.rmtree(ours, ignore_errors=True)
    copy_repository(ours)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    public_runs(public, python, epochs, env, work / "public.log")
    our_runs(ours, data, epochs, env, work / "ours.log")
    table, equal = compare_outputs(public, ours)
    table.show()
    print("every line identical" if equal else "DIFFERENCES: see the table")
    return equal


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], PINNED, python=True)
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of the end-to-end runs")
    parser.add_argument("--unit-only", action="store_true", help="only the unit-level comparison")
    options = parser.parse_args()
    set_threads(options.threads)
    check_commit(options.checkout, PINNED)
    work = options.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    data = synthetic_data(work / "data", MACHINES)
    clips = sorted((data / "dcase2024t2" / "dev_data" / "raw" / "fan" / "train").glob("*.wav"))[:4]
    table = unit_level(options.checkout.resolve(), clips)
    table.show()
    equal = (
        True
        if options.unit_only
        else end_to_end(options.checkout.resolve(), work, options.python, options.epochs, options.threads)
    )
    sys.exit(0 if equal and table.worst() == 0 else 1)


if __name__ == "__main__":
    main()
