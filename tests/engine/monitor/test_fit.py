"""engine.monitor.fit: which recordings a fit reads, the domains CSV, which models it fits, what it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.spatial.distance
import soundfile

from datasets.features import log_mel_spectrogram
from engine.monitor.bundle import load_bundle
from engine.monitor.fit import check_model_fits, fit_bundle, list_wavs, read_domains
from engine.monitor.scoring import score_files
from errors import ConfigError, DataError
from networks import registry
from networks.base import Inputs, Scope
from tests.monitor_data import TINY_FIT, write_wav


def test_every_wav_under_the_folder_whatever_its_name(tmp_path: Path) -> None:
    wanted = [write_wav(tmp_path / name, 0.2) for name in ("b/2026-01-01.WAV", "a.wav", "b/c/x.wav")]
    write_wav(tmp_path / ".hidden/y.wav", 0.2)
    write_wav(tmp_path / ".part.wav", 0.2)
    (tmp_path / "notes.txt").write_text("not audio")
    assert list_wavs(tmp_path) == sorted(wanted)


def test_a_folder_without_wavs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="holds no WAV files"):
        list_wavs(tmp_path)
    with pytest.raises(DataError, match="is not a folder"):
        list_wavs(tmp_path / "missing")


def test_domains_csv(tmp_path: Path) -> None:
    clips = [write_wav(tmp_path / name, 0.2) for name in ("a.wav", "b.wav", "sub/c.wav")]
    table = tmp_path / "domains.csv"
    table.write_text("file,domain\nb.wav,target\nsub/c.wav,source\n")
    np.testing.assert_array_equal(read_domains(table, tmp_path, clips), [False, True, False])
    table.write_text("b.wav,broken\n")
    with pytest.raises(DataError, match="line 1: expected 'file,source' or 'file,target'"):
        read_domains(table, tmp_path, clips)
    table.write_text("file,domain\nz.wav,target\n")
    with pytest.raises(DataError, match=r"line 2: 'z\.wav' is not a WAV file under"):
        read_domains(table, tmp_path, clips)


def test_target_clips_give_the_autoencoder_its_target_covariance(recordings: Path, tmp_path: Path) -> None:
    table = tmp_path / "domains.csv"
    names = sorted(path.name for path in (recordings / "normal").glob("*.wav"))
    table.write_text("".join(f"{name},target\n" for name in names[:4]))
    manifest = fit_bundle(recordings / "normal", tmp_path / "b", flags=TINY_FIT, domains=table)
    assert manifest["n_target_clips"] == 4
    net = load_bundle(tmp_path / "b").model.net
    assert not np.allclose(net.cov_source.numpy(), net.cov_target.numpy())


def test_a_model_trained_with_other_machine_types_as_outliers_is_refused(recordings: Path, tmp_path: Path) -> None:
    refusal = r"--model two-stage-OE trains on its machine type with the other machine types .* monitoring works with "
    with pytest.raises(ConfigError, match=refusal) as error:
        fit_bundle(recordings / "normal", tmp_path / "b", "two-stage-OE", flags=TINY_FIT)
    usable = str(error.value).split("monitoring works with ")[1].split(", ")
    assert {"DCASE2023T2-AE", "level-stats-kNN", "SCAC-MultiRes", "STgram-MFN"} <= set(usable)
    assert "two-stage-OE" not in usable
    assert list(tmp_path.iterdir()) == []


def test_an_existing_bundle_is_never_overwritten(ae_bundle: Path, recordings: Path) -> None:
    before = (ae_bundle / "manifest.json").read_bytes()
    with pytest.raises(DataError, match="already exists"):
        fit_bundle(recordings / "normal", ae_bundle, flags=TINY_FIT)
    assert (ae_bundle / "manifest.json").read_bytes() == before


def test_a_failed_fit_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "normal"
    write_wav(folder / "a.wav")
    write_wav(folder / "b.wav", rate=8000)
    with pytest.raises(DataError, match="sample rate 8000 Hz differs"):
        fit_bundle(folder, tmp_path / "b", flags=TINY_FIT)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["normal"]


def test_level_stats_knn_bundle_scores_as_its_distance_to_the_training_clips(
    knn_bundle: Path, recordings: Path
) -> None:
    """The score of a clip: mean Euclidean distance (scipy) to its 2 nearest training clips in the standardised
    level statistics, divided by the training clips' own mean leave-one-out 2-NN distance (all source clips)."""
    bundle = load_bundle(knn_bundle)
    assert bundle.manifest["model"] == "level-stats-kNN" and bundle.default_mode == "KNN"
    clip = sorted((recordings / "day").glob("*.wav"))[0]
    [rows] = list(score_files(bundle, [clip], "KNN", 2.0, 1.0))
    reference = bundle.model.reference
    signal, rate = soundfile.read(str(clip), dtype="float32")
    log_mel = log_mel_spectrogram(signal, rate, bundle.params)
    statistics = np.concatenate([log_mel.mean(axis=0, dtype=np.float64), log_mel.std(axis=0, dtype=np.float64)])
    query = (statistics[None, :] - reference["mean"]) / reference["scale"]
    bank = reference["bank"]
    among = scipy.spatial.distance.cdist(bank, bank)
    np.fill_diagonal(among, np.inf)
    scale = np.sort(among, axis=1)[:, :2].mean()
    expected = np.sort(scipy.spatial.distance.cdist(query, bank)[0])[:2].mean() / scale
    assert rows[0].score == pytest.approx(expected, rel=1e-6)
    assert len(bundle.training_scores["KNN"]) == 20


