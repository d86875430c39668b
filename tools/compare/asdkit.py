"""SCAC-MultiRes side by side with ASDKit's own code (``dis_multispec_scac_trainable``) on the same inputs.

    python -m tools.compare.asdkit --checkout /path/to/dcase-asd-toolkit --python /path/to/venv/bin/python

``--checkout``: the public repository at commit ed27d82; ``--python``: a Python that imports it (torch,
torchaudio, hydra-core, pydantic, scikit-learn, imbalanced-learn; peft is not needed). The script writes the
inputs (waveforms, class labels, DCASE2023/2024-layout training file names, embeddings), runs
``tools/compare/asdkit_driver.py`` with that Python on them, runs this repository's code on the same inputs
with ASDKit's initial weights copied over, and prints the table: the network's embeddings, one training step's
loss and gradients (mixup drawn from the same seed), the label strings and the kNN back-ends' scores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from datasets.file_list import list_train_clips
from datasets.registry import machine_types, resolve_dataset
from datasets.synthetic import generate_dataset
from networks.backends.knn_smote import KnnSmoteReference, knn_smote_scores
from networks.scac_multires.labels import class_labels
from networks.scac_multires.loss import draw_mixup
from networks.scac_multires.model import ScacMultiResModel
from networks.scac_multires.network import NetworkShape
from networks.scac_multires.options import ScacOptions

DRIVER = Path(__file__).with_name("asdkit_driver.py")
SAMPLE_RATE = 16000
LABEL_YEARS = ("2023", "2024")
FLOAT32_HALF_ULP = 6e-8  # relative


def recipe_model(n_classes: int, seconds: float, seed: int) -> ScacMultiResModel:
    """This repository's model with the recipe's settings (configs/scac_multires.yaml) on the CPU."""
    options = ScacOptions(epochs=1, batch_size=64, learning_rate=1e-3, seed=seed, n_mels=128, shuffle=True)
    shape = {
        "network": NetworkShape(samples=round(seconds * SAMPLE_RATE)).as_dict(),
        "classes": [f"class{number:03d}" for number in range(n_classes)],
    }
    return ScacMultiResModel(options, shape, torch.device("cpu"))


def copy_weights(model: ScacMultiResModel, theirs: dict[str, np.ndarray], centres: np.ndarray) -> dict[str, str]:
    """Load ASDKit's initial weights into ``model`` by order (same layers, same order; their STFT window buffers
    are left out, ours are not saved); returns our name -> theirs."""
    their_names = [name for name in theirs if not name.endswith(".window")]
    ours = model.net["encoder"].state_dict()
    if len(their_names) != len(ours):
        raise SystemExit(f"the networks differ: {len(ours)} tensors here, {len(their_names)} in ASDKit's")
    mapping, state = {}, {}
    for (name, tensor), their_name in zip(ours.items(), their_names, strict=True):
        if tuple(tensor.shape) != theirs[their_name].shape:
            raise SystemExit(f"{name} {tuple(tensor.shape)} against ASDKit's {their_name} {theirs[their_name].shape}")
        state[name], mapping[name] = torch.from_numpy(theirs[their_name].copy()), their_name
    model.net["encoder"].load_state_dict(state)
    model.net["head"].centres.data = torch.from_numpy(centres.copy())
    return mapping


def label_sets(root: Path) -> dict[str, list]:
    """Training clips of tiny DCASE2023 and DCASE2024 development sets (every machine type, both domains)."""
    found = {}
    for year in LABEL_YEARS:
        family = f"DCASE{year}T2"
        machines = machine_types(family, "dev")
        generate_dataset(
            root,
            machines,
            dataset=family,
            split="dev",
            n_train_source=2,
            n_train_target=1,
            n_test_per_group=1,
            duration=0.5,
            seed=0,
            workers=1,
        )
        found[year] = [
            (machine, clip)
            for machine in machines
            for clip in list_train_clips(resolve_dataset(family + machine, "dev"), root, [])
        ]
    return found


def embeddings_for_backend(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A machine type's embeddings: 190 source and 10 target training clips around their own centres, 100 tests."""
    centre_source, centre_target = rng.normal(size=(2, 512))
    train = np.concatenate([centre_source + rng.normal(size=(190, 512)), centre_target + rng.normal(size=(10, 512))])
    test = np.concatenate(
        [centre_source + 1.3 * rng.normal(size=(50, 512)), centre_target + 1.3 * rng.normal(size=(50, 512))]
    )
    return {"train_embed": train, "train_is_target": np.r_[np.zeros(190, int), np.ones(10, int)], "test_embed": test}


