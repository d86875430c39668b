"""datasets.download against a fake Zenodo (http.server on 127.0.0.1) serving tiny generated archives."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from datasets import download, eval_labels, http_fetch, safe_unzip
from datasets.download import RetryPolicy, Settings, archives_for, download_part, ensure_machine_data
from errors import DataError
from tests.datasets.test_eval_labels import StaticServer

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST_RETRY = RetryPolicy(attempts=4, first_delay_s=0.01, max_delay_s=0.05, timeout_s=10)
DEV_RECORD, ADD_RECORD, EVAL_RECORD = "10902294", "11259435", "11363076"


# ---------------------------------------------------------------------------------------------------------
# Fixtures: archives and the fake server


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def machine_members(machine: str, folders: tuple[str, ...], salt: str = "") -> dict[str, bytes]:
    """A few fake clips per folder plus the attributes file, all with distinct (incompressible) content."""
    members = {f"{machine}/attributes_00.csv": f"file_name,d1p,d1v\n{machine}{salt}\n".encode()}
    for folder in folders:
        for index in range(3):
            name = f"{machine}/{folder}/section_00_source_{folder}_normal_{index:04d}.wav"
            members[name] = os.urandom(20_000)
    return members


class FakeZenodo:
    """Serves ``/api/records/<id>`` and ``/records/<id>/files/<name>``, misbehaving on request."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.honour_range = True
        self.drop_first_download = False
        self.wrong_checksum = False
        self.metadata_status = 200
        self.gate = threading.Event()  # the archive body is sent only once this is set
        self.gate.set()
        self.requests: list[tuple[str, str | None, int]] = []  # path, Range header, status
        self._dropped = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, record: str, name: str, data: bytes) -> None:
        self.files[(record, name)] = data

    def file_requests(self, name: str) -> list[tuple[str | None, int]]:
        return [(ranged, status) for path, ranged, status in self.requests if path.endswith("/" + name)]

    def settings(self, **changes: object) -> Settings:
        return Settings(**{"base_url": self.url, "retry": FAST_RETRY, **changes})

    def __enter__(self) -> FakeZenodo:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        fake: FakeZenodo = self.server.fake
        parts = [unquote(part) for part in self.path.split("?")[0].strip("/").split("/")]
        if len(parts) == 3 and parts[:2] == ["api", "records"]:
            self._record(fake, parts[2])
        elif len(parts) == 4 and parts[::2] == ["records", "files"] and (parts[1], parts[3]) in fake.files:
            self._file(fake, fake.files[(parts[1], parts[3])])
        else:
            self._send(fake, 404, b"not found")

    def _send(self, fake: FakeZenodo, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        fake.requests.append((self.path, self.headers.get("Range"), status))
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _record(self, fake: FakeZenodo, record: str) -> None:
        if fake.metadata_status != 200:
            self._send(fake, fake.metadata_status, b"unavailable")
            return
        spoil = b"x" if fake.wrong_checksum else b""
        entries = [
            {"key": name, "size": len(data), "checksum": "md5:" + hashlib.md5(data + spoil).hexdigest()}
            for (owner, name), data in fake.files.items()
            if owner == record
        ]
        self._send(
            fake, 200, json.dumps({"id": int(record), "files": entries}).encode(), {"Content-Type": "application/json"}
        )

    def _file(self, fake: FakeZenodo, data: bytes) -> None:
        fake.gate.wait(timeout=20)
        requested = self.headers.get("Range")
        start = int(requested.removeprefix("bytes=").split("-")[0]) if requested and fake.honour_range else 0
        if start >= len(data) and start:
            self._send(fake, 416, b"")
            return
        if fake.drop_first_download and not fake._dropped:
            fake._dropped = True
            fake.requests.append((self.path, requested, 200))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if start:
            content_range = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self._send(fake, 206, data[start:], {"Content-Range": content_range})
        else:
            self._send(fake, 200, data)


@pytest.fixture
def fake() -> Iterator[FakeZenodo]:
    with FakeZenodo() as server:
        yield server


@pytest.fixture(autouse=True)
def no_labels_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[StaticServer]:
    """The evaluation labels lists come from a local server that has none (HTTP 404), never from GitHub."""
    with StaticServer({}) as server:
        monkeypatch.setenv(eval_labels.LABELS_BASE_URL_ENV, server.url)
        yield server


def assert_tree(machine_dir: Path, members: dict[str, bytes]) -> None:
    for name, data in members.items():
        assert (machine_dir.parent / name).read_bytes() == data, name


def leftovers(data_dir: Path) -> list[Path]:
    """Temporary unpack folders or partial downloads that should never survive a run."""
    return [*data_dir.glob("raw/.unpack-*"), *data_dir.glob("archives/*.part")]


# ---------------------------------------------------------------------------------------------------------
# Happy path


def test_dev_and_eval_archives_land_in_the_right_tree_and_merge(fake: FakeZenodo, tmp_path: Path) -> None:
    dev = machine_members("fan", ("train", "test"))
    train = machine_members("3DPrinter", ("train",))
    test = machine_members("3DPrinter", ("test",), salt="-test")
    fake.add(DEV_RECORD, "dev_fan.zip", make_zip(dev))
    fake.add(ADD_RECORD, "eval_data_3DPrinter_train_r2.zip", make_zip(train))
    fake.add(EVAL_RECORD, "eval_data_3DPrinter_test.zip", make_zip(test))

    assert download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings()) == {"fan": "downloaded"}
    ensure_machine_data(tmp_path, "DCASE2024T2", "3DPrinter", "eval", settings=fake.settings())

    dev_dir = tmp_path / "dcase2024t2" / "dev_data"
    eval_dir = tmp_path / "dcase2024t2" / "eval_data"
    assert_tree(dev_dir / "raw" / "fan", dev)
    # the two archives of one machine merge; the attributes file already present (from train) is kept
    assert_tree(eval_dir / "raw" / "3DPrinter", {**test, **train})
    assert sorted(path.name for path in (eval_dir / "raw" / "3DPrinter").iterdir()) == [
        "attributes_00.csv",
        "test",
        "train",
    ]
    assert (dev_dir / "archives" / "dev_fan.zip").read_bytes() == fake.files[(DEV_RECORD, "dev_fan.zip")]
    assert leftovers(dev_dir) == leftovers(eval_dir) == []

    # present data: no request at all
    count = len(fake.requests)
    ensure_machine_data(tmp_path, "DCASE2024T2", "fan", "dev", settings=fake.settings())
    assert download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings()) == {"fan": "present"}
    assert len(fake.requests) == count

    # unpacked data gone, verified archive still on disk: unpacked again without downloading it again
    for path in sorted((dev_dir / "raw" / "fan").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    assert download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings()) == {"fan": "reused"}
    assert len(fake.file_requests("dev_fan.zip")) == 1
    assert_tree(dev_dir / "raw" / "fan", dev)


