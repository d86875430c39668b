"""The synthetic machine-sound generator: DCASE layout and names, audio format, determinism, eval ground
truth, kept/overwritten folders, and that anomalies are really there (log-mel computed here with librosa)."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from datasets.synthetic import DEV_MACHINES_2024, GenerationSummary, generate_dataset
from datasets.synthetic import generator as generator_module
from datasets.synthetic.__main__ import main as cli_main
from datasets.synthetic.background import HALLS, hall_for, plant_background
from datasets.synthetic.catalog import machine_model
from datasets.synthetic.plan import plan_machine
from datasets.synthetic.recording import microphone_response, room_for
from datasets.synthetic.worker import render_clip
from errors import ConfigError, DataError

REPO_ROOT = Path(__file__).resolve().parents[2]
SR = 16000
DURATION = 2.0
SMALL = {"n_train_source": 3, "n_train_target": 2, "n_test_per_group": 2, "duration": DURATION}
LABELLED = re.compile(r"^section_00_(source|target)_(train|test)_(normal|anomaly)_(\d{4})_(.+)\.wav$")
ANONYMOUS = re.compile(r"^section_00_(\d{4})\.wav$")


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def _tree_bytes(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def dev_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fan (attributes shown) and gearbox (attributes hidden in DCASE2024), generated in this process."""
    root = tmp_path_factory.mktemp("synthetic_dev")
    generate_dataset(root, ["fan", "gearbox"], workers=1, seed=3, **SMALL)
    return root


@pytest.fixture(scope="module")
def eval_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic_eval")
    generate_dataset(root, ["ToyCircuit", "AirCompressor"], split="eval", workers=1, seed=3, **SMALL)
    return root


# ----------------------------------------------------------------------------------------------------
# layout and names
# ----------------------------------------------------------------------------------------------------
def test_dev_layout_names_and_counts(dev_root: Path) -> None:
    raw = dev_root / "dcase2024t2" / "dev_data" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["fan", "gearbox"]  # no staging folders left behind
    for machine in ("fan", "gearbox"):
        groups: dict[tuple[str, str, str], list[int]] = {}
        for folder in ("train", "test"):
            for path in (raw / machine / folder).iterdir():
                match = LABELLED.match(path.name)
                assert match, path.name
                domain, split, label, number, attributes = match.groups()
                assert split == folder
                groups.setdefault((folder, domain, label), []).append(int(number))
                if machine == "gearbox":
                    assert attributes == "noAttribute"
                else:
                    assert re.fullmatch(r"m-n_[WXYZ]", attributes), attributes
        expected = {
            ("train", "source", "normal"): 3,
            ("train", "target", "normal"): 2,
            ("test", "source", "normal"): 2,
            ("test", "source", "anomaly"): 2,
            ("test", "target", "normal"): 2,
            ("test", "target", "anomaly"): 2,
        }
        assert {key: sorted(numbers) for key, numbers in groups.items()} == {
            key: list(range(count)) for key, count in expected.items()
        }


def test_source_and_target_use_different_attribute_values(dev_root: Path) -> None:
    names = [p.name for p in (dev_root / "dcase2024t2" / "dev_data" / "raw" / "fan").rglob("*.wav")]
    source = {LABELLED.match(n).group(5) for n in names if "_source_" in n}
    target = {LABELLED.match(n).group(5) for n in names if "_target_" in n}
    assert source and target and not source & target


def test_attributes_csv_lists_every_clip(dev_root: Path) -> None:
    raw = dev_root / "dcase2024t2" / "dev_data" / "raw"
    rows = _read_csv(raw / "fan" / "attributes_00.csv")
    assert rows[0] == ["file_name", "d1p", "d1v"]
    listed = {row[0] for row in rows[1:]}
    on_disk = {f"fan/{p.parent.name}/{p.name}" for p in (raw / "fan").rglob("*.wav")}
    assert listed == on_disk and len(rows) - 1 == len(on_disk) == 13
    for file_name, key, value in rows[1:]:
        assert file_name.endswith(f"_{key}_{value}.wav")

    hidden = _read_csv(raw / "gearbox" / "attributes_00.csv")
    assert hidden[0][0] == "file_name"
    assert all(row[1] == "noAttribute" for row in hidden[1:])
    assert {row[0] for row in hidden[1:]} == {
        f"gearbox/{p.parent.name}/{p.name}" for p in (raw / "gearbox").rglob("*.wav")
    }


