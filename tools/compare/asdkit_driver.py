"""Runs ASDKit's own code on the inputs ``tools/compare/asdkit.py`` wrote, in a Python that can import it.

Run by that script, not by hand: ``PYTHON asdkit_driver.py CHECKOUT IN.npz OUT.npz``. It imports only the public
code at CHECKOUT and its libraries (never this repository): the network built from the recipe's own frontend yaml,
the sub-cluster AdaCos loss and mixup of its experiment yaml, its labeler and its kNN back-end.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
import yaml

FRONTEND = "config/train/frontend/dis_multiresnet_0256_1024_4096.yaml"
EXPERIMENT = "config/train/experiments/dis_multispec_scac_trainable.yaml"


def substitute(value, sec: float, sample_rate: int):
    """The recipe's yaml with its two interpolations filled in (what hydra would do)."""
    if isinstance(value, dict):
        return {key: substitute(item, sec, sample_rate) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, sec, sample_rate) for item in value]
    return (
        {"${datamodule.sec}": sec, "${datamodule.sr}": sample_rate}.get(value, value)
        if isinstance(value, str)
        else value
    )


def main(checkout: Path, inputs_path: Path, outputs_path: Path) -> None:
    sys.path.insert(0, str(checkout))
    # asdkit/models/modules.py imports peft at the top for LoRA only (pretrained models): not needed here
    sys.modules.setdefault("peft", types.ModuleType("peft"))
    from asdkit.augmentations import Mixup
    from asdkit.backends import Knn
    from asdkit.labelers.basicinfo import BasicInfoLabeler
    from asdkit.losses import SCAdaCos
    from asdkit.utils.common import instantiate_tgt

    inputs = np.load(inputs_path)
    meta = json.loads(str(inputs["meta"]))
    frontend = yaml.safe_load((checkout / FRONTEND).read_text())["model_cfg"]
    loss_cfg = yaml.safe_load((checkout / EXPERIMENT).read_text())["frontend"]["model_cfg"]["loss_cfg"]
    extractor_cfg = substitute(frontend["extractor_cfg"], meta["sec"], meta["sample_rate"])
    out: dict[str, np.ndarray] = {}

    torch.manual_seed(meta["seed"])
    net = instantiate_tgt(extractor_cfg)
    initial = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    out.update({f"param__{name}": tensor.numpy() for name, tensor in initial.items()})
    waves = torch.from_numpy(inputs["waves"])
    net.eval()
    with torch.no_grad():
        out["embed_eval"] = net(waves).numpy()

    # one training step as BasicDisPLModel.training_step takes it: mixup on the batch, extractor, loss
    net.load_state_dict(initial)
    net.train()
    head_cfg = {key: value for key, value in loss_cfg.items() if key != "tgt_class"}
    torch.manual_seed(meta["seed"] + 1)
    head = SCAdaCos(embed_size=net.embed_size, n_classes=meta["n_classes"], **head_cfg)
    head.train()
    out["centres"] = head.W.detach().numpy().copy()
    mixup = Mixup(prob=meta["mixup"])
    mixup.train()
    onehot = torch.nn.functional.one_hot(torch.from_numpy(inputs["labels"]), meta["n_classes"]).float()
    torch.manual_seed(meta["seed"] + 2)
    batch = mixup({"wave": waves, "onehot_main": onehot})
    loss = head(net(batch["wave"]), batch["onehot_main"])
    loss.backward()
    out["loss"] = np.array(float(loss))
    out["grad__centres"] = head.W.grad.numpy()
    out.update({f"grad__{name}": parameter.grad.numpy() for name, parameter in net.named_parameters()})

    labeler = BasicInfoLabeler(label_name="machine_section_attr_domain")
    for year in meta["label_years"]:
        paths = [str(path) for path in inputs[f"paths_{year}"]]
        labeler.fit(paths)
        out[f"labels_{year}"] = np.array([labeler.get_label(path) for path in paths])
        out[f"classes_{year}"] = np.array(labeler.le.classes_)

    train = {
        "section": np.zeros(len(inputs["train_embed"]), int),
        "is_target": inputs["train_is_target"],
        "embed": inputs["train_embed"],
    }
    test = {"section": np.zeros(len(inputs["test_embed"]), int), "embed": inputs["test_embed"]}
    for mode, ratio, neighbours in (("SMOTE", 0.2, 2), ("KNN", 0.0, 0)):
        backend = Knn(
            n_neighbors_so=1, n_neighbors_ta=1, metric="cosine", smote_ratio=ratio, smote_neighbors=neighbours
        )
        backend.fit(train)
        out[f"scores_{mode}"] = backend.anomaly_score(test)["main"]
    np.savez(outputs_path, **out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