def run_theirs(python: str, checkout: Path, inputs: Path, outputs: Path) -> None:
    result = subprocess.run(
        [python, str(DRIVER), str(checkout), str(inputs), str(outputs)], cwd=checkout, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"ASDKit's code failed:\n{result.stderr[-3000:]}")


def relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-30))


def norm_relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-30))


class Row(NamedTuple):
    what: str
    ours: str
    theirs: str
    difference: str
    agrees: bool  # within float32 rounding (or identical where the values are exact)


def write_inputs(work: Path, seed: int, seconds: float, batch: int, n_classes: int) -> dict[str, Any]:
    """The inputs both codes run on, saved for ASDKit's side in ``work/inputs.npz``."""
    rng = np.random.default_rng(seed)
    waves = (0.1 * rng.standard_normal((batch, round(seconds * SAMPLE_RATE)))).astype(np.float32)
    labels = rng.integers(0, n_classes, batch)
    clips = label_sets(work / "data")
    backend = embeddings_for_backend(rng)
    meta = {
        "seed": seed,
        "sec": seconds,
        "sample_rate": SAMPLE_RATE,
        "n_classes": n_classes,
        "mixup": 0.5,
        "label_years": list(LABEL_YEARS),
    }
    paths = {f"paths_{year}": np.array([str(clip.path) for _, clip in found]) for year, found in clips.items()}
    np.savez(work / "inputs.npz", waves=waves, labels=labels, meta=np.array(json.dumps(meta)), **paths, **backend)
    return {"waves": waves, "labels": labels, "clips": clips, "backend": backend, **meta}


def step_gradients(
    params: dict[str, np.ndarray], centres: np.ndarray, inputs: dict[str, Any], relative_noise: float
) -> np.ndarray:
    """The network's gradients of our training step from ASDKit's initial weights, the waveforms multiplied by
    1 + ``relative_noise`` x N(0, 1): how far float32-sized changes of the inputs alone move them."""
    model = recipe_model(inputs["n_classes"], inputs["sec"], inputs["seed"])
    copy_weights(model, params, centres)
    noise = np.random.default_rng(inputs["seed"] + 3).standard_normal(inputs["waves"].shape)
    waves = (inputs["waves"] * (1 + relative_noise * noise)).astype(np.float32)
    mix = draw_mixup(len(waves), inputs["mixup"], torch.Generator().manual_seed(inputs["seed"] + 2))
    model.train_step(torch.from_numpy(waves), torch.from_numpy(inputs["labels"]), mix)
    return np.concatenate([parameter.grad.numpy().ravel() for parameter in model.net["encoder"].parameters()])


