"""The Anomaly Transformer port against the public code (thuml/Anomaly-Transformer, commit b0ee470), unit level.

    python -m tools.compare.anomaly_transformer CHECKOUT [--work DIR] [--sizes paper demo] [--dtypes float32 float64]

The checkout is copied into ``<work>/public`` and imported from there (its ``model`` package and ``solver.py``).
Our network's weights are copied into the public ``AnomalyTransformer`` (their 1x1 convolutions take our linear
layers' weights; their unused LayerNorm in each attention layer and their stored positional table are left
as built), and both see the same windows of standard-normal frames (4 windows of 100 steps x 128 bands, seed 0).
The public side runs the public code itself, nothing retyped: the forward pass, ``Solver.vali`` for the two
minimax losses, ``Solver.train`` (one epoch of one batch: both phases' backward passes and the Adam step), and
``Solver.test`` for the frame scores (read off the arrays it concatenates), each on a Solver object given the
windows as its loaders. A second ``Solver.train`` run of 5 epochs records the learning rate of every epoch.
Ours: ``AnomalyTransformerModel.train_step`` and ``window_scores``, ``learning_rate_at``. In float64 only the
networks are compared: the public Solver casts every batch to float32.

Patches of the copy: ``model/attn.py``, the two ``.cuda()`` calls (the distance table and the prior) are removed
(this PyTorch has no CUDA); ``solver.py``, ``np.Inf`` -> ``np.inf`` (removed in NumPy 2.0; EarlyStopping's
starting losses).
"""

from __future__ import annotations

import types
from argparse import Namespace
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from tools.compare.common import (
    Patch,
    Table,
    arguments,
    check_commit,
    copy_checkout,
    copy_weights,
    gradient_difference,
    max_difference,
    public_modules,
    set_threads,
    weight_difference,
)

PINNED = "b0ee470"
PATCHES = (
    Patch(
        "model/attn.py",
        "torch.zeros((window_size, window_size)).cuda()",
        "torch.zeros((window_size, window_size))",
        "no CUDA on this machine",
    ),
    Patch(
        "model/attn.py",
        ".repeat(sigma.shape[0], sigma.shape[1], 1, 1).cuda()",
        ".repeat(sigma.shape[0], sigma.shape[1], 1, 1)",
        "no CUDA on this machine",
    ),
    Patch("solver.py", "np.Inf", "np.inf", "NumPy 2.0 removed np.Inf (EarlyStopping's starting losses)", count=0),
)
SIZES = {"paper": dict(d_model=512, heads=8, layers=3, d_ff=512), "demo": dict(d_model=64, heads=4, layers=3, d_ff=64)}
WINDOW, BANDS, LAMBDA, RATE = 100, 128, 3.0, 1e-4


def public_name(name: str) -> str:
    """Our parameter name -> the public one."""
    parts = name.split(".")
    if parts[0] == "embedding":
        return "embedding.value_embedding.tokenConv.weight"
    if parts[0] == "norm":
        return f"encoder.norm.{parts[1]}"
    if parts[0] == "reconstruction":
        return f"projection.{parts[1]}"
    layer, rest = parts[1], parts[2:]
    renamed = {"feed_in": "conv1", "feed_out": "conv2", "norm_attention": "norm1", "norm_feed": "norm2"}
    if rest[0] == "attention":
        return f"encoder.attn_layers.{layer}.attention.{rest[1]}_projection.{rest[2]}"
    return f"encoder.attn_layers.{layer}.{renamed[rest[0]]}.{rest[1]}"


def our_model(size: dict, dtype: torch.dtype):
    from networks.anomaly_transformer.model import AnomalyTransformerModel
    from networks.anomaly_transformer.network import NetworkShape
    from networks.anomaly_transformer.options import AnomalyTransformerOptions

    options = AnomalyTransformerOptions(
        epochs=1, batch_size=4, learning_rate=RATE, shuffle=False, seed=0, n_mels=BANDS, at_window=WINDOW,
        at_train_stride=WINDOW, at_d_model=size["d_model"], at_heads=size["heads"], at_layers=size["layers"],
        at_d_ff=size["d_ff"], at_lambda=LAMBDA, at_temperature=50.0,
    )  # fmt: skip
    shape = NetworkShape(n_bands=BANDS, window=WINDOW, **size).as_dict()
    model = AnomalyTransformerModel(
        options, {"network": shape, "band_mean": [0.0] * BANDS, "band_scale": [1.0] * BANDS}, torch.device("cpu")
    )
    model.net.to(dtype)
    model.optimizer = torch.optim.Adam(model.net.parameters(), lr=RATE)
    return model


class Recorder:
    """Stands in for ``np`` inside the public solver: every ``concatenate`` result is kept (the energies)."""

    def __init__(self) -> None:
        self.results: list[np.ndarray] = []

    def __getattr__(self, name: str):
        return getattr(np, name)

    def concatenate(self, *args, **kwargs):
        result = np.concatenate(*args, **kwargs)
        self.results.append(result)
        return result


def public_solver(solver_module: types.ModuleType, net: torch.nn.Module, batches: list, work: Path):
    """A public Solver around ``net`` whose loaders are ``batches``, without reading a data set."""
    solver = solver_module.Solver.__new__(solver_module.Solver)
    solver.__dict__.update(
        model=net, optimizer=torch.optim.Adam(net.parameters(), lr=RATE), lr=RATE, k=LAMBDA, win_size=WINDOW,
        num_epochs=1, device=torch.device("cpu"), criterion=torch.nn.MSELoss(), model_save_path=str(work),
        dataset="compare", anormly_ratio=1.0, train_loader=batches, vali_loader=batches, test_loader=batches,
        thre_loader=batches,
    )  # fmt: skip
    return solver


