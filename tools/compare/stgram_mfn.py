"""STgram-MFN against the public code of its authors (liuyoude/STgram-MFN, commit d6c8865), unit level.

    python -m tools.compare.stgram_mfn CHECKOUT [--work DIR]

Our network is a re-implementation with two changes that make it independent of the clip length (see
networks/stgram_mfn/network.py): the Tgram blocks normalise each frame over its channels (theirs: LayerNorm over
a fixed 313 frames) and the global depthwise convolution spans the frequency axis only, followed by a mean over
time (theirs: an (8, 20) kernel). Those two parts are not compared; everything else is, with their weights
copied into ours (in module order, shape by shape): the Tgram's strided convolution, the MobileFaceNet trunk
(stem, depthwise stem, the 6 bottlenecks, the 1x1 expansion to 512 channels) in train and eval mode and the
gradients of one backward pass through it, the 1x1 embedding layer (theirs ``linear1``: a 1x1 convolution and
BatchNorm2d; ours a linear layer and BatchNorm1d), and the ArcFace head (their ``ArcMarginProduct`` with margin
0.7 and scale 30 as their config.yaml) with its cross-entropy loss (their ``ASDLoss``). The log-mel front end is
not compared: theirs is torchaudio's (not installable beside this CPU-only PyTorch), ours librosa's filter bank.

The checkout is imported as it is (``net.py``, ``loss.py``); ``net.py`` imports torchaudio without using it in
the network, so an empty module stands in for it when torchaudio is not installed.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import torch

from tools.compare.common import (
    Table,
    arguments,
    check_commit,
    copy_weights,
    gradient_difference,
    max_difference,
    public_modules,
    set_threads,
)

PINNED = "d6c8865"
MARGIN, SCALE, CLASSES = 0.7, 30.0, 12


def in_order(theirs: torch.nn.Module, ours: torch.nn.Module) -> dict[str, str]:
    """Their state-dict names -> ours, pairing the tensors in module order (each pair of the same shape)."""
    left, right = list(theirs.state_dict().items()), list(ours.state_dict().items())
    if len(left) != len(right):
        raise ValueError(f"{len(left)} tensors against {len(right)}")
    for (name, a), (other, b) in zip(left, right, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"{name} {tuple(a.shape)} against {other} {tuple(b.shape)}")
    return {name: other for (name, _), (other, _) in zip(left, right, strict=True)}


def unit_table(checkout: Path) -> Table:
    """Every comparison of this script, as a table."""
    from networks.stgram_mfn.network import ArcFaceHead, MobileFaceNet, TgramNet

    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # imported, unused by the network
    with public_modules(checkout.resolve()) as load:
        net, loss_module = load("net"), load("loss")
    table = Table(f"STgram-MFN against liuyoude/STgram-MFN {PINNED} (copied weights)")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    their_tgram, our_tgram = net.TgramNet(mel_bins=128, win_len=1024, hop_len=512), TgramNet(128, 1024, 512, 3)
    copy_weights(their_tgram.conv_extrctor, our_tgram.extract, lambda name: name)
    waves = torch.from_numpy(rng.uniform(-0.5, 0.5, (4, 1, 160000)).astype(np.float32))
    table.add(
        "Tgram strided convolution (4 clips of 10 s)",
        max_difference(their_tgram.conv_extrctor(waves), our_tgram.extract(waves)),
    )

    theirs = net.MobileFaceNet(num_class=CLASSES)
    trunk = torch.nn.Sequential(theirs.conv1, theirs.dw_conv1, *theirs.blocks, theirs.conv2)
    ours = MobileFaceNet(128, 1.0, 128)
    mapping = in_order(trunk, ours.features)
    copy_weights(trunk, ours.features, mapping)
    images = torch.from_numpy(rng.standard_normal((4, 2, 128, 313)).astype(np.float32))
    for train in (True, False):
        trunk.train(train), ours.features.train(train)
        mode = "train" if train else "eval"
        table.add(
            f"MobileFaceNet trunk output, {mode} mode (4 x 2 x 128 x 313 in)",
            max_difference(trunk(images), ours.features(images)),
        )
    trunk.train(), ours.features.train()
    trunk(images).square().mean().backward()
    ours.features(images).square().mean().backward()
    reverse = {other: name for name, other in mapping.items()}
    table.add(
        "gradients of the trunk's parameters (mean square output)",
        gradient_difference(ours.features, trunk, reverse.get),
    )

    pooled = torch.from_numpy(rng.standard_normal((8, 512, 1, 1)).astype(np.float32))
    embed = torch.nn.Sequential(ours.embed, ours.embed_norm)
    copy_weights(
        theirs.linear1,
        embed,
        {"conv.weight": "0.weight", **{f"bn.{k}": f"1.{k}" for k in theirs.linear1.bn.state_dict()}},
    )
    table.add(
        "1x1 embedding layer, train mode (8 pooled maps)",
        max_difference(theirs.linear1(pooled).flatten(1), embed(pooled.flatten(1))),
    )

    their_head = net.ArcMarginProduct(in_features=128, out_features=CLASSES, m=MARGIN, s=SCALE, sub=1)
    our_head = ArcFaceHead(128, CLASSES, MARGIN, SCALE)
    copy_weights(their_head, our_head, {"weight": "centres"})
    embeddings = torch.from_numpy(rng.standard_normal((64, 128)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, CLASSES, 64))
    their_logits, our_logits = their_head(embeddings, labels), our_head.margin_logits(embeddings, labels)
    table.add("ArcFace logits with the margin (64 embeddings)", max_difference(their_logits, our_logits))
    their_loss = loss_module.ASDLoss()(their_logits, labels)
    table.add(
        "cross-entropy loss (their ASDLoss)",
        max_difference(their_loss, torch.nn.functional.cross_entropy(our_logits, labels)),
    )
    return table


def main() -> None:
    options = arguments(__doc__.splitlines()[0], PINNED).parse_args()
    set_threads(options.threads)
    check_commit(options.checkout, PINNED)
    unit_table(options.checkout).show()


if __name__ == "__main__":
    main()