def network_rows(model: ScacMultiResModel, theirs: dict[str, np.ndarray], inputs: dict[str, Any]) -> list[Row]:
    """Copy ASDKit's initial weights, then compare the embeddings and one training step's loss and gradients."""
    params = {name[len("param__") :]: array for name, array in theirs.items() if name.startswith("param__")}
    mapping = copy_weights(model, params, theirs["centres"])
    encoder = dict(model.net["encoder"].named_parameters())
    n_ours = sum(parameter.numel() for parameter in encoder.values())
    n_theirs = sum(params[mapping[name]].size for name in encoder)
    rows = [Row("network parameters", f"{n_ours:,}", f"{n_theirs:,}", "", n_ours == n_theirs)]
    embedded, waves = model.embed(torch.from_numpy(inputs["waves"])), inputs["waves"]
    difference = relative(embedded, theirs["embed_eval"])
    rows.append(
        Row(
            f"embeddings, eval mode ({len(waves)} x {inputs['sec']:g} s noise)",
            f"{embedded.shape}",
            f"{theirs['embed_eval'].shape}",
            f"max abs diff / max abs {difference:.1e}",
            difference < 1e-5,
        )
    )
    mix = draw_mixup(len(waves), inputs["mixup"], torch.Generator().manual_seed(inputs["seed"] + 2))
    loss, _ = model.train_step(torch.from_numpy(waves), torch.from_numpy(inputs["labels"]), mix)
    their_loss = float(theirs["loss"])
    rows.append(
        Row(
            "training step loss (mixup drawn from one seed)",
            f"{loss:.6f}",
            f"{their_loss:.6f}",
            f"{abs(loss - their_loss):.1e}",
            abs(loss - their_loss) < 1e-5 * max(1.0, abs(their_loss)),
        )
    )
    ours_all = np.concatenate([encoder[name].grad.numpy().ravel() for name in encoder])
    theirs_all = np.concatenate([theirs[f"grad__{mapping[name]}"].ravel() for name in encoder])
    whole = norm_relative(ours_all, theirs_all)
    own = norm_relative(step_gradients(params, theirs["centres"], inputs, FLOAT32_HALF_ULP), ours_all)
    rows.append(
        Row(
            "gradient of the whole network",
            f"norm {np.linalg.norm(ours_all):.4g}",
            f"norm {np.linalg.norm(theirs_all):.4g}",
            f"norm of diff / norm {whole:.1e}",
            whole < max(1e-4, 10 * own),
        )
    )
    rows.append(
        Row(
            "the same, this repository against itself with the waveforms changed by half a float32 ulp",
            "",
            "",
            f"norm of diff / norm {own:.1e}",
            True,
        )
    )
    norms = sorted(
        (norm_relative(encoder[name].grad.numpy(), theirs[f"grad__{mapping[name]}"]), name) for name in encoder
    )
    rows.append(
        Row(
            f"gradient per tensor ({len(norms)} tensors)",
            f"median {norms[len(norms) // 2][0]:.1e}",
            f"worst: {mapping[norms[-1][1]]}",
            f"norm of diff / norm, worst {norms[-1][0]:.1e}",
            norms[len(norms) // 2][0] < 1e-4,
        )
    )
    centres = norm_relative(model.net["head"].centres.grad.numpy(), theirs["grad__centres"])
    rows.append(
        Row("gradient of the sub-cluster centres", "", "", f"norm of diff / norm {centres:.1e}", centres < 1e-4)
    )
    return rows


def label_rows(theirs: dict[str, np.ndarray], clips: dict[str, list]) -> list[Row]:
    rows = []
    for year, found in clips.items():
        names, index = class_labels(
            [machine for machine, _ in found],
            [clip.section for _, clip in found],
            [clip.name for _, clip in found],
            [clip.domain == "target" for _, clip in found],
        )
        same = [names[number] for number in index] == list(theirs[f"labels_{year}"]) and names == list(
            theirs[f"classes_{year}"]
        )
        rows.append(
            Row(
                f"labels, DCASE{year}T2 dev ({len(found)} training clips)",
                f"{len(names)} classes",
                f"{len(theirs[f'classes_{year}'])} classes",
                "identical strings" if same else "DIFFERENT",
                same,
            )
        )
    return rows


def backend_rows(theirs: dict[str, np.ndarray], backend: dict[str, np.ndarray]) -> list[Row]:
    rows = []
    for mode, ratio, neighbours in (("SMOTE", 0.2, 2), ("KNN", 0.0, 0)):
        reference = KnnSmoteReference.fit(backend["train_embed"], backend["train_is_target"], ratio, neighbours)
        scores, their_scores = knn_smote_scores(backend["test_embed"], reference), theirs[f"scores_{mode}"]
        difference = float(np.abs(scores - their_scores).max())
        rows.append(
            Row(
                f"back-end {mode} scores ({len(scores)} clips)",
                f"mean {scores.mean():.4f}",
                f"mean {their_scores.mean():.4f}",
                f"max abs diff {difference:.1e}",
                difference < 1e-12,
            )
        )
    return rows


def compare(
    checkout: Path, python: str, work: Path, seed: int = 0, seconds: float = 12.0, batch: int = 4, n_classes: int = 20
) -> list[Row]:
    """Both codes on the same inputs: the rows of the table."""
    inputs = write_inputs(work, seed, seconds, batch, n_classes)
    run_theirs(python, checkout, work / "inputs.npz", work / "outputs.npz")
    theirs = dict(np.load(work / "outputs.npz"))
    model = recipe_model(n_classes, seconds, seed)
    return (
        network_rows(model, theirs, inputs)
        + label_rows(theirs, inputs["clips"])
        + backend_rows(theirs, inputs["backend"])
    )


def table(rows: list[Row]) -> str:
    lines = ["| what | this repository | ASDKit ed27d82 | difference | agrees |", "|---|---|---|---|---|"]
    return "\n".join(
        lines
        + [
            f"| {row.what} | {row.ours} | {row.theirs} | {row.difference} | {'yes' if row.agrees else 'NO'} |"
            for row in rows
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkout", type=Path, required=True, help="the public code at commit ed27d82")
    parser.add_argument("--python", default=sys.executable, help="a Python that can import it")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.checkout / "asdkit/models/multiresnet").is_dir():
        parser.error(f"{args.checkout} is no checkout of dcase-asd-toolkit (no asdkit/models/multiresnet)")
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as work:
        rows = compare(args.checkout.resolve(), args.python, Path(work), args.seed)
    print(table(rows))
    return 0 if all(row.agrees for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
