"""STgram-MFN as a detector: one classifier for every machine type of a dataset family (``scope = "family"``).

It sees only tensors: batches of waveforms with class labels to train, waveforms to embed. Reading data,
the epochs, checkpoints and the per-machine scores are the engine's (engine/family_runner.py).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from networks.registry import register
from networks.stgram_mfn.network import NetworkShape, STgramMFN
from networks.stgram_mfn.settings import StgramSettings

WEIGHT_DECAY = 1e-4
WARMUP_SHARE = 0.05  # of all optimiser steps, at least one epoch's worth is not needed: short schedules exist
FINAL_LR_SHARE = 0.01


def learning_rate_at(step: int, total_steps: int, base: float) -> float:
    """Linear warm-up over the first 5 % of the steps, then a cosine decay to 1 % of ``base``."""
    warmup = max(1, round(WARMUP_SHARE * total_steps))
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return base * (FINAL_LR_SHARE + (1.0 - FINAL_LR_SHARE) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision on CUDA (bfloat16 where supported, else float16); full precision on the CPU, where
    bfloat16 is slower than float32 on most processors."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@register("STgram-MFN")
class STgramMFNDetector:
    """STgram-MFN trained with ArcFace on machine type x section x attribute classes."""

    scope: ClassVar[str] = "family"  # one model per dataset family and split, shared by its machine types
    score_modes: ClassVar[tuple[str, ...]] = ("KNN", "NLL")
    log_columns: ClassVar[tuple[str, ...]] = ("loss", "accuracy", "learning_rate")

    def __init__(self, shape: NetworkShape, mel_filters: np.ndarray, settings: StgramSettings,
                 device: torch.device) -> None:
        self.shape, self.settings, self.device = shape, settings, device
        self.net = STgramMFN(shape, torch.tensor(np.asarray(mel_filters, dtype=np.float32)),
                             margin=settings.arcface_margin, scale=settings.arcface_scale).to(device)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=settings.learning_rate,
                                           weight_decay=WEIGHT_DECAY)
        self.precision = autocast_dtype(device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == torch.float16)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.precision)

    @property
    def precision_name(self) -> str:
        return "float32" if self.precision is None else str(self.precision).removeprefix("torch.")

    def train_step(self, waveforms: torch.Tensor, labels: torch.Tensor, learning_rate: float) -> tuple[float, int]:
        """One optimiser step on a batch; returns the batch's loss and how many clips it classified right."""
        self.net.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            embeddings = self.net(waveforms)
        logits = self.net.head.margin_logits(embeddings.float(), labels)
        loss = F.cross_entropy(logits, labels)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with torch.no_grad():
            correct = int((self.net.head.cosines(embeddings.detach()).argmax(dim=1) == labels).sum())
        return float(loss.detach()), correct

    @torch.no_grad()
    def embed(self, waveforms: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (batch, embedding_dim) and class logits without margin (batch, n_classes), float64."""
        self.net.eval()
        with self._autocast():
            embeddings = self.net(waveforms)
        logits = self.net.head.logits(embeddings.float())
        return embeddings.float().cpu().double().numpy(), logits.cpu().double().numpy()

    def model_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)

    def optimizer_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict()}

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