def test_hidden_attribute_correspondence(dev_root: Path) -> None:
    machine_dir = dev_root / "dcase2024t2" / "dev_data" / "raw" / "gearbox"
    for folder, count in (("train", 5), ("test", 8)):
        rows = _read_csv(machine_dir / f"attributes_00_{folder}_correspondence.csv")
        assert rows[0] == ["source_file_name", "target_file_name"]
        assert len(rows) - 1 == count
        for real, hidden in rows[1:]:
            assert (machine_dir / folder / hidden).is_file()
            assert not (machine_dir / folder / real).exists()
            real_match, hidden_match = LABELLED.match(real), LABELLED.match(hidden)
            assert real_match.groups()[:4] == hidden_match.groups()[:4]
            assert re.fullmatch(r"volt_[\d.]+_wt_\d+", real_match.group(5))


def test_dataset_name_only_changes_the_folder(tmp_path: Path) -> None:
    summary = generate_dataset(tmp_path, ["gearbox"], dataset="DCASE2023T2", workers=1, **SMALL)
    machine_dir = tmp_path / "dcase2023t2" / "dev_data" / "raw" / "gearbox"
    assert summary.paths == [machine_dir]
    names = [p.name for p in machine_dir.rglob("*.wav")]
    assert len(names) == 13 and not any("noAttribute" in name for name in names)  # 2023 shows attributes


# ----------------------------------------------------------------------------------------------------
# audio
# ----------------------------------------------------------------------------------------------------
def test_wav_format_and_no_clipping(dev_root: Path, eval_root: Path) -> None:
    paths = list(dev_root.rglob("*.wav")) + list(eval_root.rglob("*.wav"))
    assert len(paths) == 4 * 13
    for path in paths:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (SR, 1, "PCM_16", "WAV")
        assert info.frames == int(DURATION * SR)
        samples, _ = sf.read(path, dtype="int16")
        peak = int(np.max(np.abs(samples.astype(np.int32))))
        assert 0 < peak < 32767, f"{path.name} clips or is silent (peak {peak})"


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path: Path, dev_root: Path) -> None:
    generate_dataset(tmp_path / "two_workers", ["fan", "gearbox"], workers=2, seed=3, **SMALL)
    reference = _tree_bytes(dev_root / "dcase2024t2")
    assert _tree_bytes(tmp_path / "two_workers" / "dcase2024t2") == reference

    generate_dataset(tmp_path / "other_seed", ["fan"], workers=1, seed=4, **SMALL)
    other = _tree_bytes(tmp_path / "other_seed" / "dcase2024t2")
    wavs = [key for key in other if key.endswith(".wav")]
    assert all(other[key] != reference[key] for key in wavs)


