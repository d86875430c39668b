"""datasets.download for DCASE2020-2022: the published archives, 2021's test merge, the eval labels step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datasets import download, eval_labels
from datasets.download import archives_for, download_part, ensure_machine_data
from tests.datasets.test_download import FakeZenodo, make_zip
from tests.datasets.test_eval_labels import StaticServer

# the public baseline's datasets/download_path_legacy.yaml, for one machine type per year
PUBLISHED = {
    ("DCASE2020T2", "dev"): ["https://zenodo.org/record/3678171/files/dev_data_ToyConveyor.zip"],
    ("DCASE2020T2", "eval"): [
        "https://zenodo.org/record/3727685/files/eval_data_train_ToyConveyor.zip",
        "https://zenodo.org/record/3841772/files/eval_data_test_ToyConveyor.zip",
    ],
    ("DCASE2021T2", "dev"): ["https://zenodo.org/record/4562016/files/dev_data_pump.zip"],
    ("DCASE2021T2", "eval"): [
        "https://zenodo.org/record/4660992/files/eval_data_pump_train.zip",
        "https://zenodo.org/record/4884786/files/eval_data_pump_test.zip",
    ],
    ("DCASE2022T2", "dev"): ["https://zenodo.org/record/6355122/files/dev_bearing.zip"],
    ("DCASE2022T2", "eval"): [
        "https://zenodo.org/record/6462969/files/eval_data_bearing_train.zip",
        "https://zenodo.org/record/6586456/files/eval_data_bearing_test.zip",
    ],
}
MACHINE = {"DCASE2020T2": "ToyConveyor", "DCASE2021T2": "pump", "DCASE2022T2": "bearing"}


@pytest.fixture
def fake() -> Iterator[FakeZenodo]:
    with FakeZenodo() as server:
        yield server


@pytest.mark.parametrize(("family", "split"), list(PUBLISHED))
def test_archives_are_the_published_ones(family: str, split: str, tmp_path: Path) -> None:
    machine = MACHINE[family]
    parts = ("dev",) if split == "dev" else ("add", "eval")
    archives = [archive for part in parts for archive in archives_for(tmp_path, family, part, [machine])]
    # Zenodo serves /record/<id>/files/<name> and /records/<id>/files/<name> alike
    assert [archive.url("https://zenodo.org").replace("/records/", "/record/") for archive in archives] == PUBLISHED[
        (family, split)
    ]
    assert {archive.machine_dir for archive in archives} == {
        tmp_path / family.lower() / f"{split}_data" / "raw" / machine
    }


def clip_members(machine: str, folder: str, names: list[str]) -> dict[str, bytes]:
    return {f"{machine}/{folder}/{name}": f"{folder}/{name}".encode() for name in names}


def test_2021_split_test_folders_are_merged_after_unpacking(fake: FakeZenodo, tmp_path: Path) -> None:
    members = {
        **clip_members("pump", "train", ["section_00_source_train_normal_0000.wav"]),
        **clip_members("pump", "source_test", ["section_00_source_test_normal_0000.wav"]),
        **clip_members("pump", "target_test", ["section_00_target_test_anomaly_0000.wav"]),
    }
    fake.add("4562016", "dev_data_pump.zip", make_zip(members))
    assert download_part(tmp_path, "DCASE2021T2", "dev", ["pump"], fake.settings()) == {"pump": "downloaded"}
    machine_dir = tmp_path / "dcase2021t2" / "dev_data" / "raw" / "pump"
    assert sorted(path.name for path in (machine_dir / "test").iterdir()) == [
        "section_00_source_test_normal_0000.wav",
        "section_00_target_test_anomaly_0000.wav",
    ]
    assert (
        machine_dir / "test" / "section_00_target_test_anomaly_0000.wav"
    ).read_bytes() == b"target_test/section_00_target_test_anomaly_0000.wav"


def auto_download_with_labels(
    fake: FakeZenodo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    family: str,
    machine: str,
    listing: str,
    times: int = 1,
) -> None:
    """``--is_auto_download`` of an eval machine type ``times`` times, the labels list served locally: the
    list is fetched once."""
    name = f"/eval_data_list_{family[5:9]}.csv"
    with StaticServer({name: listing.encode()}) as labels:
        monkeypatch.setenv(eval_labels.LABELS_BASE_URL_ENV, labels.url)
        for _ in range(times):
            ensure_machine_data(tmp_path, family, machine, "eval", settings=fake.settings())
        assert labels.requests == [name]


def test_auto_download_of_a_legacy_eval_set_labels_it(
    fake: FakeZenodo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add(
        "3727685",
        "eval_data_train_ToyConveyor.zip",
        make_zip(clip_members("ToyConveyor", "train", ["normal_id_04_00000000.wav"])),
    )
    fake.add(
        "3841772",
        "eval_data_test_ToyConveyor.zip",
        make_zip(clip_members("ToyConveyor", "test", ["id_04_00000000.wav", "id_04_00000001.wav"])),
    )
    listing = (
        "ToyConveyor\nid_04_00000000.wav,anomaly_id_04_00000007.wav,1\nid_04_00000001.wav,normal_id_04_00000003.wav,0\n"
    )
    auto_download_with_labels(fake, tmp_path, monkeypatch, "DCASE2020T2", "ToyConveyor", listing, times=2)
    renamed = tmp_path / "dcase2020t2" / "eval_data" / "raw" / "ToyConveyor" / "test_rename"
    assert (renamed / "anomaly_id_04_00000007.wav").read_bytes() == b"test/id_04_00000000.wav"
    assert (renamed / "normal_id_04_00000003.wav").read_bytes() == b"test/id_04_00000001.wav"


def test_command_line_eval_part_labels_unless_told_not_to(
    fake: FakeZenodo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add(
        "6586456", "eval_data_bearing_test.zip", make_zip(clip_members("bearing", "test", ["section_03_0000.wav"]))
    )
    monkeypatch.setattr(download, "base_url_from_environment", lambda: fake.url)
    listing = "bearing\nsection_03_0000.wav,section_03_source_test_normal_0000_vel_21.wav\n"
    with StaticServer({"/eval_data_list_2022.csv": listing.encode()}) as labels:
        monkeypatch.setenv(eval_labels.LABELS_BASE_URL_ENV, labels.url)
        common = ["--dataset_directory", str(tmp_path), "--machines", "bearing"]
        assert download.main(["DCASE2022T2", "eval", *common, "--no_eval_labels"]) == 0
        machine_dir = tmp_path / "dcase2022t2" / "eval_data" / "raw" / "bearing"
        assert not (machine_dir / "test_rename").exists() and labels.requests == []
        assert download.main(["DCASE2022T2", "eval", *common]) == 0
    assert [path.name for path in (machine_dir / "test_rename").iterdir()] == [
        "section_03_source_test_normal_0000_vel_21.wav"
    ]
