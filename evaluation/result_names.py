"""The names of a run's result files, built and read back in one place, as the public baseline names them.

A run suffix ``seed<seed><_tag><_Eval>`` tells runs of one machine type apart in a result folder:

    anomaly_score_<dataset>_section_<id>_test_<suffix>.csv     file_name,score
    decision_result_<dataset>_section_<id>_test_<suffix>.csv   file_name,0|1
    result_<dataset>_test_<suffix>_roc.csv                     the per-section result table
    <stem>_anm_score.png, <stem>_roc.png                       score distributions, ROC curves

The builders and the parsers below are each other's inverse (the tests check the round trip).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVAL_SUFFIX = "_Eval"
SCORE_KINDS = ("anomaly_score", "decision_result")  # the two per-section CSVs
RESULT_KIND = "result"  # the result table


def _tag_part(tag: str) -> str:
    return f"_{tag}" if tag else ""


def run_suffix(seed: int, tag: str = "", is_eval: bool = False) -> str:
    """``seed<seed><_tag><_Eval>``, the part of the CSV names that tells runs apart."""
    return f"seed{seed}{_tag_part(tag)}{EVAL_SUFFIX if is_eval else ''}"


def run_label(model: str, dataset: str, tag: str = "", is_eval: bool = False) -> str:
    """``<model>_<dataset><_tag><_Eval>``: a run's name without its seed (the stem of the test pictures)."""
    return f"{model}_{dataset}{_tag_part(tag)}{EVAL_SUFFIX if is_eval else ''}"


def score_csv_name(kind: str, dataset: str, section: str, suffix: str) -> str:
    """``<kind>_<dataset>_section_<id>_test_<suffix>.csv`` for kind ``anomaly_score`` or ``decision_result``."""
    if kind not in SCORE_KINDS:
        raise ValueError(f"unknown score file kind {kind!r}; one of {', '.join(SCORE_KINDS)}")
    return f"{kind}_{dataset}_section_{section}_test_{suffix}.csv"


def anomaly_score_csv_name(dataset: str, section: str, suffix: str) -> str:
    return score_csv_name("anomaly_score", dataset, section, suffix)


def decision_result_csv_name(dataset: str, section: str, suffix: str) -> str:
    return score_csv_name("decision_result", dataset, section, suffix)


def result_stem(dataset: str, suffix: str) -> str:
    """``<dataset>_test_<suffix>``: the result table's name core, and the stem of the ground-truth pictures."""
    return f"{dataset}_test_{suffix}"


def result_csv_name(dataset: str, suffix: str) -> str:
    """``result_<dataset>_test_<suffix>_roc.csv``."""
    return f"{RESULT_KIND}_{result_stem(dataset, suffix)}_roc.csv"


def score_picture_name(stem: str) -> str:
    """``<stem>_anm_score.png``: the anomaly score distributions per domain and label."""
    return f"{stem}_anm_score.png"


def roc_picture_name(stem: str) -> str:
    """``<stem>_roc.png``: the ROC curves per domain (the public baseline draws none; the name is ours)."""
    return f"{stem}_roc.png"


@dataclass(frozen=True)
class RunSuffix:
    """What ``seed13711_id(0_)_Eval`` says: the seed, the tag (``id(0_)``) and whether it is an eval run."""

    text: str
    seed: int
    tag: str
    is_eval: bool


def parse_suffix(text: str) -> RunSuffix | None:
    """Parse a run suffix; None when the text is not one."""
    is_eval = text.endswith(EVAL_SUFFIX)
    core = text.removesuffix(EVAL_SUFFIX) if is_eval else text
    match = re.fullmatch(r"seed(-?\d+)(?:_(.+))?", core)
    if match is None:
        return None
    return RunSuffix(text, int(match.group(1)), match.group(2) or "", is_eval)


@dataclass(frozen=True)
class ResultFileName:
    """A parsed result file name: its kind (``anomaly_score``, ``decision_result`` or ``result``), its
    section (None for the result table) and its run suffix."""

    name: str
    kind: str
    section: str | None
    suffix: RunSuffix


def parse_result_file_name(name: str, dataset: str) -> ResultFileName | None:
    """Read back a name built by ``score_csv_name`` or ``result_csv_name`` for ``dataset``; None otherwise."""
    escaped = re.escape(dataset)
    match = re.fullmatch(
        rf"(?P<kind>{'|'.join(SCORE_KINDS)})_{escaped}_section_(?P<section>\w+?)_test_"
        r"(?P<suffix>.+)\.csv",
        name,
    ) or re.fullmatch(rf"(?P<kind>{RESULT_KIND})_{escaped}_test_(?P<suffix>.+)_roc\.csv", name)
    suffix = parse_suffix(match.group("suffix")) if match else None
    if match is None or suffix is None:
        return None
    return ResultFileName(name, match.group("kind"), match.groupdict().get("section"), suffix)


def tag_section_ids(tag: str) -> list[int] | None:
    """The section ids a run was trained on, from the scripts' tag: ``id(0_)`` -> [0], ``id(1_2_)`` -> [1, 2].

    None when the tag is not of that form (the public summary reads the ids from the same tag).
    """
    match = re.fullmatch(r"id\(((?:\d+_)+)\)", tag)
    return None if match is None else [int(part) for part in match.group(1).split("_") if part]
