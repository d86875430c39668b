"""Launchers of the stage scripts (``tools/run_stage.sh --launcher slurm``): Slurm job arrays of the same
``train.py`` commands the local launcher runs one after the other (``slurm``: the sbatch lines and the task
states; ``stage``: submitting a stage, waiting for it and its end line)."""
