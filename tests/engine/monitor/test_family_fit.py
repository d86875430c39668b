"""engine.monitor.fit with a family classifier: classes from the folders, other machines' folders to learn from,
one-line refusal of a single class, and the kNN scores of the bundle against scipy's distances."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.spatial.distance
import soundfile
import torch

from engine.monitor.bundle import load_bundle
from engine.monitor.fit import fit_bundle
from engine.monitor.scoring import score_files
from errors import DataError
from networks import registry
from networks.scac_multires.crops import covering_windows
from tests.conftest import read_rows, run_train
from tests.monitor_data import CLIP_SECONDS

FAMILY_MODELS = ("SCAC-MultiRes", "STgram-MFN")


def tiny_flags(model: str) -> list[str]:
    return [*registry.get(model).tiny_test_flags, "--use_cuda", "False", "--num_workers", "1"]


@pytest.mark.parametrize("model", FAMILY_MODELS)
def test_one_machine_of_one_class_is_refused_with_what_to_do(model: str, recordings: Path, tmp_path: Path) -> None:
    # time-stamped names carry no section, attribute or domain: every clip is one class, nothing to tell apart
    with pytest.raises(DataError, match=r"make one class .*add other machines' folders with --others"):
        fit_bundle(recordings / "normal", tmp_path / "b", model, flags=tiny_flags(model))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model", FAMILY_MODELS)
def test_a_family_classifier_learns_the_machine_beside_other_machines(
    model: str, recordings: Path, other_machine: Path, tmp_path: Path
) -> None:
    manifest = fit_bundle(recordings / "normal", tmp_path / "b", model, flags=tiny_flags(model), others=[other_machine])
    assert manifest["trained_on"] == "normal" and manifest["also_trained_on"] == {"train": 12}
    assert manifest["n_clips"] == 20  # the reference and the thresholds are the monitored machine's clips only
    bundle = load_bundle(tmp_path / "b")
    machines = {name.split("---")[0].split("/")[0] for name in bundle.model.class_names}
    assert machines == {"normal", "train"}
    day = sorted((recordings / "day").glob("*.wav"))
    rows = [row for file_rows in score_files(bundle, day, bundle.default_mode, CLIP_SECONDS, 1.0) for row in file_rows]
    assert len(rows) == len(day) and all(np.isfinite(row.score) for row in rows)
    assert len(bundle.training_scores[bundle.default_mode]) == 20


def test_scac_bundle_scores_are_the_nearest_training_embedding_distances(
    recordings: Path, other_machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A clip's score: half the Euclidean distance (scipy) of its unit embedding (the mean of its windows') to the
    nearest unit embedding of the monitored machine's training clips (all source: no SMOTE points); a training
    clip's percentile score is its distance to the nearest other training clip."""
    model = "SCAC-MultiRes"
    fit_bundle(recordings / "normal", tmp_path / "b", model, flags=tiny_flags(model), others=[other_machine])
    assert "warning: normal has no target-domain training clips: SMOTE has nothing" in capsys.readouterr().out
    bundle = load_bundle(tmp_path / "b")
    source = bundle.model.references["SMOTE"].source
    assert source.shape[0] == 20 and len(bundle.model.references["SMOTE"].target) == 0
    among = scipy.spatial.distance.cdist(source, source)
    np.fill_diagonal(among, np.inf)
    np.testing.assert_allclose(bundle.training_scores["SMOTE"], np.sort(among.min(axis=1) / 2), atol=1e-9)

    clip = sorted((recordings / "day").glob("*.wav"))[-1]
    [[row]] = list(score_files(bundle, [clip], "SMOTE", CLIP_SECONDS, 1.0))
    signal, _ = soundfile.read(str(clip), dtype="float32")
    windows = covering_windows(signal, bundle.model.network_shape.samples)
    embedding = bundle.model.embed(torch.from_numpy(np.ascontiguousarray(windows))).mean(axis=0)
    unit = embedding / np.linalg.norm(embedding)
    assert row.score == pytest.approx(scipy.spatial.distance.cdist(unit[None], source).min() / 2, rel=1e-5)

    [[own]] = list(score_files(bundle, [sorted((recordings / "normal").glob("*.wav"))[0]], "SMOTE", 2.0, 1.0))
    assert own.score == pytest.approx(0.0, abs=1e-6)  # a training clip is its own nearest neighbour


def test_a_bundle_of_a_dcase_machine_type_scores_its_test_clips_as_the_dcase_run(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    """The monitor fitted on fan's training folder (domains from the names) beside valve's, and train.py's DCASE run
    of the same family model on fan and valve: one engine, so the same test clip scores alike (float rounding)."""
    raw = tmp_path / "data/dcase2024t2/dev_data/raw"
    for machine in ("fan", "valve"):
        shutil.copytree(tiny_data_dir / f"dcase2024t2/dev_data/raw/{machine}", raw / machine)
    flags = [*tiny_flags("SCAC-MultiRes"), "--epochs", "2"]
    run_train(tmp_path, *flags, "--dataset", "DCASE2024T2fan", "-d", "--dataset_directory", str(tmp_path / "data"))
    [dcase_csv] = (tmp_path / "results").rglob("anomaly_score_DCASE2024T2fan_section_00_test_*.csv")
    dcase = {row[0]: float(row[1]) for row in read_rows(dcase_csv)}
    train_names = sorted(path.name for path in (raw / "fan/train").glob("*.wav"))
    domains = tmp_path / "domains.csv"
    domains.write_text("".join(f"{name},{'target' if '_target_' in name else 'source'}\n" for name in train_names))
    out = tmp_path / "fan.bundle"
    fit_bundle(raw / "fan/train", out, flags=flags, domains=domains, others=[raw / "valve/train"])
    bundle = load_bundle(out)
    test_clips = sorted((raw / "fan/test").glob("*.wav"))
    monitor = {
        Path(rows[0].file).name: rows[0].score
        for rows in score_files(bundle, test_clips, "SMOTE", bundle.clip_seconds, bundle.clip_seconds / 2)
    }
    assert set(monitor) == set(dcase) and len(dcase) == 12 and min(dcase.values()) > 0
    np.testing.assert_allclose(
        [monitor[name] for name in sorted(dcase)], [dcase[name] for name in sorted(dcase)], atol=1e-6
    )
