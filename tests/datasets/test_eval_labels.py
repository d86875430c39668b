"""datasets.eval_labels: the published list format, test_rename built atomically, the list fetched over HTTP."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from datasets import eval_labels
from datasets.download import RetryPolicy
from datasets.eval_labels import (
    LabelEntry,
    build_renamed_folder,
    cached_list_path,
    fetch_label_list,
    label_eval_set,
    parse_label_list,
)
from errors import DataError

FAST_RETRY = RetryPolicy(attempts=2, first_delay_s=0.01, max_delay_s=0.02, timeout_s=5)

LIST_2020 = """fan
id_01_00000000.wav,normal_id_01_00000098.wav,0
id_01_00000001.wav,anomaly_id_01_00000064.wav,1
pump
id_01_00000000.wav,anomaly_id_01_00000002.wav,1
"""
LIST_2021 = """fan
section_03_source_test_0000.wav,section_03_source_test_anomaly_0000.wav
section_03_target_test_0000.wav,section_03_target_test_normal_0000.wav
"""
LIST_2022 = """bearing
section_03_0000.wav,section_03_source_test_normal_0000_vel_21.wav
section_03_0001.wav,section_03_target_test_anomaly_0001_vel_25.wav
"""


class StaticServer:
    """Serves fixed bytes by path on 127.0.0.1 and counts the requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _StaticHandler)
        self._server.static = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StaticServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _StaticHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        static: StaticServer = self.server.static
        static.requests.append(self.path)
        body = static.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"not found"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def label_server() -> Iterator[StaticServer]:
    with StaticServer({"/lists/eval_data_list_2021.csv": LIST_2021.encode()}) as server:
        yield server


# ---------------------------------------------------------------------------------------------------------
# The list format


@pytest.mark.parametrize(
    ("text", "machine", "expected"),
    [
        (
            LIST_2020,
            "fan",
            [("id_01_00000000.wav", "normal_id_01_00000098.wav"), ("id_01_00000001.wav", "anomaly_id_01_00000064.wav")],
        ),
        (
            LIST_2021,
            "fan",
            [
                ("section_03_source_test_0000.wav", "section_03_source_test_anomaly_0000.wav"),
                ("section_03_target_test_0000.wav", "section_03_target_test_normal_0000.wav"),
            ],
        ),
        (
            LIST_2022,
            "bearing",
            [
                ("section_03_0000.wav", "section_03_source_test_normal_0000_vel_21.wav"),
                ("section_03_0001.wav", "section_03_target_test_anomaly_0001_vel_25.wav"),
            ],
        ),
    ],
)
def test_every_published_format_parses(text: str, machine: str, expected: list[tuple[str, str]]) -> None:
    entries = parse_label_list(text)
    assert [(entry.anonymous, entry.labelled) for entry in entries[machine]] == expected


def test_machine_types_keep_their_own_clips() -> None:
    entries = parse_label_list(LIST_2020)
    assert list(entries) == ["fan", "pump"]
    assert entries["pump"] == [LabelEntry("id_01_00000000.wav", "anomaly_id_01_00000002.wav")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id_01_00000000.wav,normal_id_01_00000098.wav,0\n", "before any machine type"),
        ("fan\nid_01_0.wav,../../etc/normal_x.wav\n", "not a plain WAV file name"),
        ("fan\nid_01_0.wav,.hidden_normal_.wav\n", "not a plain WAV file name"),
        ("fan\nid_01_0.wav,normal_id_01_0.txt\n", "not a plain WAV file name"),
        ("fan\nid_01_0.wav,id_01_0001.wav\n", "neither normal nor anomaly"),
        ("fan\nid_01_0.wav,normal_id_01_0.wav,1\n", "contradicts"),
        ("fan\nid_01_0.wav,normal_id_01_0.wav\nid_01_0.wav,normal_id_01_1.wav\n", "twice"),
        ("fan\nid_01_0.wav,normal_id_01_0.wav\nid_01_1.wav,normal_id_01_0.wav\n", "twice"),
        ("fan\nfan\n", "appears twice"),
        ("fan\npump\nid_01_0.wav,normal_id_01_0.wav\n", "'fan' has no clip lines"),
        ("", "no machine type"),
    ],
)
def test_a_malformed_list_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_label_list(text, "list.csv")


