"""engine/launch/slurm.py: the sbatch lines, array spellings, the task file, how task states are read back and the
end line (the local launcher's wording, checked against tools/run_stage.sh's own text)."""

from __future__ import annotations

import shlex
from argparse import Namespace
from pathlib import Path

import pytest

import common
from engine.launch.slurm import (
    SlurmSettings,
    Task,
    array_spec,
    end_line,
    expand_array_spec,
    failure_of,
    parse_job_id,
    parse_task_states,
    read_tasks,
    sbatch_command,
)
from engine.launch.stage import family_first_tasks
from errors import ConfigError
from tests.conftest import REPO_ROOT

# two records of `scontrol --oneliner show job 41` (Slurm 22.05), shortened: a finished task and pending ones
SCONTROL = (
    "JobId=42 ArrayJobId=41 ArrayTaskId=1 JobName=train-DCASE2024T2-dev UserId=root(0) JobState=CANCELLED "
    "Reason=None ExitCode=0:15\n"
    "JobId=41 ArrayJobId=41 ArrayTaskId=2-6:2%2 JobName=train-DCASE2024T2-dev UserId=root(0) JobState=PENDING "
    "Reason=Dependency ExitCode=0:0\n"
)


@pytest.mark.parametrize(
    ("indexes", "spec"), [([0], "0"), ([0, 1, 2, 5, 7, 8], "0-2,5,7-8"), ([3, 1, 2], "1-3"), ([0, 7, 14], "0,7,14")]
)
def test_array_spec_spells_sbatch_arrays_and_reads_back(indexes: list[int], spec: str) -> None:
    assert array_spec(indexes) == spec
    assert expand_array_spec(spec) == sorted(indexes)


def test_expand_array_spec_reads_steps_limits_and_brackets() -> None:
    assert expand_array_spec("[0-6:2%3]") == [0, 2, 4, 6]
    assert expand_array_spec("1,3-4") == [1, 3, 4]


def test_sbatch_command_has_the_settings_and_the_dependency() -> None:
    config = common.parse_config(
        [
            "--dataset",
            "x",
            "-d",
            "--slurm_partition",
            "gpu",
            "--slurm_time",
            "04:00:00",
            "--slurm_cpus_per_task",
            "4",
            "--slurm_mem",
            "16G",
            "--slurm_gres",
            "gpu:1",
            "--slurm_account",
            "dcase",
            "--slurm_options=--qos=long --constraint='a100 80gb'",
        ]
    )
    settings = SlurmSettings.from_config(config)
    command = sbatch_command(
        settings, "train-DCASE2024T2-dev", [0, 1, 2], Path("t.tasks"), Path("o_%A_%a.out"), after=["17", "18"]
    )
    assert command == [
        "sbatch",
        "--parsable",
        "--job-name=train-DCASE2024T2-dev",
        "--array=0-2",
        "--output=o_%A_%a.out",
        "--partition=gpu",
        "--time=04:00:00",
        "--mem=16G",
        "--gres=gpu:1",
        "--account=dcase",
        "--cpus-per-task=4",
        "--qos=long",
        "--constraint=a100 80gb",
        "--dependency=afterok:17:18",
        "--kill-on-invalid-dep=yes",
        "tools/slurm_task.sh",
        "t.tasks",
    ]
    bare = sbatch_command(SlurmSettings(), "x", [0], Path("t"), Path("o"))
    assert bare == ["sbatch", "--parsable", "--job-name=x", "--array=0", "--output=o", "tools/slurm_task.sh", "t"]


def test_slurm_settings_refuse_what_cannot_be_submitted() -> None:
    config = common.parse_config(["--dataset", "x", "-d", "--slurm_options=--qos='long"])
    with pytest.raises(ConfigError, match="--slurm_options"):
        SlurmSettings.from_config(config)
    with pytest.raises(ConfigError, match="--slurm_cpus_per_task must be 0"):
        SlurmSettings.from_config(Namespace(**{**vars(config), "slurm_options": "", "slurm_cpus_per_task": -1}))


