"""The autoencoder's scoring of one clip as one torch module (log-mel frames in, MSE and MAHALA out), written with
operations an ONNX graph can hold, for scoring on small devices (``python -m tools.monitor export``)."""

from __future__ import annotations

import torch
from torch import nn

from networks.backends.mahalanobis import block_differences, mahalanobis_mean
from networks.dcase2023t2_ae.network import AENet


class ClipScoreGraph(nn.Module):
    """One clip's log-mel frames (T, n_mels) -> its MSE and selective Mahalanobis scores, as ``score`` computes
    them: vectors of ``frames`` consecutive frames every ``frame_hop`` frames, their reconstruction, the mean
    squared error over all of them and the smaller of the source and target Mahalanobis means."""

    def __init__(
        self, net: AENet, frames: int, frame_hop: int, precision_source: torch.Tensor, precision_target: torch.Tensor
    ) -> None:
        super().__init__()
        self.net, self.frames, self.frame_hop = net, frames, frame_hop
        self.register_buffer("precision_source", precision_source.detach().clone())
        self.register_buffer("precision_target", precision_target.detach().clone())

    def forward(self, log_mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n_mels = log_mel.shape[1]
        starts = torch.arange(0, log_mel.shape[0] - self.frames + 1, self.frame_hop, device=log_mel.device)
        index = starts[:, None] + torch.arange(self.frames, device=log_mel.device)[None, :]
        x = log_mel[index].reshape(-1, self.frames * n_mels)
        recon = self.net(x)[0]
        mse = ((recon - x) ** 2).mean()
        blocks = block_differences(recon, x, n_mels)
        mahala = torch.minimum(
            mahalanobis_mean(blocks, self.precision_target), mahalanobis_mean(blocks, self.precision_source)
        )
        return mse, mahala
