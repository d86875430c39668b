"""Bad input, interruptions and concurrent runs (issue 6): one clear error and nothing lost.

In-process runs (``run_train``) check the messages and that earlier outputs survive a failed run. Real
processes (``python train.py``) are killed with SIGKILL or made to wait for each other at known moments:
the fault-injection hook ``safe_io.pause_point`` (environment variables ``ASD_TEST_PAUSE_AT`` and
``ASD_TEST_PAUSE_FLAG``) makes a run stop just before it renames a finished temporary file, creates the
flag file, and waits until the test deletes the flag (to resume) or kills the process.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import soundfile
import torch

from safe_io import PAUSE_AT_VARIABLE, PAUSE_FLAG_VARIABLE
from tests.conftest import REPO_ROOT, run_train

FAST = ["--epochs", "1", "--batch_size", "64", "--num_workers", "1"]
WAIT_S = 120.0  # upper bound of every wait for a process: a failing test ends, it never hangs
RUN = "DCASE2023T2-AE_DCASE2024T2{machine}_seed13711"


def copy_machines(tiny_data_dir: Path, destination: Path, *machines: str) -> Path:
    """A private copy of some dev machine types' raw clips (no feature cache) under ``destination``."""
    for machine in machines:
        shutil.copytree(
            tiny_data_dir / "dcase2024t2/dev_data/raw" / machine, destination / "dcase2024t2/dev_data/raw" / machine
        )
    return destination


def train_args(machine: str, data_dir: Path, *extra: str) -> list[str]:
    return ["--dataset", f"DCASE2024T2{machine}", "-d", "--dataset_directory", str(data_dir), *FAST, *extra]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


PROGRESS_BAR = re.compile(r"^[^|]*: +\d+%\|")


def single_error_line(stderr: str) -> str:
    """The run's only message: one line starting with "error: " (progress bars aside), no traceback."""
    lines = [line for line in re.split(r"[\r\n]", stderr) if line.strip() and not PROGRESS_BAR.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------------------
# Real processes


class TrainProcess:
    """``python train.py ARGS`` in ``cwd``, output in a log file, optionally pausing at ``pause_at``."""

    def __init__(self, cwd: Path, args: list[str], name: str, pause_at: str | None = None) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        self.log_path = cwd / f"{name}.log"
        self.flag = cwd / f"{name}.paused"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        if pause_at:
            env.update({PAUSE_AT_VARIABLE: pause_at, PAUSE_FLAG_VARIABLE: str(self.flag)})
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(REPO_ROOT / "train.py"), *args],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9, and reap it."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT_S)

    def resume(self) -> None:
        self.flag.unlink()

    def finish(self) -> int:
        try:
            return self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"train.py did not finish in {WAIT_S} s:\n{self.output[-3000:]}")


@pytest.fixture
def start() -> Iterator[Callable[..., TrainProcess]]:
    """Start train.py processes; any still running when the test ends is killed."""
    started: list[TrainProcess] = []

    def start_process(*args: object, **kwargs: object) -> TrainProcess:
        run = TrainProcess(*args, **kwargs)  # type: ignore[arg-type]
        started.append(run)
        return run

    yield start_process
    for run in started:
        if run.process.poll() is None:
            run.kill()


