"""A bundle's network and scoring as an ONNX graph, with a JSON beside it that says how to feed it and how to
decide: log-mel frames of one clip in (the bundle's feature settings), one score per mode out."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from engine.monitor.bundle import Bundle
from errors import ConfigError
from networks import registry
from networks.base import Model
from safe_io import atomic_write, atomic_write_text

ONNX_OPSET = 17
INPUT_NAME = "log_mel"


def exportable_models() -> list[str]:
    """Registered models whose scoring is a graph (``Model.scoring_graph``)."""
    return [name for name in registry.names() if registry.get(name).scoring_graph is not Model.scoring_graph]


def onnx_description(bundle: Bundle, graph_file: str) -> dict[str, Any]:
    """What a device needs besides the graph: the input's recipe, the outputs' meaning, the thresholds."""
    manifest = bundle.manifest
    return {
        "graph": graph_file,
        "input": {
            "name": INPUT_NAME,
            "shape": ["frames", bundle.params.n_mels],
            "dtype": "float32",
            "recipe": "log-mel frames of one mono clip, time-major, as datasets/features.py computes them",
            "features": manifest["features"],
            "sample_rate": bundle.sample_rate,
        },
        "outputs": list(manifest["score_modes"]),
        "thresholds": bundle.thresholds,
        "decision": "anomalous when a score is above its threshold",
        "bundle": {"model": manifest["model"], "written": manifest.get("written"), "n_clips": manifest["n_clips"]},
    }


def export_onnx(bundle: Bundle, out: Path) -> Path:
    """Write ``out`` (the ONNX graph) and ``out`` + ``.json`` (its description); returns the description's path."""
    graph = bundle.model.scoring_graph(bundle.params.frame_hop_length)
    if graph is None:
        raise ConfigError(
            f"{bundle.manifest['model']} has no scoring graph to export; ONNX export works for "
            f"{', '.join(exportable_models())}"
        )
    graph = graph.cpu().eval()
    example = torch.zeros(
        max(int(bundle.clip_seconds * bundle.sample_rate / bundle.params.hop_length), 16), bundle.params.n_mels
    )
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notices
        torch.onnx.export(
            graph,
            (example,),
            buffer,
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=list(bundle.manifest["score_modes"]),
            dynamic_axes={INPUT_NAME: {0: "frames"}},
        )
    out = Path(out)
    atomic_write(out, lambda stream: stream.write(buffer.getbuffer()))
    description = out.with_name(out.name + ".json")
    atomic_write_text(description, json.dumps(onnx_description(bundle, out.name), indent=2) + "\n")
    return description