def test_launcher_settings_stay_out_of_args_json(tmp_path: Path) -> None:
    config = common.parse_config(["--dataset", "x", "-d", "--slurm_partition", "gpu"])
    common.save_config(tmp_path / "args.json", config)
    saved = (tmp_path / "args.json").read_text()
    assert "slurm" not in saved and '"dataset": "x"' in saved


def test_parse_job_id_and_task_states() -> None:
    assert parse_job_id("1234\n") == parse_job_id("1234;cluster\n") == "1234"
    with pytest.raises(ValueError, match="no job id"):
        parse_job_id("sbatch: error: Batch job submission failed\n")
    assert parse_task_states(SCONTROL) == {1: "CANCELLED", 2: "PENDING", 4: "PENDING", 6: "PENDING"}


def test_tasks_round_trip_through_the_task_file_and_their_exit_files(tmp_path: Path) -> None:
    log = tmp_path / "logs/train_DCASE2024T2fan.log"
    command = ["/x/python", "train.py", "--dataset=DCASE2024T2fan", "-d", "-tag=id(0_)", "--export_dir", "a b"]
    tasks_file = tmp_path / "train.tasks"
    tasks_file.write_text(f"DCASE2024T2fan\t{log}\t{shlex.join(command)}\nDCASE2024T2valve\t{log}x\tpython train.py\n")
    task, other = read_tasks(tasks_file)
    assert (task.index, task.name, task.log, other.index) == (0, "DCASE2024T2fan", log, 1)
    assert task.train_arguments == command[2:]
    assert task.exit_file == tmp_path / "logs/slurm/train_DCASE2024T2fan.exit"
    assert failure_of(task, "TIMEOUT") == "TIMEOUT without an exit status"
    assert failure_of(task, None) == "ended without an exit status"
    task.exit_file.parent.mkdir(parents=True)
    task.exit_file.write_text("1\n")
    assert failure_of(task, "FAILED") == "exit status 1"
    task.exit_file.write_text("0\n")
    assert failure_of(task, "COMPLETED") is None


def test_end_line_has_the_local_launchers_wording() -> None:
    stage_script = (REPO_ROOT / "tools/run_stage.sh").read_text()
    log_dir = Path("logs/stages/DCASE2024T2_dev")
    line, ok = end_line(
        "01_train_2024t2.sh",
        "train",
        "machine types",
        "DCASE2024T2",
        "dev",
        log_dir,
        {"DCASE2024T2fan": None, "DCASE2024T2valve": None},
    )
    assert ok and line == (
        "01_train_2024t2.sh: train finished for all 2 machine types of DCASE2024T2 (dev); logs "
        "in logs/stages/DCASE2024T2_dev/"
    )
    assert 'finished for all $n_done $what of $family ($split); logs in $log_dir/"' in stage_script
    line, ok = end_line(
        "s.sh",
        "train",
        "machine types",
        "F",
        "dev",
        log_dir,
        {"a": None, "b": "exit status 2", "c": "CANCELLED without an exit status"},
    )
    assert not ok and line == (
        "s.sh: train finished for 1 of 3 machine types; FAILED: b c (CANCELLED without an "
        "exit status) (see logs/stages/DCASE2024T2_dev/)"
    )
    assert 'finished for $n_done of $n_runs $what; FAILED: ${failed[*]} (see $log_dir/)"' in stage_script


def test_a_family_model_is_trained_by_the_first_task_of_each_seed_and_tag() -> None:
    def task(index: int, *flags: str) -> Task:
        return Task(index, str(index), Path("x.log"), shlex.join(["python", "train.py", "-d", *flags]))

    tasks = [
        task(0, "--dataset=F1", "--seed", "1", "--export_dir", "s_seed1"),
        task(1, "--dataset=F2", "--seed", "1", "--export_dir", "s_seed1"),
        task(2, "--dataset=F1", "--seed", "2", "--export_dir", "s_seed2"),
        task(3, "--dataset=F2", "--seed", "2", "--export_dir", "s_seed2"),
        task(4, "--dataset=F2", "--seed", "2", "--export_dir", "s_seed2", "-tag", "id(1_)"),
    ]
    assert family_first_tasks(tasks) == [0, 2, 4]
