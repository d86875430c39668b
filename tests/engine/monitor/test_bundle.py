"""engine.monitor.bundle: what a bundle holds (checked against hashlib, scipy and the model itself) and that
loading refuses a damaged, incomplete or foreign bundle in one line naming the file."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch

from engine.monitor.bundle import load_bundle
from engine.monitor.scoring import score_files
from errors import DataError
from tests.monitor_data import copy_bundle


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_lists_every_file_with_its_checksum(ae_bundle: Path) -> None:
    manifest = json.loads((ae_bundle / "manifest.json").read_text())
    assert (manifest["format"], manifest["version"]) == ("asd-monitor-bundle", 2)
    on_disk = sorted(path.name for path in ae_bundle.iterdir() if path.name != "manifest.json")
    assert sorted(manifest["files"]) == on_disk  # no working folder (checkpoint) left, nothing unlisted
    assert all(manifest["files"][name] == sha256(ae_bundle / name) for name in on_disk)
    assert not any(path.suffix in (".tar", ".pkl") for path in ae_bundle.iterdir())  # no checkpoint left


def test_clip_list_names_every_training_recording_with_its_checksum(ae_bundle: Path, recordings: Path) -> None:
    with open(ae_bundle / "clips.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    wavs = sorted((recordings / "normal").glob("*.wav"))
    assert [row["file"] for row in rows] == [path.name for path in wavs]
    assert [row["sha256"] for row in rows] == [sha256(path) for path in wavs]
    assert {row["domain"] for row in rows} == {"source"}
    assert [float(row["seconds"]) for row in rows] == pytest.approx([2.0] * len(wavs))


def test_weights_are_the_dcase_runs_store_loaded_without_pickle_and_are_the_models(ae_bundle: Path) -> None:
    arrays = torch.load(ae_bundle / "model.pth", weights_only=True)
    state = load_bundle(ae_bundle).model.model_state()
    assert sorted(arrays) == sorted(state)
    for name, value in state.items():
        np.testing.assert_array_equal(arrays[name].numpy(), value.numpy())
    assert np.abs(arrays["cov_source"].numpy()).sum() > 0  # the fitted covariance travels with the weights
    info = json.loads((ae_bundle / "model.json").read_text())
    assert info["weights"] == "model.pth" and info["weights_sha256"] == sha256(ae_bundle / "model.pth")
    assert info["shape"] == load_bundle(ae_bundle).model.shape


def test_thresholds_are_the_gamma_quantiles_of_the_fits(ae_bundle: Path) -> None:
    bundle = load_bundle(ae_bundle)
    assert set(bundle.thresholds) == {"MSE", "MAHALA"}
    for mode, threshold in bundle.thresholds.items():
        fit = json.loads((ae_bundle / f"score_distr_bundle_{mode.lower()}.json").read_text())
        expected = scipy.stats.gamma.ppf(0.9, fit["shape"], loc=fit["loc"], scale=fit["scale"])
        assert threshold == pytest.approx(expected, rel=1e-9)


def test_training_scores_are_the_scores_of_the_training_clips(ae_bundle: Path, recordings: Path) -> None:
    bundle = load_bundle(ae_bundle)
    clips = sorted((recordings / "normal").glob("*.wav"))
    stored = json.loads((ae_bundle / "training_scores.json").read_text())
    for mode in ("MSE", "MAHALA"):
        rescored = [rows[0].score for rows in score_files(bundle, clips, mode, window_s=2.0, hop_s=1.0)]
        np.testing.assert_allclose(stored[mode]["scores"], rescored, rtol=1e-5)
        np.testing.assert_array_equal(bundle.training_scores[mode], np.sort(stored[mode]["scores"]))


def test_percentile_is_the_weak_percentile_of_scipy(ae_bundle: Path) -> None:
    bundle = load_bundle(ae_bundle)
    reference = bundle.training_scores["MSE"]
    probes = np.concatenate([reference[[0, 5, 19]], [reference[0] - 1, reference[-1] + 1, np.median(reference)]])
    expected = [scipy.stats.percentileofscore(reference, probe, kind="weak") for probe in probes]
    np.testing.assert_allclose(bundle.percentile("MSE", probes), expected)


def damage_weights(bundle: Path) -> None:
    data = bytearray((bundle / "model.pth").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "model.pth").write_bytes(bytes(data))


def rewrite_manifest(bundle: Path, **changes: object) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest.update(changes)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def drop_manifest_key(bundle: Path, key: str) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest[key]
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (damage_weights, "model.pth does not match its checksum"),
        (lambda b: (b / "clips.csv").unlink(), "clips.csv is missing from the bundle"),
        (lambda b: (b / "manifest.json").write_text('{"format": '), "manifest.json is damaged"),
        (lambda b: (b / "manifest.json").unlink(), "is not a model bundle (no manifest.json)"),
        (lambda b: rewrite_manifest(b, version=1), "bundle of format version 1; this program reads version 2"),
        (lambda b: rewrite_manifest(b, format="something-else"), "is not the manifest of a model bundle"),
        (lambda b: rewrite_manifest(b, model="no-such-model"), "unknown model 'no-such-model'"),
        (lambda b: drop_manifest_key(b, "sample_rate"), "manifest.json is damaged (no sample_rate)"),
    ],
)
def test_damaged_or_foreign_bundles_are_refused(ae_bundle: Path, tmp_path: Path, damage, expected: str) -> None:
    bundle = copy_bundle(ae_bundle, tmp_path)
    damage(bundle)
    with pytest.raises(DataError, match=re.escape(expected)) as caught:
        load_bundle(bundle)
    assert "\n" not in str(caught.value) and str(bundle) in str(caught.value)


def test_a_missing_bundle_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"bundle .*nothing not found"):
        load_bundle(tmp_path / "nothing")


def test_weights_with_nan_are_refused_even_with_a_matching_checksum(ae_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_bundle(ae_bundle, tmp_path)
    state = torch.load(bundle / "model.pth", weights_only=True)
    state["cov_source"][0, 0] = np.nan
    torch.save(state, bundle / "model.pth")
    info = json.loads((bundle / "model.json").read_text())
    (bundle / "model.json").write_text(json.dumps({**info, "weights_sha256": sha256(bundle / "model.pth")}))
    rewrite_manifest(
        bundle,
        files={
            **json.loads((bundle / "manifest.json").read_text())["files"],
            "model.pth": sha256(bundle / "model.pth"),
            "model.json": sha256(bundle / "model.json"),
        },
    )
    with pytest.raises(DataError, match="NaN or infinite"):
        load_bundle(bundle)


def test_loaded_model_is_on_the_device_asked_for(ae_bundle: Path) -> None:
    bundle = load_bundle(ae_bundle, torch.device("cpu"))
    assert bundle.model.device == torch.device("cpu") and bundle.sample_rate == 16000
    assert bundle.clip_seconds == pytest.approx(2.0) and bundle.default_mode == "MSE"
