"""engine.monitor.export: the ONNX graph's scores (onnxruntime) against the PyTorch scores of the same bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from engine.monitor.bundle import load_bundle
from engine.monitor.export import export_onnx
from engine.monitor.scoring import file_windows, score_files
from errors import ConfigError


def test_onnx_scores_match_pytorch(ae_bundle: Path, recordings: Path, tmp_path: Path) -> None:
    bundle = load_bundle(ae_bundle)
    description = json.loads(export_onnx(bundle, tmp_path / "fan.onnx").read_text())
    assert description["outputs"] == ["MSE", "MAHALA"] and description["thresholds"] == bundle.thresholds
    assert description["input"]["features"] == bundle.manifest["features"]
    session = onnxruntime.InferenceSession(str(tmp_path / "fan.onnx"), providers=["CPUExecutionProvider"])
    clips = sorted((recordings / "day").glob("*.wav")) + sorted((recordings / "long").glob("*.wav"))
    for mode_index, mode in enumerate(description["outputs"]):
        torch_scores = [row.score for rows in score_files(bundle, clips, mode, 2.0, 1.0) for row in rows]
        onnx_scores = []
        for clip in clips:
            for frames in file_windows(clip, bundle, 2.0, 1.0)[1]:  # frames of various lengths: a dynamic axis
                onnx_scores.append(float(session.run(None, {"log_mel": frames.astype(np.float32)})[mode_index]))
        np.testing.assert_allclose(onnx_scores, torch_scores, rtol=1e-4)
        assert len(onnx_scores) > len(clips)


def test_a_model_without_a_scoring_graph_is_refused(knn_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="level-stats-kNN has no scoring graph to export; ONNX export works for DCASE2023T2-AE"
    ):
        export_onnx(load_bundle(knn_bundle), tmp_path / "knn.onnx")
    assert list(tmp_path.iterdir()) == []