def test_a_killed_fits_folder_is_removed_by_the_next_fit(recordings: Path, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f".b.partial-{int(dead.stdout)}-x1"
    leftover.mkdir()
    (leftover / "model.pth").write_bytes(b"half")
    alive = tmp_path / f".b.partial-{os.getpid()}-x2"  # a fit still running in this process: left alone
    alive.mkdir()
    fit_bundle(recordings / "normal", tmp_path / "b", flags=TINY_FIT)
    assert sorted(path.name for path in tmp_path.iterdir()) == [alive.name, "b"]


FITTED_BY_FIXTURES = {"DCASE2023T2-AE", "level-stats-kNN"}  # ae_bundle and knn_bundle (tests/monitor_data.py)


def fittable_on_vectors() -> list[str]:
    """The registered models a monitor fit trains on one folder's log-mel vectors: machine-scope vector models."""
    return [
        name
        for name in registry.names()
        if registry.get(name).scope == Scope.MACHINE and registry.get(name).inputs == Inputs.VECTORS
    ]


@pytest.mark.parametrize("model", [name for name in fittable_on_vectors() if name not in FITTED_BY_FIXTURES])
def test_every_fittable_model_fits_a_bundle_that_scores_its_training_clips_again(
    model: str, recordings: Path, tmp_path: Path
) -> None:
    flags = [*registry.get(model).tiny_test_flags, "--use_cuda", "False"]
    fit_bundle(recordings / "normal", tmp_path / "b", model, flags=flags)
    bundle = load_bundle(tmp_path / "b")  # written, then read back: weights, reference and thresholds
    mode = bundle.default_mode
    clips = sorted((recordings / "normal").glob("*.wav"))
    scores = [rows[0].score for rows in score_files(bundle, clips, mode, 2.0, 2.0)]
    np.testing.assert_allclose(np.sort(scores), bundle.training_scores[mode], rtol=1e-4, atol=1e-6)


def test_the_monitor_fits_the_machine_models_on_vectors_and_the_family_classifiers() -> None:
    assert set(fittable_on_vectors()) >= FITTED_BY_FIXTURES
    families = {name for name in registry.names() if registry.get(name).scope == Scope.FAMILY}
    assert families == {"SCAC-MultiRes", "STgram-MFN"}
    for name in registry.names():
        if name in fittable_on_vectors() or name in families:
            check_model_fits(name, registry.get(name))
        else:
            with pytest.raises(ConfigError, match=f"--model {name} trains on its machine type with the other"):
                check_model_fits(name, registry.get(name))
    for name in fittable_on_vectors():  # other machines' folders are only for a classifier of several
        with pytest.raises(ConfigError, match=f"--others: {name} learns from the monitored machine's recordings"):
            check_model_fits(name, registry.get(name), [Path("valve")])