# ---------------------------------------------------------------------------------------------------------
# test_rename


def _machine_with_test_clips(root: Path, names: list[str]) -> Path:
    machine_dir = root / "fan"
    (machine_dir / "test").mkdir(parents=True)
    for index, name in enumerate(names):
        (machine_dir / "test" / name).write_bytes(f"clip {index}".encode())
    return machine_dir


def test_renamed_folder_holds_each_clip_under_its_labelled_name(tmp_path: Path) -> None:
    machine_dir = _machine_with_test_clips(tmp_path, ["id_01_00000000.wav", "id_01_00000001.wav"])
    entries = parse_label_list(LIST_2020)["fan"]
    result = build_renamed_folder(machine_dir, entries)
    renamed = machine_dir / "test_rename"
    assert result.outcome == "renamed" and result.n_clips == 2 and not result.unlisted and not result.absent
    assert sorted(path.name for path in renamed.iterdir()) == [
        "anomaly_id_01_00000064.wav",
        "normal_id_01_00000098.wav",
    ]
    assert (renamed / "normal_id_01_00000098.wav").read_bytes() == b"clip 0"
    assert (renamed / "anomaly_id_01_00000064.wav").read_bytes() == b"clip 1"
    assert sorted(path.name for path in (machine_dir / "test").iterdir()) == [
        "id_01_00000000.wav",
        "id_01_00000001.wav",
    ]
    assert [path.name for path in machine_dir.iterdir() if path.name.startswith(".")] == []  # no staging left


def test_existing_folder_is_kept_unless_overwrite(tmp_path: Path) -> None:
    machine_dir = _machine_with_test_clips(tmp_path, ["id_01_00000000.wav", "id_01_00000001.wav"])
    (machine_dir / "test_rename").mkdir()
    (machine_dir / "test_rename" / "stale_normal_.wav").write_bytes(b"old")
    entries = parse_label_list(LIST_2020)["fan"]
    assert build_renamed_folder(machine_dir, entries).outcome == "present"
    assert [path.name for path in (machine_dir / "test_rename").iterdir()] == ["stale_normal_.wav"]
    assert build_renamed_folder(machine_dir, entries, overwrite=True).outcome == "renamed"
    assert sorted(path.name for path in (machine_dir / "test_rename").iterdir()) == [
        "anomaly_id_01_00000064.wav",
        "normal_id_01_00000098.wav",
    ]
    assert [path.name for path in machine_dir.iterdir() if path.name.startswith(".")] == []


def test_partial_matches_are_reported_and_no_match_is_an_error(tmp_path: Path) -> None:
    machine_dir = _machine_with_test_clips(tmp_path, ["id_01_00000000.wav", "id_01_00000099.wav"])
    result = build_renamed_folder(machine_dir, parse_label_list(LIST_2020)["fan"])
    assert result.n_clips == 1
    assert result.unlisted == ["id_01_00000099.wav"] and result.absent == ["id_01_00000001.wav"]

    other = _machine_with_test_clips(tmp_path / "other", ["section_00_0000.wav"])
    with pytest.raises(DataError, match="names none of the 1 clips"):
        build_renamed_folder(other, parse_label_list(LIST_2020)["fan"])
    assert not (other / "test_rename").exists()


def test_2021_split_test_folders_are_merged_before_renaming(tmp_path: Path) -> None:
    machine_dir = tmp_path / "fan"
    for domain in ("source", "target"):
        (machine_dir / f"{domain}_test").mkdir(parents=True)
        (machine_dir / f"{domain}_test" / f"section_03_{domain}_test_0000.wav").write_bytes(domain.encode())
    build_renamed_folder(machine_dir, parse_label_list(LIST_2021)["fan"])
    assert (machine_dir / "test_rename" / "section_03_source_test_anomaly_0000.wav").read_bytes() == b"source"
    assert (machine_dir / "test_rename" / "section_03_target_test_normal_0000.wav").read_bytes() == b"target"
    assert sorted(path.name for path in (machine_dir / "test").iterdir()) == [
        "section_03_source_test_0000.wav",
        "section_03_target_test_0000.wav",
    ]


