#!/usr/bin/env bash
# One task of a stage's Slurm job array (engine/launch): runs line SLURM_ARRAY_TASK_ID (from 0) of the task file
# written by tools/run_stage.sh, the same train.py command the local launcher runs, its output to the run's log,
# then writes the command's exit status to <log folder>/slurm/<log stem>.exit by an atomic rename.
#   sbatch --array=0-6 ... tools/slurm_task.sh logs/stages/<DATASET>_<split>/<export_dir>/slurm/<stage>.XXXXXX.tasks
set -uo pipefail
tasks_file=$1
index=${SLURM_ARRAY_TASK_ID:?this script runs as a task of a Slurm job array}
line=$(sed -n "$((index + 1))p" "$tasks_file")
IFS=$'\t' read -r name log command <<< "$line"
if [ -z "$command" ]; then
    echo "slurm_task.sh: $tasks_file has no task $index" >&2
    exit 2
fi
exit_file="$(dirname "$log")/slurm/$(basename "$log" .log).exit"
echo "$(date '+%F %T') task $index on $(hostname): $name (log: $log)"
eval "$command" < /dev/null > "$log" 2>&1
status=$?
printf '%s\n' "$status" > "$exit_file.$$.tmp" && mv -f "$exit_file.$$.tmp" "$exit_file"
echo "$(date '+%F %T') task $index: $name ended with exit status $status"
exit "$status"