# ---------------------------------------------------------------------------------------------------------
# Checksums, resuming


def test_checksum_mismatch_deletes_the_archive_and_unpacks_nothing(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.add(DEV_RECORD, "dev_fan.zip", make_zip(machine_members("fan", ("train", "test"))))
    fake.wrong_checksum = True
    with pytest.raises(DataError, match=r"checksum mismatch for http://.*dev_fan\.zip.*deleted"):
        download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())
    dev_dir = tmp_path / "dcase2024t2" / "dev_data"
    assert not (dev_dir / "raw" / "fan").exists()
    assert sorted(path.name for path in (dev_dir / "archives").iterdir()) == ["fan.lock"]


def test_interrupted_download_resumes_with_range(fake: FakeZenodo, tmp_path: Path) -> None:
    data = make_zip(machine_members("fan", ("train", "test")))
    fake.add(DEV_RECORD, "dev_fan.zip", data)
    fake.drop_first_download = True
    download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())
    assert fake.file_requests("dev_fan.zip") == [(None, 200), (f"bytes={len(data) // 2}-", 206)]
    assert (tmp_path / "dcase2024t2/dev_data/archives/dev_fan.zip").read_bytes() == data
    assert (tmp_path / "dcase2024t2/dev_data/raw/fan/train").is_dir()


def test_a_failed_run_keeps_the_partial_file_and_the_next_run_resumes(fake: FakeZenodo, tmp_path: Path) -> None:
    data = make_zip(machine_members("fan", ("train", "test")))
    fake.add(DEV_RECORD, "dev_fan.zip", data)
    fake.drop_first_download = True
    one_attempt = fake.settings(retry=RetryPolicy(attempts=1, timeout_s=10))
    with pytest.raises(DataError, match=r"gave up after 1 attempts.*resume from the partial file .*dev_fan\.zip\.part"):
        download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], one_attempt)
    partial = tmp_path / "dcase2024t2/dev_data/archives/dev_fan.zip.part"
    assert partial.read_bytes() == data[: len(data) // 2]
    assert not (tmp_path / "dcase2024t2/dev_data/raw/fan").exists()
    download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], one_attempt)
    assert fake.file_requests("dev_fan.zip")[-1] == (f"bytes={len(data) // 2}-", 206)
    assert not partial.exists()


