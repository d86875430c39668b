"""Every output path of a run, named as the public baseline names them (its folders and CSV names are what
the official evaluator and the users' own scripts look for)."""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """Where one (model, dataset, tag, dev/eval, seed) run reads and writes its files."""

    dataset: str
    base_name: str  # <model>_<dataset><_tag><_Eval>_seed<seed>
    file_suffix: str  # seed<seed><_tag><_Eval>, used by the result CSV names
    checkpoint_dir: Path
    logs_dir: Path
    model_dir: Path
    result_dir: Path

    @classmethod
    def from_config(cls, config: Namespace) -> RunPaths:
        tag = f"_{config.model_name_suffix}" if config.model_name_suffix else ""
        eval_suffix = "_Eval" if config.eval else ""
        base_name = f"{config.model}_{config.dataset}{tag}{eval_suffix}_seed{config.seed}"
        export_dir = config.export_dir
        split_dir = "eval_data" if config.eval else "dev_data"
        return cls(
            dataset=config.dataset,
            base_name=base_name,
            file_suffix=f"seed{config.seed}{tag}{eval_suffix}",
            checkpoint_dir=Path("models/checkpoint") / export_dir / base_name,
            logs_dir=Path("logs") / export_dir / base_name,
            model_dir=Path("models/saved_model") / export_dir,
            result_dir=Path(config.result_directory) / split_dir / f"{export_dir}_{config.score}",
        )

    # training outputs
    @property
    def checkpoint(self) -> Path:
        return self.checkpoint_dir / "checkpoint.tar"

    @property
    def args_json(self) -> Path:
        return self.checkpoint_dir / "args.json"

    @property
    def log_csv(self) -> Path:
        return self.logs_dir / "log.csv"

    @property
    def loss_plot(self) -> Path:
        return self.logs_dir / "log.png"

    @property
    def model_weights(self) -> Path:
        return self.model_dir / f"{self.base_name}.pth"

    @property
    def model_info(self) -> Path:
        """JSON beside the weights: the configuration they were trained with."""
        return self.model_dir / f"{self.base_name}.json"

    @property
    def reference(self) -> Path:
        """What a model fitted on this machine type's training clips after training (a memory bank)."""
        return self.model_dir / f"{self.base_name}_reference.npz"

    def score_distribution(self, score: str) -> Path:
        return self.model_dir / f"score_distr_{self.base_name}_{score.lower()}.json"

    # test outputs
    def anomaly_score_csv(self, section: str) -> Path:
        return self.result_dir / f"anomaly_score_{self.dataset}_section_{section}_test_{self.file_suffix}.csv"

    def decision_result_csv(self, section: str) -> Path:
        return self.result_dir / f"decision_result_{self.dataset}_section_{section}_test_{self.file_suffix}.csv"

    @property
    def result_csv(self) -> Path:
        return self.result_dir / f"result_{self.dataset}_test_{self.file_suffix}_roc.csv"

    @property
    def score_plot(self) -> Path:
        return self.result_dir / f"{self.base_name.rsplit('_seed', 1)[0]}_anm_score.png"

    @property
    def roc_plot(self) -> Path:
        return self.result_dir / f"{self.base_name.rsplit('_seed', 1)[0]}_roc.png"

    def test_args_json(self, score: str) -> Path:
        return self.checkpoint_dir / f"args_test_{score}.json"