def test_unknown_machine_names_work_and_ignore_python_hash_seed(tmp_path: Path) -> None:
    plan = plan_machine("DCASE2024T2", "dev", "MyPump", n_train_source=1, n_train_target=0, n_test_per_group=0, seed=5)[
        0
    ]
    here = hashlib.sha256(render_clip(plan, 0.5, SR).tobytes()).hexdigest()
    code = (
        "from datasets.synthetic.plan import plan_machine; from datasets.synthetic.worker import render_clip;"
        "import hashlib; p = plan_machine('DCASE2024T2', 'dev', 'MyPump', n_train_source=1, n_train_target=0,"
        " n_test_per_group=0, seed=5)[0]; print(hashlib.sha256(render_clip(p, 0.5, 16000).tobytes()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO_ROOT)}
    there = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout.strip()
    assert here == there
    other = plan_machine("DCASE2024T2", "dev", "MyFan", n_train_source=1, n_train_target=0, n_test_per_group=0, seed=5)[
        0
    ]
    assert machine_model("MyPump").anomalies and machine_model("MyPump") is machine_model("MyPump")
    assert not np.allclose(render_clip(plan, 0.5, SR), render_clip(other, 0.5, SR))


# ----------------------------------------------------------------------------------------------------
# evaluation split
# ----------------------------------------------------------------------------------------------------
def test_eval_test_names_are_anonymous_and_ground_truth_maps_them(eval_root: Path) -> None:
    data_dir = eval_root / "dcase2024t2" / "eval_data"
    for machine in ("ToyCircuit", "AirCompressor"):
        train = sorted(p.name for p in (data_dir / "raw" / machine / "train").iterdir())
        assert len(train) == 5 and all(LABELLED.match(name) for name in train)
        test = sorted(p.name for p in (data_dir / "raw" / machine / "test").iterdir())
        assert test == [f"section_00_{i:04d}.wav" for i in range(8)]

        tables = {
            kind: _read_csv(
                data_dir / "ground_truth" / f"ground_truth_{kind}" / f"ground_truth_{machine}_section_00_test.csv"
            )
            for kind in ("data", "domain", "attributes")
        }
        for rows in tables.values():
            assert [row[0] for row in rows] == test  # every test clip once, sorted
        labels = [int(row[1]) for row in tables["data"]]
        targets = [int(row[1]) for row in tables["domain"]]
        assert sorted(labels) == [0] * 4 + [1] * 4 and sorted(targets) == [0] * 4 + [1] * 4
        assert labels != sorted(labels) or targets != sorted(targets)  # shuffled, not grouped
        for (_name, label), (_, target), attributes in zip(
            tables["data"], tables["domain"], tables["attributes"], strict=True
        ):
            labelled = LABELLED.match(attributes[1] + ".wav")
            assert labelled, attributes
            domain, split, kind = labelled.groups()[:3]
            assert split == "test" and (kind == "anomaly") == (label == "1")
            assert (domain == "target") == (target == "1")
            if machine == "AirCompressor":  # hidden attributes: the real name comes third, as published
                assert labelled.group(5) == "noAttribute" and LABELLED.match(attributes[2]).group(5) != "noAttribute"
            else:
                assert len(attributes) == 2 and labelled.group(5) != "noAttribute"
        attribute_rows = _read_csv(data_dir / "raw" / machine / "attributes_00.csv")
        assert len(attribute_rows) - 1 == 5  # train clips only: the test names stay anonymous


def test_eval_ground_truth_matches_the_audio(eval_root: Path) -> None:
    """The clip the ground truth calls an anomaly is the one rendered with a fault (re-rendered here)."""
    plans = plan_machine(
        "DCASE2024T2", "eval", "ToyCircuit", n_train_source=3, n_train_target=2, n_test_per_group=2, seed=3
    )
    by_name = {plan.written_name: plan for plan in plans if plan.folder == "test"}
    test_dir = eval_root / "dcase2024t2" / "eval_data" / "raw" / "ToyCircuit" / "test"
    for name, plan in by_name.items():
        written, _ = sf.read(test_dir / name)
        expected = np.round(np.clip(render_clip(plan, DURATION, SR), -1, 1) * 32767) / 32768
        assert np.max(np.abs(written - expected)) < 2e-4


# ----------------------------------------------------------------------------------------------------
# anomalies are really there
# ----------------------------------------------------------------------------------------------------
def _log_mel(audio: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=audio, sr=SR, n_fft=1024, hop_length=512, n_mels=64)
    return 10.0 * np.log10(np.maximum(mel, 1e-10))


@pytest.mark.parametrize("machine", DEV_MACHINES_2024)
def test_anomalies_change_the_log_mel_spectrogram(machine: str) -> None:
    """Each fault, rendered on the same machine run, changes the log-mel spectrogram measurably, more at
    severity 1 than at severity 0; two normal runs of the same attributes differ by less than an obvious
    fault changes the statistics of the spectrogram."""
    plan = plan_machine("DCASE2024T2", "dev", machine, n_train_source=1, n_train_target=0, n_test_per_group=0, seed=0)[
        0
    ]
    plan = replace(plan, snr_db=30.0)
    normal = _log_mel(render_clip(plan, 3.0, SR))
    for kind in machine_model(machine).anomalies:
        strong = _log_mel(render_clip(replace(plan, label="anomaly", anomaly=kind, severity=1.0), 3.0, SR))
        weak = _log_mel(render_clip(replace(plan, label="anomaly", anomaly=kind, severity=0.0), 3.0, SR))
        strong_change, weak_change = np.abs(strong - normal), np.abs(weak - normal)
        assert np.percentile(strong_change, 99) > 3.0, f"{machine} {kind}: no 3 dB change anywhere"
        assert strong_change.mean() > weak_change.mean(), f"{machine} {kind}: severity has no effect"


def _band_means(audio: np.ndarray) -> np.ndarray:
    return _log_mel(audio).mean(axis=1)


@pytest.mark.parametrize("machine", DEV_MACHINES_2024)
def test_operating_conditions_change_the_sound_more_than_moderate_faults(machine: str) -> None:
    """Another source-domain attribute combination (same run, same background) moves the clip's mean
    log-mel spectrum more than a fault of severity 0.3 does, for the median fault kind; the faults of the
    planned test clips are mostly below the level of the normal recording (background included)."""
    plans = plan_machine("DCASE2024T2", "dev", machine, n_train_source=0, n_train_target=0, n_test_per_group=4, seed=0)
    normal = next(plan for plan in plans if plan.domain == "source" and plan.label == "normal")
    combos = [combo for combo in machine_model(machine).combinations("source") if combo != normal.attributes]
    base = _band_means(render_clip(normal, DURATION, SR))
    attribute_change = np.mean(
        np.abs(_band_means(render_clip(replace(normal, attributes=combos[-1]), DURATION, SR)) - base)
    )
    fault_changes = [
        np.mean(
            np.abs(
                _band_means(render_clip(replace(normal, label="anomaly", anomaly=kind, severity=0.3), DURATION, SR))
                - base
            )
        )
        for kind in machine_model(machine).anomalies
    ]
    assert attribute_change > np.median(fault_changes), (machine, attribute_change, fault_changes)
    ratios = []
    for plan in (plan for plan in plans if plan.label == "anomaly"):
        anomalous = render_clip(plan, DURATION, SR)
        clean = render_clip(replace(plan, label="normal", anomaly=None, severity=0.0), DURATION, SR)
        ratios.append(np.sqrt(np.mean((anomalous - clean) ** 2) / np.mean(clean**2)))
    assert np.mean(np.array(ratios) < 0.5) >= 0.75, ratios


def test_background_differs_between_clips_and_halls() -> None:
    """The plant background of two clips differs in spectral envelope by decibels (several sources at
    random levels, not one stationary noise), drifts within a clip, and the halls' spectra differ."""
    n = int(DURATION * SR)
    spectra = {
        domain: np.array(
            [_band_means(plant_background(np.random.default_rng(seed), HALLS[domain], n, SR)) for seed in range(6)]
        )
        for domain in ("source", "target")
    }
    for domain, bands in spectra.items():
        assert np.median(bands.std(axis=0)) > 1.0, domain
    frame_levels = _log_mel(plant_background(np.random.default_rng(0), HALLS["source"], 4 * n, SR)).mean(axis=0)
    assert frame_levels.std() > 0.5
    assert np.max(np.abs(spectra["source"].mean(axis=0) - spectra["target"].mean(axis=0))) > 3.0


def test_rooms_per_session_and_microphones_per_position() -> None:
    """Each attribute combination is its own session (room); a microphone is fixed per position, the same
    in both domains, and another position (ToyCar's target ``mic`` 2) has another response."""
    first, second = {"car": "A1", "spd": "28V", "mic": "1"}, {"car": "A2", "spd": "28V", "mic": "1"}
    assert not np.array_equal(room_for("ToyCar", "source", first, SR), room_for("ToyCar", "source", second, SR))
    np.testing.assert_array_equal(room_for("ToyCar", "source", first, SR), room_for("ToyCar", "source", first, SR))
    np.testing.assert_array_equal(
        microphone_response("ToyCar", first, 1024, SR), microphone_response("ToyCar", second, 1024, SR)
    )
    change_db = 20 * np.log10(
        microphone_response("ToyCar", {**first, "mic": "2"}, 1024, SR) / microphone_response("ToyCar", first, 1024, SR)
    )
    assert np.max(np.abs(change_db)) > 1.0


def test_only_an_attribute_naming_the_background_moves_the_target_domain_to_the_other_hall() -> None:
    """A target domain is another operating condition in the same hall, unless the machine type has an
    attribute naming the background (ToyCar's ``noise``, the generic ``nos``/``bckg``)."""
    for machine in ("bearing", "fan", "ToyCar", "ToyTrain", "valve"):
        model = machine_model(machine)
        keys = [attribute.key for attribute in model.attributes]
        expected = HALLS["target"] if "noise" in keys else HALLS["source"]
        assert hall_for("target", keys) is expected, machine
        assert hall_for("source", keys) is HALLS["source"], machine
    plans = plan_machine(
        "DCASE2024T2", "dev", "ToyCar", n_train_source=0, n_train_target=0, n_test_per_group=30, seed=0
    )
    target_snrs = [plan.snr_db for plan in plans if plan.domain == "target"]
    assert min(target_snrs) >= HALLS["target"].snr_db[0] and max(target_snrs) <= HALLS["target"].snr_db[1]
    assert min(target_snrs) < HALLS["source"].snr_db[0]  # SNRs the main hall never has


# ----------------------------------------------------------------------------------------------------
# existing folders, interruptions, settings, CLI
# ----------------------------------------------------------------------------------------------------
def test_complete_folder_is_kept_and_other_settings_need_overwrite(tmp_path: Path) -> None:
    first = generate_dataset(tmp_path, ["valve"], workers=1, **SMALL)
    machine_dir = tmp_path / "dcase2024t2" / "dev_data" / "raw" / "valve"
    before = _tree_bytes(machine_dir)
    again = generate_dataset(tmp_path, ["valve"], workers=1, **SMALL)
    assert isinstance(again, GenerationSummary)
    assert (first.n_clips, again.n_clips, again.kept, again.paths) == (13, 0, [machine_dir], [])
    with pytest.raises(DataError, match="overwrite"):
        generate_dataset(tmp_path, ["valve"], workers=1, seed=9, **SMALL)
    redone = generate_dataset(tmp_path, ["valve"], workers=1, seed=9, overwrite=True, **SMALL)
    assert redone.paths == [machine_dir] and _tree_bytes(machine_dir) != before
    assert sorted(p.name for p in machine_dir.parent.iterdir()) == ["valve"]


def test_foreign_folders(tmp_path: Path) -> None:
    raw = tmp_path / "dcase2024t2" / "dev_data" / "raw"
    for folder in ("train", "test"):
        (raw / "fan" / folder).mkdir(parents=True)
        sf.write(raw / "fan" / folder / "section_00_source_x_normal_0000_a_b.wav", np.zeros(160), SR)
    assert generate_dataset(tmp_path, ["fan"], workers=1, **SMALL).kept == [raw / "fan"]  # e.g. real data
    (raw / "valve").mkdir()
    with pytest.raises(DataError, match="valve"):
        generate_dataset(tmp_path, ["valve"], workers=1, **SMALL)


def test_interrupted_run_leaves_no_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_write = generator_module.write_clip

    def failing_write(job):
        calls.append(job)
        if len(calls) == 5:
            raise OSError("disk full")
        return real_write(job)

    monkeypatch.setattr(generator_module, "write_clip", failing_write)
    with pytest.raises(OSError, match="disk full"):
        generate_dataset(tmp_path, ["fan"], workers=1, **SMALL)
    raw = tmp_path / "dcase2024t2" / "dev_data" / "raw"
    assert list(raw.iterdir()) == []


def test_leftovers_of_dead_runs_are_removed(tmp_path: Path) -> None:
    raw = tmp_path / "dcase2024t2" / "dev_data" / "raw"
    dead_pid = 2**22 + 1  # above Linux's pid_max: no such process
    for name in (f".fan.partial-{dead_pid}-0a1b2c3d", f".fan.old-{dead_pid}-0a1b2c3d"):
        (raw / name / "train").mkdir(parents=True)
    alive = raw / f".fan.partial-{os.getpid()}-0a1b2c3d"  # a run in progress: left alone
    alive.mkdir()
    generate_dataset(tmp_path, ["fan"], workers=1, **SMALL)
    assert sorted(p.name for p in raw.iterdir()) == sorted([alive.name, "fan"])


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"dataset": "DCASE2024"}, "dataset"),
        ({"split": "test"}, "split"),
        ({"duration": 0.0}, "duration"),
        ({"n_test_per_group": -1}, "n_test_per_group"),
        ({"sample_rate": 100}, "sample_rate"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path: Path, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_dataset(tmp_path, ["fan"], **{**SMALL, **settings})
    with pytest.raises(ConfigError, match="folder name"):
        generate_dataset(tmp_path, ["../fan"], **SMALL)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli_main(
        [
            "--root",
            str(tmp_path),
            "--machines",
            "ToyCar",
            "--n_train_source",
            "2",
            "--n_train_target",
            "1",
            "--n_test_per_group",
            "1",
            "--duration",
            "1",
            "--workers",
            "1",
        ]
    )
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"synthetic data: 7 clips in [\d.]+ s \([\d.]+ clips/s\) for 1 machine type\(s\)", line)
    assert len(list((tmp_path / "dcase2024t2" / "dev_data" / "raw" / "ToyCar").rglob("*.wav"))) == 7
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--help"])
    assert exit_info.value.code == 0
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--root", str(tmp_path), "--machines", "fan", "--duration", "-1"])
    assert exit_info.value.code == 2