def test_server_ignoring_range_restarts_from_zero(fake: FakeZenodo, tmp_path: Path) -> None:
    data = make_zip(machine_members("fan", ("train", "test")))
    fake.add(DEV_RECORD, "dev_fan.zip", data)
    fake.honour_range = False
    partial = tmp_path / "dcase2024t2/dev_data/archives/dev_fan.zip.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"stale bytes that must not survive")
    download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())
    assert fake.file_requests("dev_fan.zip") == [("bytes=33-", 200)]
    assert (tmp_path / "dcase2024t2/dev_data/archives/dev_fan.zip").read_bytes() == data


def test_stale_partial_of_another_file_is_redownloaded_once(fake: FakeZenodo, tmp_path: Path) -> None:
    data = make_zip(machine_members("fan", ("train", "test")))
    fake.add(DEV_RECORD, "dev_fan.zip", data)
    partial = tmp_path / "dcase2024t2/dev_data/archives/dev_fan.zip.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\0" * 100)  # server honours Range: the resumed file fails its checksum
    download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())
    assert fake.file_requests("dev_fan.zip") == [("bytes=100-", 206), (None, 200)]
    assert (tmp_path / "dcase2024t2/dev_data/archives/dev_fan.zip").read_bytes() == data


# ---------------------------------------------------------------------------------------------------------
# Unsafe and corrupt archives