def wait_until(condition: Callable[[], bool], what: str, *watched: TrainProcess) -> None:
    """Poll ``condition`` until it holds; fail at once if a watched process ends first, or after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        ended = [run for run in watched if run.process.poll() is not None]
        if ended or time.monotonic() > deadline:
            logs = "\n---\n".join(run.output[-3000:] for run in watched)
            pytest.fail(f"gave up waiting for {what}:\n{logs}")
        time.sleep(0.05)


def how_features_came(output: str, which: str) -> str:
    """'extracted' or 'loaded from cache', from the run's line about ``which`` (e.g. 'train')."""
    found = re.findall(rf"{which}: \d+ clips, \d+ frames (extracted|loaded from cache)", output)
    assert len(found) == 1, output
    return found[0]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread in this process, as in the started ones (OMP_NUM_THREADS=1): the same numbers in
    both, and no thread contention on a busy machine (which makes small runs several times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------------------
# A trained model whose outputs the failing runs below must leave untouched


@pytest.fixture(scope="module")
def trained(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(work folder, data folder): fan trained for one epoch and tested with MSE."""
    data = copy_machines(tiny_data_dir, tmp_path_factory.mktemp("robust_data"), "fan")
    work = tmp_path_factory.mktemp("robust_work")
    run_train(work, *train_args("fan", data))
    return work, data


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> None:
    soundfile.write(path, samples, rate, subtype=subtype)


def with_value(value: float) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        samples = np.zeros(32000, dtype=np.float32)
        samples[1000] = value
        write_wav(path, samples, subtype="FLOAT")

    return write


BAD_CLIPS: dict[str, tuple[Callable[[Path], None], str]] = {
    "random_bytes": (lambda path: path.write_bytes(np.random.default_rng(0).bytes(5000)), "not a readable WAV file"),
    "truncated_header": (lambda path: path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "not a readable WAV file"),
    "zero_bytes": (lambda path: path.write_bytes(b""), "the file is empty (0 bytes)"),
    "nan_samples": (with_value(float("nan")), "the audio holds NaN or infinite samples"),
    "inf_samples": (with_value(float("inf")), "the audio holds NaN or infinite samples"),
    "too_short": (lambda path: write_wav(path, np.zeros(300)), "clip too short (0.019 s) to give one feature vector"),
    "other_rate": (
        lambda path: write_wav(path, np.zeros(44100), rate=22050),
        "sample rate 22050 Hz differs from 16000 Hz of",
    ),
}


@pytest.mark.parametrize("folder", ["train", "test"])
@pytest.mark.parametrize("fault", list(BAD_CLIPS))
def test_a_bad_clip_is_one_line_naming_it_and_earlier_outputs_survive(
    trained: tuple[Path, Path], tmp_path: Path, fault: str, folder: str
) -> None:
    work, data = trained
    before = snapshot(work)
    shutil.copytree(data / "dcase2024t2/dev_data/raw", tmp_path / "dcase2024t2/dev_data/raw")
    bad = tmp_path / "dcase2024t2/dev_data/raw/fan" / folder / f"section_00_source_{folder}_normal_9999_bad.wav"
    make, message = BAD_CLIPS[fault]
    make(bad)
    extra = ["--test_only"] if folder == "test" else []  # a failed test run must not touch the model either
    result = run_train(work, *train_args("fan", tmp_path, *extra), check=False)
    assert result.returncode == 2
    line = single_error_line(result.stderr)
    assert str(bad) in line and message in line
    assert snapshot(work) == before


def _remove_folder(machine_dir: Path, folder: str) -> None:
    shutil.rmtree(machine_dir / folder)


def _remove_wavs(machine_dir: Path, folder: str) -> None:
    for path in (machine_dir / folder).glob("*.wav"):
        path.unlink()


def _anomaly_into_train(machine_dir: Path, folder: str) -> None:
    shutil.copy(machine_dir / "test/section_00_source_test_anomaly_0000_m-n_W.wav", machine_dir / "train")


@pytest.mark.parametrize(
    ("fault", "folder", "messages"),
    [
        (_remove_folder, "train", ["/dcase2024t2/dev_data/raw/fan/train not found", "bash data_download_2024dev.sh"]),
        (_remove_folder, "test", ["/dcase2024t2/dev_data/raw/fan/test not found", "bash data_download_2024dev.sh"]),
        (_remove_wavs, "train", ["no WAV files of section 00 in", "expected names like section_00_source_train"]),
        (_remove_wavs, "test", ["no WAV files of section 00 in"]),
        (
            _anomaly_into_train,
            "train",
            [
                "holds 1 anomaly clip(s), e.g. section_00_source_test_anomaly_0000_m-n_W.wav",
                "move them to the test folder or delete them",
            ],
        ),
    ],
    ids=["no_train_folder", "no_test_folder", "empty_train_section", "empty_test_section", "anomaly_in_train"],
)
def test_a_bad_dataset_layout_is_one_line_and_earlier_outputs_survive(
    trained: tuple[Path, Path], tmp_path: Path, fault: Callable[[Path, str], None], folder: str, messages: list[str]
) -> None:
    work, data = trained
    before = snapshot(work)
    shutil.copytree(data / "dcase2024t2/dev_data/raw", tmp_path / "dcase2024t2/dev_data/raw")
    fault(tmp_path / "dcase2024t2/dev_data/raw/fan", folder)
    extra = ["--test_only"] if folder == "test" else []
    result = run_train(work, *train_args("fan", tmp_path, *extra), check=False)
    assert result.returncode == 2
    line = single_error_line(result.stderr)
    assert all(message in line for message in messages), line
    assert snapshot(work) == before


def test_a_missing_dataset_names_the_path_and_the_download_script(tmp_path: Path) -> None:
    result = run_train(tmp_path, *train_args("fan", tmp_path / "nowhere"), check=False)
    assert result.returncode == 2
    line = single_error_line(result.stderr)
    assert f"dataset folder {tmp_path}/nowhere/dcase2024t2/dev_data/raw/fan/train not found" in line
    assert "'bash data_download_2024dev.sh'" in line and "--is_auto_download True" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--train_only", "--test_only"], "--train_only and --test_only cannot be used together"),
        (["--epochs", "0"], "--epochs must be at least 1, got 0"),
        (["--use_cuda", "maybe"], "argument --use_cuda: invalid True/False value: 'maybe'"),
        (["-lr", "fast"], "argument -lr/--learning_rate: invalid float value: 'fast'"),
    ],
)
def test_bad_flags_exit_2_with_one_line_before_any_work(tmp_path: Path, argv: list[str], message: str) -> None:
    result = run_train(tmp_path, *train_args("fan", tmp_path), *argv, check=False)
    assert result.returncode == 2 and message in single_error_line(result.stderr)
    assert not any(tmp_path.iterdir())


def test_paths_with_spaces_and_non_ascii_characters_work(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = trained
    odd_data = tmp_path / "dätä sèt 音"
    shutil.copytree(data / "dcase2024t2/dev_data/raw", odd_data / "dcase2024t2/dev_data/raw")
    work = tmp_path / "wörk dir"
    work.mkdir()
    results = tmp_path / "résults ü"
    run_train(work, *train_args("fan", odd_data, "--result_directory", str(results)))
    result_csv = results / "dev_data/baseline_MSE/result_DCASE2024T2fan_test_seed13711_roc.csv"
    rows = list(csv.reader(result_csv.open()))
    assert rows[1][0] == "00" and all(0.0 <= float(value) <= 1.0 for value in rows[1][1:])
    assert (work / "models/saved_model/baseline" / f"{RUN.format(machine='fan')}.pth").is_file()


# ---------------------------------------------------------------------------------------------------------
# Checkpoints and weights that do not belong to this run


def test_restart_from_a_missing_checkpoint_path_is_an_error(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = trained
    missing = tmp_path / "no such checkpoint.tar"
    result = run_train(tmp_path, *train_args("fan", data, "--restart", "--checkpoint_path", str(missing)), check=False)
    assert result.returncode == 2
    assert f"--checkpoint_path {missing}: no such file" in single_error_line(result.stderr)


class WritesAFileWhenUnpickled:
    """What a malicious pickle does: run code (here: create a file) while being loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _public_baseline_checkpoint(path: Path) -> None:
    """The public baseline's checkpoint.tar: no fingerprint, RNG state or log rows."""
    torch.save({"epoch": 3, "model_state_dict": {"w": torch.zeros(2)}, "optimizer_state_dict": {}, "loss": 1.0}, path)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path: path.write_bytes(np.random.default_rng(1).bytes(3000)), "the checkpoint cannot be read"),
        (
            _public_baseline_checkpoint,
            "is not a checkpoint of this model written by this program (no rng_state, "
            "fingerprint, log_rows, calibration); train from scratch without --restart",
        ),
        (
            lambda path: torch.save({"epoch": WritesAFileWhenUnpickled(path.with_name("pwned"))}, path),
            "the checkpoint cannot be read (UnpicklingError",
        ),
    ],
    ids=["random_bytes", "public_baseline_checkpoint", "malicious_pickle"],
)
def test_restart_from_a_foreign_checkpoint_is_refused(
    trained: tuple[Path, Path], tmp_path: Path, write: Callable[[Path], None], message: str
) -> None:
    _, data = trained
    checkpoint = tmp_path / "checkpoint.tar"
    write(checkpoint)
    result = run_train(
        tmp_path, *train_args("fan", data, "--restart", "--checkpoint_path", str(checkpoint)), check=False
    )
    assert result.returncode == 2
    line = single_error_line(result.stderr)
    assert str(checkpoint) in line and message in line
    assert not (tmp_path / "pwned").exists()  # loaded with weights_only=True: the pickle's code never ran


