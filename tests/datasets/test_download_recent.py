"""datasets.download for DCASE2025 and DCASE2026: the published archives, 2025's eval labels, 2026's missing
evaluation set, ToyCar's renamed archive, and the supplemental/ folder of a 2025 evaluation archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datasets import download, eval_labels
from datasets.download import archives_for
from datasets.file_list import list_test_clips, list_train_clips
from datasets.registry import resolve_dataset
from datasets.supplemental import list_supplemental_clips
from tests.datasets.test_download import FakeZenodo, make_zip
from tests.datasets.test_download_legacy import auto_download_with_labels, clip_members
from tests.datasets.test_eval_labels import StaticServer

# the public baseline's datasets/download_path_2025.yaml and download_path_2026.yaml (v5.1.1)
PUBLISHED = {
    ("DCASE2025T2", "dev", "ToyCar"): ["https://zenodo.org/records/15097779/files/dev_ToyCar.zip"],
    ("DCASE2025T2", "eval", "ToyPet"): [
        "https://zenodo.org/records/15392814/files/eval_data_ToyPet_train.zip",
        "https://zenodo.org/records/15519362/files/eval_data_ToyPet_test.zip",
    ],
    ("DCASE2026T2", "dev", "ToyCar"): ["https://zenodo.org/records/19336329/files/dev_ToyCar_r2.zip"],
    ("DCASE2026T2", "dev", "valveEmu"): ["https://zenodo.org/records/19336329/files/dev_valveEmu.zip"],
}


@pytest.fixture
def fake() -> Iterator[FakeZenodo]:
    with FakeZenodo() as server:
        yield server


@pytest.mark.parametrize(("family", "split", "machine"), list(PUBLISHED))
def test_archives_are_the_published_ones(family: str, split: str, machine: str, tmp_path: Path) -> None:
    parts = ("dev",) if split == "dev" else ("add", "eval")
    archives = [archive for part in parts for archive in archives_for(tmp_path, family, part, [machine])]
    assert [archive.url("https://zenodo.org") for archive in archives] == PUBLISHED[(family, split, machine)]
    assert {archive.machine_dir for archive in archives} == {tmp_path / family.lower() / f"{split}_data/raw" / machine}


def test_2026_additional_training_archives_and_no_evaluation_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [archive.name for archive in archives_for(tmp_path, "DCASE2026T2", "add")]
    assert names == [
        f"eval_data_{machine}_train.zip"
        for machine in ("ToyDrone", "ToothBrush", "SewingMachine", "BlowerDustCollector", "Sander")
    ]
    assert {archive.record for archive in archives_for(tmp_path, "DCASE2026T2", "add")} == {"20151556"}
    assert download.main(["DCASE2026T2", "eval", "--dataset_directory", str(tmp_path)]) != 0
    assert (
        "the DCASE2026T2 evaluation dataset (test clips of the evaluation machine types) is not yet public"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "dcase2026t2").exists()


def test_2025_eval_auto_download_labels_and_keeps_supplemental_apart(
    fake: FakeZenodo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = clip_members("ToyPet", "train", ["section_00_source_train_normal_0000_noAttribute.wav"])
    supplemental = clip_members(
        "ToyPet", "supplemental", ["section_00_machine_0000_.wav", "section_00_noise_0000_.wav"]
    )
    fake.add("15392814", "eval_data_ToyPet_train.zip", make_zip({**train, **supplemental}))
    fake.add(
        "15519362",
        "eval_data_ToyPet_test.zip",
        make_zip(clip_members("ToyPet", "test", ["section_00_0000.wav", "section_00_0001.wav"])),
    )
    listing = (
        "ToyPet\nsection_00_0000.wav,section_00_target_test_anomaly_0000_noAttribute.wav\n"
        "section_00_0001.wav,section_00_source_test_normal_0000_noAttribute.wav\n"
    )
    auto_download_with_labels(fake, tmp_path, monkeypatch, "DCASE2025T2", "ToyPet", listing)
    spec = resolve_dataset("DCASE2025T2ToyPet", "eval")
    machine_dir = spec.machine_dir(tmp_path)
    assert (
        machine_dir / "test_rename/section_00_target_test_anomaly_0000_noAttribute.wav"
    ).read_bytes() == b"test/section_00_0000.wav"
    clips, labelled = list_test_clips(spec, tmp_path, "00")
    assert labelled and [(clip.name, clip.label, clip.domain) for clip in clips] == [
        ("section_00_source_test_normal_0000_noAttribute.wav", 0, "source"),
        ("section_00_target_test_anomaly_0000_noAttribute.wav", 1, "target"),
    ]
    assert [clip.name for clip in list_train_clips(spec, tmp_path, [])] == [
        "section_00_source_train_normal_0000_noAttribute.wav"
    ]
    assert [(clip.path.name, clip.kind) for clip in list_supplemental_clips(spec, tmp_path)] == [
        ("section_00_machine_0000_.wav", "machine"),
        ("section_00_noise_0000_.wav", "noise"),
    ]


def test_labels_list_unavailable_leaves_the_data_and_warns(
    fake: FakeZenodo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add(
        "15519362", "eval_data_Polisher_test.zip", make_zip(clip_members("Polisher", "test", ["section_00_0000.wav"]))
    )
    monkeypatch.setattr(download, "base_url_from_environment", lambda: fake.url)
    with StaticServer({}) as labels:  # answers 404
        monkeypatch.setenv(eval_labels.LABELS_BASE_URL_ENV, labels.url)
        assert (
            download.main(["DCASE2025T2", "eval", "--dataset_directory", str(tmp_path), "--machines", "Polisher"]) == 0
        )
    error = capsys.readouterr().err
    assert "warning: cannot get the evaluation labels list of DCASE2025T2" in error
    assert "python -m datasets.eval_labels DCASE2025T2" in error
    machine_dir = tmp_path / "dcase2025t2/eval_data/raw/Polisher"
    assert (machine_dir / "test/section_00_0000.wav").is_file() and not (machine_dir / "test_rename").exists()
