"""Every output path of a run, named as the public baseline names them (the result file names come from
``evaluation.result_names``, which also reads them back)."""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

from evaluation import result_names


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
        tag, is_eval = config.model_name_suffix or "", bool(config.eval)
        base_name = f"{result_names.run_label(config.model, config.dataset, tag, is_eval)}_seed{config.seed}"
        export_dir = config.export_dir
        split_dir = "eval_data" if config.eval else "dev_data"
        return cls(
            dataset=config.dataset,
            base_name=base_name,
            file_suffix=result_names.run_suffix(config.seed, tag, is_eval),
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
        return self.result_dir / result_names.anomaly_score_csv_name(self.dataset, section, self.file_suffix)

    def decision_result_csv(self, section: str) -> Path:
        return self.result_dir / result_names.decision_result_csv_name(self.dataset, section, self.file_suffix)

    @property
    def result_csv(self) -> Path:
        return self.result_dir / result_names.result_csv_name(self.dataset, self.file_suffix)

    @property
    def _picture_stem(self) -> str:
        """The run's name without its seed: ``<model>_<dataset><_tag><_Eval>``."""
        return self.base_name.rsplit("_seed", 1)[0]

    @property
    def score_plot(self) -> Path:
        return self.result_dir / result_names.score_picture_name(self._picture_stem)

    @property
    def roc_plot(self) -> Path:
        return self.result_dir / result_names.roc_picture_name(self._picture_stem)

    def test_args_json(self, score: str) -> Path:
        return self.checkpoint_dir / f"args_test_{score}.json"