def test_test_only_with_foreign_weights_is_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = trained
    weights = tmp_path / "models/saved_model/baseline" / f"{RUN.format(machine='fan')}.pth"
    weights.parent.mkdir(parents=True)
    torch.save({"encoder.0.weight": torch.zeros(3, 3)}, weights)  # e.g. another program's state dict
    result = run_train(tmp_path, *train_args("fan", data, "--test_only"), check=False)
    assert result.returncode == 2
    line = single_error_line(result.stderr)
    assert f"{weights.relative_to(tmp_path)} does not fit DCASE2023T2-AE with these settings" in line
    assert "train it again" in line
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------------------------------------------------
# Divergence and NaN scores


def test_divergence_in_the_first_epoch_stops_before_any_model_or_score(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    _, data = trained
    result = run_train(tmp_path, *train_args("fan", data, "--epochs", "2", "-lr", "1e30"), check=False)
    assert result.returncode == 2
    line = single_error_line(result.stderr)
    assert "training DCASE2024T2fan diverged at epoch 1 (loss nan" in line
    assert "lower the learning rate (-lr)" in line and "no epoch completed, so no model was saved" in line
    assert not (tmp_path / "models/saved_model").exists() and not (tmp_path / "results").exists()


def test_divergence_later_keeps_the_last_good_checkpoint(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from networks.dcase2023t2_ae.model import AutoencoderModel

    real_epoch = AutoencoderModel.train_epoch
    calls = []

    def nan_in_epoch_two(self, *args, **kwargs):  # the real epoch, with a loss that blew up in epoch 2
        result = real_epoch(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            result.log["loss"] = float("inf")
            result.log["val_loss"] = float("nan")
        return result

    monkeypatch.setattr(AutoencoderModel, "train_epoch", nan_in_epoch_two)
    _, data = trained
    result = run_train(tmp_path, *train_args("fan", data, "--epochs", "3"), check=False)
    assert result.returncode == 2
    checkpoint_path = tmp_path / "models/checkpoint/baseline" / RUN.format(machine="fan") / "checkpoint.tar"
    line = single_error_line(result.stderr)
    assert (
        f"diverged at epoch 2 (loss inf, val_loss nan); lower the learning rate (-lr) or check the data, then "
        f"train again; the checkpoint of epoch 1 is kept in {checkpoint_path.relative_to(tmp_path)}" in line
    )
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    assert checkpoint["epoch"] == 1 and np.isfinite(checkpoint["loss"])
    log = (tmp_path / "logs/baseline" / RUN.format(machine="fan") / "log.csv").read_text().splitlines()
    assert len(log) == 2 and all(np.isfinite(float(value)) for value in log[1].split(","))
    assert not list((tmp_path / "models/saved_model").rglob("*")) and not (tmp_path / "results").exists()


@pytest.fixture
def trained_copy(trained: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the trained fixture's work folder, free to damage."""
    work, data = trained
    shutil.copytree(work, tmp_path / "work")
    return tmp_path / "work", data


def test_weights_with_nan_are_refused_before_testing(trained_copy: tuple[Path, Path]) -> None:
    work, data = trained_copy
    weights_path = work / "models/saved_model/baseline" / f"{RUN.format(machine='fan')}.pth"
    weights = torch.load(weights_path, weights_only=True)
    weights["cov_source"][0, 0] = float("nan")
    torch.save(weights, weights_path)
    shutil.rmtree(work / "results")
    result = run_train(work, *train_args("fan", data, "--test_only", "--score", "MAHALA"), check=False)
    assert result.returncode == 2
    assert (
        f"{weights_path.relative_to(work)} holds NaN or infinite values (a diverged or damaged model); train "
        "it again" in single_error_line(result.stderr)
    )
    assert not (work / "results").exists()


def test_a_model_giving_nan_scores_writes_no_result_file(trained_copy: tuple[Path, Path]) -> None:
    work, data = trained_copy
    weights_path = work / "models/saved_model/baseline" / f"{RUN.format(machine='fan')}.pth"
    weights = torch.load(weights_path, weights_only=True)
    first_layer = next(key for key, value in weights.items() if value.ndim == 2 and "cov" not in key)
    weights[first_layer].fill_(1e38)  # finite weights whose activations overflow
    torch.save(weights, weights_path)
    description = weights_path.with_suffix(".json")  # as if training had ended on these weights
    info = json.loads(description.read_text())
    info["weights_sha256"] = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    description.write_text(json.dumps(info))
    before = snapshot(work / "results")
    result = run_train(work, *train_args("fan", data, "--test_only"), check=False)
    assert result.returncode == 2
    line = single_error_line(result.stderr)
    assert re.search(r"\.pth gives a NaN or infinite MSE score for \d+ of 12 clips of section 00 \(e\.g\. ", line)
    assert "no result file of that section was written: train the model again" in line
    assert snapshot(work / "results") == before


# ---------------------------------------------------------------------------------------------------------
# kill -9 at known moments


def test_kill_during_training_then_restart_reaches_the_same_end(
    trained: tuple[Path, Path], tmp_path: Path, start: Callable[..., TrainProcess]
) -> None:
    _, data = trained
    args = train_args("fan", data, "--train_only", "--epochs", "3")
    killed_dir, straight_dir = tmp_path / "killed", tmp_path / "straight"
    # paused with epoch 2's checkpoint written to its temporary name, not yet renamed
    run = start(killed_dir, args, "train", pause_at="rename:checkpoint.tar#2")
    wait_until(run.flag.exists, "the pause before the second checkpoint", run)
    run.kill()
    checkpoint_dir = killed_dir / "models/checkpoint/baseline" / RUN.format(machine="fan")
    assert len(temporaries(checkpoint_dir)) == 1  # the half-done write of epoch 2 ...
    assert torch.load(checkpoint_dir / "checkpoint.tar", weights_only=True)["epoch"] == 1  # ... never replaced it
    assert not (killed_dir / "models/saved_model").exists()

    resumed = run_train(killed_dir, *args, "--restart")
    assert "resuming DCASE2023T2-AE_DCASE2024T2fan_seed13711 after epoch 1 of 3" in resumed.stdout + resumed.stderr
    assert torch.load(checkpoint_dir / "checkpoint.tar", weights_only=True)["epoch"] == 3
    assert temporaries(killed_dir) == []
    straight_dir.mkdir()
    run_train(straight_dir, *args)
    log_name = Path("logs/baseline") / RUN.format(machine="fan") / "log.csv"
    assert (killed_dir / log_name).read_text() == (straight_dir / log_name).read_text()
    weights_name = Path("models/saved_model/baseline") / f"{RUN.format(machine='fan')}.pth"
    resumed_weights = torch.load(killed_dir / weights_name, weights_only=True)
    straight_weights = torch.load(straight_dir / weights_name, weights_only=True)
    assert all(torch.equal(resumed_weights[key], straight_weights[key]) for key in straight_weights)


def test_kill_during_testing_keeps_the_previous_results_until_new_ones_are_complete(
    trained: tuple[Path, Path], tmp_path: Path, start: Callable[..., TrainProcess]
) -> None:
    _, data = trained
    run_train(tmp_path, *train_args("fan", data, "--decision_threshold", "0.5"))
    results = tmp_path / "results/dev_data/baseline_MSE"
    before = snapshot(results)
    decisions = results / "decision_result_DCASE2024T2fan_section_00_test_seed13711.csv"
    run = start(
        tmp_path,
        train_args("fan", data, "--test_only", "--decision_threshold", "0.99"),
        "test",
        pause_at="rename:decision_result_*",
    )
    wait_until(run.flag.exists, "the pause before the new decision file replaces the old one", run)
    run.kill()
    assert len(temporaries(results)) == 1
    assert {name: content for name, content in snapshot(results).items() if not name.startswith(".")} == before

    run_train(tmp_path, *train_args("fan", data, "--test_only", "--decision_threshold", "0.99"))
    fit = json.loads(
        (tmp_path / "models/saved_model/baseline" / f"score_distr_{RUN.format(machine='fan')}_mse.json").read_text()
    )
    threshold = scipy.stats.gamma.ppf(0.99, fit["shape"], loc=fit["loc"], scale=fit["scale"])
    scores = list(csv.reader((results / "anomaly_score_DCASE2024T2fan_section_00_test_seed13711.csv").open()))
    expected = "".join(f"{name},{int(float(score) > threshold)}\n" for name, score in scores)
    assert decisions.read_text() == expected


def test_kill_during_extraction_while_another_run_waits_for_the_cache(
    tiny_data_dir: Path, tmp_path: Path, start: Callable[..., TrainProcess]
) -> None:
    data = copy_machines(tiny_data_dir, tmp_path / "data", "fan")
    args = train_args("fan", data, "--train_only")
    first = start(tmp_path / "first", args, "first", pause_at="rename:*_logmel_*.npy")
    wait_until(first.flag.exists, "the first run to hold the cache lock, its cache written but not renamed", first)
    second = start(tmp_path / "second", args, "second")
    wait_until(
        lambda: "waiting for another process that is writing the feature cache" in second.output,
        "the second run to wait for the lock",
        second,
    )
    first.kill()  # the kernel releases its lock; the second run must rebuild, not load the half-written cache
    assert second.finish() == 0, second.output
    assert how_features_came(second.output, "train") == "extracted"
    cache = data / "dcase2024t2/dev_data/processed/fan/train"
    assert len(list(cache.glob("*.npy"))) == 1 and len(list(cache.glob("*.json"))) == 1
    assert temporaries(cache) == []  # the killed run's temporary file was cleared under the lock


def test_kill_before_the_cache_manifest_is_renamed_rebuilds_the_cache(
    tiny_data_dir: Path, tmp_path: Path, start: Callable[..., TrainProcess]
) -> None:
    data = copy_machines(tiny_data_dir, tmp_path / "data", "fan")
    args = train_args("fan", data, "--train_only")
    run = start(tmp_path, args, "killed", pause_at="rename:*_logmel_*.json")
    wait_until(run.flag.exists, "the pause before the cache manifest is renamed", run)
    run.kill()
    cache = data / "dcase2024t2/dev_data/processed/fan/train"
    assert len(list(cache.glob("*.npy"))) == 1 and not list(cache.glob("*.json"))  # data there, no commit mark
    output = run_train(tmp_path, *args)
    assert how_features_came(output.stdout, "train") == "extracted"
    assert len(list(cache.glob("*.json"))) == 1 and temporaries(cache) == []


# ---------------------------------------------------------------------------------------------------------
# Concurrent runs


def test_two_runs_needing_the_same_cache_build_it_once(
    tiny_data_dir: Path, tmp_path: Path, start: Callable[..., TrainProcess]
) -> None:
    data = copy_machines(tiny_data_dir, tmp_path / "data", "fan")
    run_train(tmp_path, *train_args("fan", data, "--train_only"))  # the model; the test cache is not built yet
    mse = start(
        tmp_path, train_args("fan", data, "--test_only", "--score", "MSE"), "mse", pause_at="rename:*_logmel_*.npy"
    )
    wait_until(mse.flag.exists, "the MSE run to hold the test cache lock", mse)
    mahala = start(tmp_path, train_args("fan", data, "--test_only", "--score", "MAHALA"), "mahala")
    wait_until(
        lambda: "waiting for another process that is writing the feature cache" in mahala.output,
        "the MAHALA run to wait for the lock",
        mahala,
    )
    assert mahala.process.poll() is None
    mse.resume()
    assert mse.finish() == 0, mse.output
    assert mahala.finish() == 0, mahala.output
    assert how_features_came(mse.output, "test section 00") == "extracted"
    assert how_features_came(mahala.output, "test section 00") == "loaded from cache"
    cache = data / "dcase2024t2/dev_data/processed/fan/test"
    assert len(list(cache.glob("*.npy"))) == 1 and temporaries(cache) == []
    for score in ("MSE", "MAHALA"):
        rows = list(
            csv.reader(
                (
                    tmp_path
                    / f"results/dev_data/baseline_{score}"
                    / "anomaly_score_DCASE2024T2fan_section_00_test_seed13711.csv"
                ).open()
            )
        )
        assert len(rows) == 12 and all(np.isfinite(float(row[1])) for row in rows)


def test_two_machine_types_in_parallel_share_nothing_they_could_corrupt(
    tiny_data_dir: Path, tmp_path: Path, start: Callable[..., TrainProcess]
) -> None:
    data = copy_machines(tiny_data_dir, tmp_path / "data", "fan", "valve")
    runs = {
        machine: start(tmp_path, train_args(machine, data), machine, pause_at="rename:*_logmel_*.npy")
        for machine in ("fan", "valve")
    }
    # both paused inside their own cache lock at once: neither waits for the other
    wait_until(lambda: all(run.flag.exists() for run in runs.values()), "both runs to extract at once", *runs.values())
    for run in runs.values():
        run.resume()
    for machine, run in runs.items():
        assert run.finish() == 0, run.output
        assert "waiting for another process" not in run.output
        result = tmp_path / f"results/dev_data/baseline_MSE/result_DCASE2024T2{machine}_test_seed13711_roc.csv"
        rows = list(csv.reader(result.open()))
        assert rows[1][0] == "00" and all(0.0 <= float(value) <= 1.0 for value in rows[1][1:])
        weights = torch.load(
            tmp_path / "models/saved_model/baseline" / f"{RUN.format(machine=machine)}.pth", weights_only=True
        )
        assert all(torch.isfinite(value).all() for value in weights.values())
    assert temporaries(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------
# Nothing is unpickled


UNSAFE_LOADING = re.compile(
    r"\bimport\s+(c?pickle|dill|joblib|shelve)\b|\bfrom\s+(c?pickle|dill|joblib|shelve)\s+import\b"
    r"|allow_pickle\s*=\s*True|read_pickle|\btorch\.load\((?![^)]*weights_only\s*=\s*True)"
)


def test_no_code_loads_pickles() -> None:
    offenders = []
    for path in sorted(REPO_ROOT.rglob("*.py")):
        relative = path.relative_to(REPO_ROOT)
        if relative.parts[0].startswith(".") or relative == Path(__file__).relative_to(REPO_ROOT):
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{relative}: {match.group(0)}" for match in UNSAFE_LOADING.finditer(text)]
    assert offenders == []
    assert UNSAFE_LOADING.search("torch.load(path)") and UNSAFE_LOADING.search("np.load(p, allow_pickle=True)")
    assert not UNSAFE_LOADING.search("torch.load(path, map_location='cpu',\n weights_only=True)")