def _symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fan/train/a.wav", b"ok")
        link = zipfile.ZipInfo("fan/link")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_zip_slip_members_are_refused(fake: FakeZenodo, tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside_evil"
    if kind == "symlink":
        data, member = _symlink_zip(), "fan/link"
    else:
        member = "fan/../../../../outside_evil" if kind == "dotdot" else str(outside)
        data = make_zip({"fan/train/a.wav": b"ok", member: b"evil"})
    fake.add(DEV_RECORD, "dev_fan.zip", data)
    with pytest.raises(DataError, match=rf"refusing to unpack .*dev_fan\.zip: member '{member}'"):
        download_part(tmp_path / "root", "DCASE2024T2", "dev", ["fan"], fake.settings())
    written = sorted(
        str(path.relative_to(tmp_path / "root/dcase2024t2/dev_data"))
        for path in tmp_path.rglob("*")
        if "dev_data/" in str(path)
    )
    assert written == ["archives", "archives/dev_fan.zip", "archives/fan.lock", "raw"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["root"]


def test_unsafe_member_reason() -> None:
    def reason(name: str, mode: int = 0o644) -> str | None:
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        return safe_unzip.unsafe_member_reason(info)

    assert reason("fan/train/x.wav") is None
    assert reason("fan/x..y.wav") is None
    assert reason("../x") == reason("fan\\..\\..\\x") == "contains '..'"
    assert reason("/etc/passwd") == reason("C:/x") == "has an absolute path"
    assert reason("fan/l", stat.S_IFLNK | 0o777) == "is a symbolic link"


def test_corrupt_zip_is_deleted_with_a_clear_error(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.add(DEV_RECORD, "dev_fan.zip", b"PK\x03\x04 this is not really a zip file" * 10)
    with pytest.raises(DataError, match=r"archive .*dev_fan\.zip is corrupt .*deleted: run again"):
        download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())
    assert not (tmp_path / "dcase2024t2/dev_data/archives/dev_fan.zip").exists()


# ---------------------------------------------------------------------------------------------------------
# Errors a user can fix


def test_unknown_names_list_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match="unknown dataset 'DCASE2099T2'; valid datasets: DCASE2026T2, DCASE2025T2, DCASE2024T2, DCASE2023T2",
    ):
        archives_for(tmp_path, "DCASE2099T2", "dev")
    with pytest.raises(DataError, match="unknown part 'test' of DCASE2024T2; valid parts: dev, add, eval"):
        archives_for(tmp_path, "DCASE2024T2", "test")
    with pytest.raises(
        DataError,
        match="unknown machine type 'fann' for DCASE2024T2 dev; valid machine "
        "types: bearing, fan, gearbox, slider, ToyCar, ToyTrain, valve",
    ):
        archives_for(tmp_path, "DCASE2024T2", "dev", ["fan", "fann"])
    with pytest.raises(DataError, match="unknown split 'train'; valid splits: dev, eval"):
        ensure_machine_data(tmp_path, "DCASE2024T2", "fan", "train")


def test_archive_names_and_urls_match_zenodo(tmp_path: Path) -> None:
    base = "https://zenodo.org"
    urls = {
        part: [archive.url(base) for archive in archives_for(tmp_path, family, part)]
        for family, part in [("DCASE2024T2", "dev"), ("DCASE2024T2", "add"), ("DCASE2023T2", "eval")]
    }
    assert urls["dev"][0] == "https://zenodo.org/records/10902294/files/dev_bearing.zip"
    assert "https://zenodo.org/records/11259435/files/eval_data_3DPrinter_train_r2.zip" in urls["add"]
    assert "https://zenodo.org/records/11259435/files/eval_data_Scanner_train.zip" in urls["add"]
    assert "https://zenodo.org/records/7860847/files/eval_data_ToyDrone_test.zip" in urls["eval"]
    assert len(urls["dev"]) == 7 and len(urls["add"]) == 9 and len(urls["eval"]) == 7
    [archive] = archives_for(tmp_path, "DCASE2023T2", "add", ["Vacuum"])
    assert archive.machine_dir == tmp_path / "dcase2023t2/eval_data/raw/Vacuum"


def test_parse_record_files_reads_both_zenodo_layouts() -> None:
    listed = {"files": [{"key": "a.zip", "size": 3, "checksum": "md5:ABC"}]}
    entries = {"files": {"entries": {"a.zip": {"key": "a.zip", "size": 3, "checksum": "md5:abc"}}}}
    expected = {"a.zip": http_fetch.RemoteFile(3, "abc")}
    assert http_fetch.parse_record_files(listed) == http_fetch.parse_record_files(entries) == expected


def test_missing_metadata_stops_unless_no_verify(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.add(DEV_RECORD, "dev_fan.zip", make_zip(machine_members("fan", ("train", "test"))))
    fake.metadata_status = 404
    with pytest.raises(
        DataError,
        match=r"cannot read the checksums of Zenodo record 10902294 from http://"
        r"127\.0\.0\.1:\d+/api/records/10902294 .*HTTP 404.*--no-verify",
    ):
        download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())
    assert download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings(verify=False)) == {"fan": "downloaded"}


def test_http_error_names_the_url_and_status(fake: FakeZenodo, tmp_path: Path) -> None:
    fake.add(DEV_RECORD, "dev_gearbox.zip", b"")  # in the record, but the file URL of dev_fan.zip is a 404
    with pytest.raises(
        DataError,
        match=r"download failed: http://127\.0\.0\.1:\d+/records/10902294/files/"
        r"dev_fan\.zip answered HTTP 404",
    ):
        download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings(verify=False))


def test_not_enough_disk_space_is_reported_before_downloading(
    fake: FakeZenodo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add(DEV_RECORD, "dev_fan.zip", make_zip(machine_members("fan", ("train",))))
    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: SimpleNamespace(total=100, used=90, free=10))
    with pytest.raises(DataError, match=r"not enough disk space in .*archives for downloading dev_fan\.zip"):
        download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())
    assert fake.file_requests("dev_fan.zip") == []


