"""HTTP downloads with retries, resumption and checksums, and what a Zenodo record says about its files.

Shared by ``datasets.download`` (the dataset archives) and ``datasets.eval_labels`` (the evaluation labels
lists), so that neither imports the other for its network code.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from errors import DataError
from progress import progress_bar

BASE_URL_ENV = "DCASE_DOWNLOAD_BASE_URL"
USER_AGENT = "dcase-t2-asd-downloader/1.0"
CHUNK_BYTES = 1 << 20
RETRYABLE_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a network request is retried."""

    attempts: int = 5
    first_delay_s: float = 2.0
    max_delay_s: float = 60.0
    timeout_s: float = 60.0

    def delay_s(self, failed_attempts: int) -> float:
        """Exponential backoff: first_delay_s, 2x, 4x, ... capped at max_delay_s."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** (failed_attempts - 1))


@dataclass(frozen=True)
class RemoteFile:
    """What a Zenodo record says about one of its files."""

    size: int | None
    md5: str | None


class _TransientError(Exception):
    """A download that stopped early or answered oddly; retrying is expected to help."""


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def _with_retries(action: Callable[[], T], url: str, retry: RetryPolicy, resume_hint: str = "") -> T:
    """Run ``action`` (one request to ``url``), retrying network failures with exponential backoff."""
    for attempt in range(1, retry.attempts + 1):
        try:
            return action()
        except urllib.error.HTTPError as error:
            error.close()
            if error.code not in RETRYABLE_HTTP_CODES:
                raise DataError(f"download failed: {url} answered HTTP {error.code} {error.reason}") from error
            last_error: BaseException = error
            retry_after = error.headers.get("Retry-After", "") if error.headers else ""
            delay = min(float(retry_after), retry.max_delay_s) if retry_after.isdigit() else None
        except (
            urllib.error.URLError,
            ConnectionError,
            TimeoutError,
            http.client.HTTPException,
            _TransientError,
        ) as error:
            last_error, delay = error, None
        if attempt < retry.attempts:
            delay = retry.delay_s(attempt) if delay is None else delay
            print(
                f"{url}: {_describe(last_error)}; retrying in {delay:.1f} s "
                f"(attempt {attempt + 1} of {retry.attempts})",
                flush=True,
            )
            time.sleep(delay)
    raise DataError(
        f"download failed: {url}: {_describe(last_error)} (gave up after {retry.attempts} "
        f"attempts); check the connection and run the same command again{resume_hint}"
    ) from last_error


def _open(url: str, retry: RetryPolicy, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return urllib.request.urlopen(request, timeout=retry.timeout_s)


def record_url(base_url: str, record: str) -> str:
    return f"{base_url}/api/records/{record}"


def parse_record_files(record_json: dict) -> dict[str, RemoteFile]:
    """File name -> size and md5 from Zenodo record metadata (``files`` as a list or as ``entries``)."""
    files = record_json.get("files", [])
    if isinstance(files, dict):
        files = files.get("entries", [])
    if isinstance(files, dict):
        files = list(files.values())
    remote_files = {}
    for entry in files:
        name = entry.get("key") or entry.get("filename")
        algorithm, _, digest = str(entry.get("checksum", "")).partition(":")
        md5 = digest.lower() if algorithm.lower() == "md5" and digest else None
        size = entry.get("size", entry.get("filesize"))
        if name:
            remote_files[name] = RemoteFile(int(size) if size is not None else None, md5)
    return remote_files


def fetch_record_files(base_url: str, record: str, retry: RetryPolicy) -> dict[str, RemoteFile]:
    """Read the checksums of a Zenodo record; a clear DataError (mentioning --no-verify) if that fails."""
    url = record_url(base_url, record)

    def read() -> dict[str, RemoteFile]:
        with _open(url, retry) as response:
            return parse_record_files(json.loads(response.read().decode("utf-8")))

    try:
        return _with_retries(read, url, retry)
    except (DataError, ValueError, AttributeError) as error:
        reason = _describe(error.__cause__) if isinstance(error, DataError) and error.__cause__ else error
        raise DataError(
            f"cannot read the checksums of Zenodo record {record} from {url} ({reason}); "
            f"check the connection (or ${BASE_URL_ENV}), or pass --no-verify to download "
            "without checking them (unsafe: a corrupt or tampered archive would go unnoticed)"
        ) from error


def _download_once(url: str, partial: Path, expected_size: int | None, retry: RetryPolicy) -> None:
    """One request: append to ``partial`` (Range) or write it from zero; _TransientError if cut short."""
    existing = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and existing > expected_size:
        partial.unlink()
        existing = 0
    if expected_size is not None and existing == expected_size:
        return
    try:
        response = _open(url, retry, {"Range": f"bytes={existing}-"} if existing else None)
    except urllib.error.HTTPError as error:
        if error.code == 416 and existing:  # nothing after byte `existing`: the file is (over)complete
            error.close()
            if expected_size is None:
                return
            partial.unlink()
            raise _TransientError(f"the server refused to resume at byte {existing}") from error
        raise
    with response:
        resumed = existing > 0 and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {existing}-"):
            partial.unlink()
            raise _TransientError(f"unexpected Content-Range {response.headers.get('Content-Range')!r}")
        if existing and not resumed:
            print(
                f"{partial.name}: the server cannot resume (HTTP {response.status}); downloading from the start",
                flush=True,
            )
            existing = 0
        length = response.headers.get("Content-Length")
        total = existing + int(length) if length is not None else expected_size
        with (
            partial.open("ab" if resumed else "wb") as output,
            progress_bar(
                total=total,
                initial=existing,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=partial.name.removesuffix(".part"),
            ) as progress,
        ):
            while chunk := response.read(CHUNK_BYTES):
                output.write(chunk)
                progress.update(len(chunk))
    received = partial.stat().st_size
    if total is not None and received < total:
        raise _TransientError(f"connection closed after {received} of {total} bytes")


def download_file(url: str, partial: Path, expected_size: int | None, retry: RetryPolicy) -> None:
    """Download ``url`` into ``partial``, resuming what is there; retries with backoff."""
    partial.parent.mkdir(parents=True, exist_ok=True)
    _with_retries(
        lambda: _download_once(url, partial, expected_size, retry),
        url,
        retry,
        f" to resume from the partial file {partial}",
    )


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def human_size(size: float) -> str:
    """``1.5 MiB``: a byte count for people."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