def compare(public: Path, work: Path, size_name: str, dtype: torch.dtype, table: Table) -> None:
    from networks.anomaly_transformer.scores import minimax_losses

    with public_modules(public) as load:
        network_module = load("model.AnomalyTransformer")
        solver_module = load("solver")
    size = SIZES[size_name]
    torch.manual_seed(0)
    ours = our_model(size, dtype)
    theirs = network_module.AnomalyTransformer(
        win_size=WINDOW, enc_in=BANDS, c_out=BANDS, d_model=size["d_model"], n_heads=size["heads"],
        e_layers=size["layers"], d_ff=size["d_ff"], dropout=0.0,
    ).to(dtype)  # fmt: skip
    # their positional table (a buffer equal to ours, computed) and the unused LayerNorm of each attention layer
    copy_weights(ours.net, theirs, public_name, ignore=lambda n: n.endswith(".pe") or ".attention.norm." in n)
    frames = torch.from_numpy(np.random.default_rng(0).standard_normal((4, WINDOW, BANDS))).to(dtype)
    label = f"{size_name}, {str(dtype).removeprefix('torch.')}"
    ours.net.eval(), theirs.eval()
    with torch.no_grad():
        recon, associations = ours.net(frames)
        their_recon, series, prior, sigma = theirs(frames)
    table.add(f"{label}: reconstruction", max_difference(recon, their_recon))
    table.add(f"{label}: series association", max_difference(torch.stack(associations.series), torch.stack(series)))
    normalised = [p / p.sum(dim=-1, keepdim=True) for p in prior]
    table.add(
        f"{label}: prior association (row-normalised)",
        max_difference(torch.stack(associations.prior), torch.stack(normalised)),
    )
    table.add(
        f"{label}: sigma", max_difference(torch.stack(associations.sigma), torch.stack([s[..., 0] for s in sigma]))
    )
    if dtype != torch.float32:
        return  # the public Solver casts every batch to float32 (input_data.float()): network level only
    batches = [(frames, torch.zeros(4, WINDOW))]
    solver = public_solver(solver_module, theirs, batches, work)
    loss1, loss2 = solver.vali(batches)
    losses = minimax_losses(frames, recon, associations, LAMBDA)
    table.add(f"{label}: maximise-phase loss (their loss1, Solver.vali)", max_difference(losses.maximise, loss1))
    table.add(f"{label}: minimise-phase loss (their loss2, Solver.vali)", max_difference(losses.minimise, loss2))
    solver.train()
    ours.train_step(frames, RATE)
    table.add(
        f"{label}: gradient of every parameter after both phases", gradient_difference(ours.net, theirs, public_name)
    )
    table.add(f"{label}: every weight after one Adam step", weight_difference(ours.net, theirs, public_name))
    recorder = Recorder()
    solver_module.np = recorder
    try:
        solver.test()
    finally:
        solver_module.np = np
    their_scores = recorder.results[1].reshape(4, WINDOW)  # (2): the energies of thre_loader
    table.add(
        f"{label}: frame score after the step (Solver.test)", max_difference(ours.window_scores(frames), their_scores)
    )


def schedule(public: Path, work: Path, table: Table, epochs: int = 5) -> None:
    from networks.anomaly_transformer.model import learning_rate_at

    with public_modules(public) as load:
        network_module = load("model.AnomalyTransformer")
        solver_module = load("solver")
    torch.manual_seed(0)
    net = network_module.AnomalyTransformer(win_size=8, enc_in=4, c_out=4, d_model=8, n_heads=2, e_layers=1, d_ff=8)
    frames = torch.randn(2, 8, 4)
    solver = public_solver(solver_module, net, [], work)
    rates: list[float] = []

    class Loader(list):
        def __iter__(self):
            rates.append(solver.optimizer.param_groups[0]["lr"])
            return super().__iter__()

    solver.train_loader = Loader([(frames, torch.zeros(2, 8))])
    solver.test_loader = [(frames, torch.zeros(2, 8))]
    solver.win_size, solver.num_epochs = 8, epochs
    solver.train()
    ours = [learning_rate_at(epoch, RATE) for epoch in range(1, len(rates) + 1)]
    print(f"learning rate per epoch, public Solver.train: {rates}; ours: {ours}")
    table.add(f"learning rate of epochs 1-{len(rates)} (Solver.train)", max_difference(ours, rates))


def unit_table(checkout: Path, work: Path, sizes: Sequence[str], dtypes: Sequence[str]) -> Table:
    """Every comparison of this script, as a table (the patched copy of the checkout in ``work``/public)."""
    work = work.resolve()
    public = copy_checkout(checkout.resolve(), work / "public", PATCHES)
    table = Table(f"Anomaly Transformer against thuml/Anomaly-Transformer {PINNED} (copied weights)")
    schedule(public, work, table)
    for size in sizes:
        for dtype in dtypes:
            compare(public, work, size, getattr(torch, dtype), table)
    return table


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], PINNED)
    parser.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=sorted(SIZES))
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    options: Namespace = parser.parse_args()
    set_threads(options.threads)
    check_commit(options.checkout, PINNED)
    unit_table(options.checkout, options.work, options.sizes, options.dtypes).show()


if __name__ == "__main__":
    main()