def test_disk_full_while_writing_becomes_a_data_error(
    fake: FakeZenodo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add(DEV_RECORD, "dev_fan.zip", make_zip(machine_members("fan", ("train",))))

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", "dev_fan.zip.part")

    monkeypatch.setattr(download, "download_file", full_disk)
    with pytest.raises(DataError, match=r"disk is full while writing dev_fan\.zip\.part .*free some space"):
        download_part(tmp_path, "DCASE2024T2", "dev", ["fan"], fake.settings())


# ---------------------------------------------------------------------------------------------------------
# Two processes at once


def _ensure_in_process(dataset_directory: str, base_url: str) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ensure_machine_data(
            Path(dataset_directory), "DCASE2024T2", "fan", "dev", settings=Settings(base_url=base_url, retry=FAST_RETRY)
        )
    return printed.getvalue()


def _wait_for(condition: object, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _someone_waits_for(lock_path: Path) -> bool:
    inode = f":{lock_path.stat().st_ino} "
    return any("->" in line and inode in line for line in Path("/proc/locks").read_text().splitlines())


def test_two_processes_download_once(fake: FakeZenodo, tmp_path: Path) -> None:
    members = machine_members("fan", ("train", "test"))
    fake.add(DEV_RECORD, "dev_fan.zip", make_zip(members))
    fake.gate.clear()  # hold the first download until the second process waits on the lock
    lock_path = tmp_path / "dcase2024t2/dev_data/archives/fan.lock"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        first = pool.apply_async(_ensure_in_process, (str(tmp_path), fake.url))
        _wait_for(lambda: lock_path.exists() and _someone_holds(lock_path), "the first process to take the lock")
        second = pool.apply_async(_ensure_in_process, (str(tmp_path), fake.url))
        _wait_for(lambda: _someone_waits_for(lock_path), "the second process to wait on the lock")
        fake.gate.set()
        outputs = [first.get(timeout=30), second.get(timeout=30)]
    assert "dev_fan.zip: downloaded" in outputs[0]
    assert "waiting for another process" in outputs[1] and "dev_fan.zip: present" in outputs[1]
    assert len(fake.file_requests("dev_fan.zip")) == 1
    assert_tree(tmp_path / "dcase2024t2/dev_data/raw/fan", members)


def _someone_holds(lock_path: Path) -> bool:
    inode = f":{lock_path.stat().st_ino} "
    return any("->" not in line and inode in line for line in Path("/proc/locks").read_text().splitlines())


# ---------------------------------------------------------------------------------------------------------
# Shell wrappers


def _run_wrapper(script: str, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO_ROOT / script), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_wrapper_script_end_to_end(fake: FakeZenodo, tmp_path: Path) -> None:
    train = machine_members("ToyDrone", ("train",))
    test = machine_members("ToyDrone", ("test",))
    fake.add("7830345", "eval_data_ToyDrone_train.zip", make_zip(train))
    fake.add("7860847", "eval_data_ToyDrone_test.zip", make_zip(test))
    anonymous = sorted(name.split("/")[-1] for name in test if name.endswith(".wav"))
    labelled = [f"section_00_target_test_anomaly_{index:04d}_a_1.wav" for index in range(len(anonymous))]
    listing = "ToyDrone\n" + "".join(f"{a},{b}\n" for a, b in zip(anonymous, labelled, strict=True))
    with StaticServer({"/eval_data_list_2023.csv": listing.encode()}) as labels:
        env = {
            **os.environ,
            "PYTHON": sys.executable,
            "DCASE_DOWNLOAD_BASE_URL": fake.url + "/",
            eval_labels.LABELS_BASE_URL_ENV: labels.url,
        }
        for script in ("data_download_2023add.sh", "data_download_2023eval.sh"):
            # run from another folder: the default ./data is relative to where the user stands
            result = _run_wrapper(script, "--machines", "ToyDrone", env=env, cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            assert any("1 archive(s): 1 downloaded" in line for line in result.stdout.splitlines())
        assert labels.requests == ["/eval_data_list_2023.csv"]  # after the eval part only
    machine_dir = tmp_path / "data/dcase2023t2/eval_data/raw/ToyDrone"
    assert_tree(machine_dir, {**test, **train})
    # DCASE2023 evaluation test clips get their labelled names, as in the public baseline from v3.3.0 on
    for anonymous_name, labelled_name in zip(anonymous, labelled, strict=True):
        assert (machine_dir / "test_rename" / labelled_name).read_bytes() == (
            machine_dir / "test" / anonymous_name
        ).read_bytes()


@pytest.mark.parametrize("args", [["--bogus"], ["--machines", "fann"]])
def test_wrapper_rejects_bad_arguments_with_usage(tmp_path: Path, args: list[str]) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHON"}
    env["DCASE_DOWNLOAD_BASE_URL"] = "http://127.0.0.1:9"  # never contacted
    result = _run_wrapper(
        "data_download_2024dev.sh", *args, "--dataset_directory", str(tmp_path), env=env, cwd=tmp_path
    )
    assert result.returncode != 0
    if args == ["--bogus"]:
        assert "usage: python -m datasets.download" in result.stderr
    else:
        assert "error: unknown machine type 'fann' for DCASE2024T2 dev; valid machine types: bearing" in result.stderr