# ---------------------------------------------------------------------------------------------------------
# Fetching the list


def _eval_tree_2021(root: Path) -> Path:
    machine_dir = root / "dcase2021t2" / "eval_data" / "raw" / "fan"
    (machine_dir / "test").mkdir(parents=True)
    for name in ("section_03_source_test_0000.wav", "section_03_target_test_0000.wav"):
        (machine_dir / "test" / name).write_bytes(name.encode())
    return machine_dir


def test_list_is_fetched_once_cached_and_used(
    tmp_path: Path, label_server: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(eval_labels.LABELS_BASE_URL_ENV, label_server.url + "/lists/")
    machine_dir = _eval_tree_2021(tmp_path)
    assert eval_labels.main(["DCASE2021T2", "--dataset_directory", str(tmp_path), "--machines", "fan"]) == 0
    assert label_server.requests == ["/lists/eval_data_list_2021.csv"]
    cached = cached_list_path(tmp_path, "DCASE2021T2")
    assert cached == tmp_path / "dcase2021t2" / "eval_data" / "eval_data_list_2021.csv"
    assert cached.read_text() == LIST_2021
    assert sorted(path.name for path in (machine_dir / "test_rename").iterdir()) == [
        "section_03_source_test_anomaly_0000.wav",
        "section_03_target_test_normal_0000.wav",
    ]
    assert [path.name for path in cached.parent.iterdir() if path.name.startswith(".")] == []

    # a second machine folder later: the cached list serves it, no new request
    (machine_dir / "test_rename").rename(machine_dir / "old_rename")
    label_eval_set(tmp_path, "DCASE2021T2", ["fan"])
    assert len(label_server.requests) == 1 and (machine_dir / "test_rename").is_dir()


def test_all_labelled_already_needs_no_network(tmp_path: Path) -> None:
    machine_dir = _eval_tree_2021(tmp_path)
    (machine_dir / "test_rename").mkdir()
    results = label_eval_set(tmp_path, "DCASE2021T2", base_url="http://127.0.0.1:9")
    assert {machine: result.outcome for machine, result in results.items()} == {"fan": "present"}


def test_offline_is_a_clear_error_and_leaves_nothing(tmp_path: Path, label_server: StaticServer) -> None:
    _eval_tree_2021(tmp_path)
    closed = StaticServer({})
    url = closed.url
    closed._server.server_close()  # a port nobody listens on
    with pytest.raises(DataError, match="cannot get the evaluation labels list of DCASE2021T2") as raised:
        fetch_label_list(tmp_path, "DCASE2021T2", url, FAST_RETRY)
    assert "--list_file" in str(raised.value) and "DCASE_LABELS_BASE_URL" in str(raised.value)
    with pytest.raises(DataError, match="HTTP 404"):
        fetch_label_list(tmp_path, "DCASE2021T2", label_server.url + "/elsewhere", FAST_RETRY)
    assert os.listdir(tmp_path / "dcase2021t2" / "eval_data") == ["raw"]


def test_a_damaged_download_is_not_cached(tmp_path: Path) -> None:
    with (
        StaticServer({"/eval_data_list_2021.csv": b"<html>rate limited</html>\n"}) as server,
        pytest.raises(DataError, match="has no clip lines"),
    ):
        fetch_label_list(tmp_path, "DCASE2021T2", server.url, FAST_RETRY)
    assert not cached_list_path(tmp_path, "DCASE2021T2").exists()


def test_local_list_file_and_unknown_machines(tmp_path: Path) -> None:
    machine_dir = _eval_tree_2021(tmp_path)
    local = tmp_path / "mine.csv"
    local.write_text(LIST_2021)
    assert eval_labels.main(["DCASE2021T2", "--dataset_directory", str(tmp_path), "--list_file", str(local)]) == 0
    assert len(list((machine_dir / "test_rename").iterdir())) == 2
    with pytest.raises(DataError, match="unknown machine type 'bearing'"):
        label_eval_set(tmp_path, "DCASE2021T2", ["bearing"], list_file=local)
    with pytest.raises(DataError, match="no evaluation test data"):
        label_eval_set(tmp_path, "DCASE2021T2", ["pump"], list_file=local)
