"""datasets.labels: the one file-name -> label rule and the evaluation list format; no download import cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datasets import eval_labels, file_list, labels
from datasets.labels import clip_domain, name_label, parse_label_list
from errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("section_00_source_test_anomaly_0012_vel_6.wav", 1),
        ("section_00_target_train_normal_0000_noAttribute.wav", 0),
        ("anomaly_id_00_00000000.wav", 1),
        ("normal_id_02_00000001.wav", 0),
        ("section_00_0003.wav", None),
        ("section_00_machine_0000_.wav", None),
    ],
)
def test_name_label(name: str, expected: int | None) -> None:
    assert name_label(name) == expected


def test_domain_rule_is_the_baselines() -> None:
    assert clip_domain("section_00_target_test_normal_0000_a.wav") == "target"
    assert clip_domain("section_00_source_test_normal_0000_a.wav") == "source"
    assert clip_domain("normal_id_00_00000000.wav") == "source"


def test_one_rule_for_file_lists_and_eval_lists() -> None:
    assert file_list.name_label is labels.name_label and file_list.clip_domain is labels.clip_domain
    assert eval_labels.parse_label_list is labels.parse_label_list


def test_2025_list_format_parses() -> None:
    text = (
        "AutoTrash\nsection_00_0000.wav,section_00_target_test_anomaly_0012_id_C1_spd_2_mic_2.wav\n"
        "section_00_0001.wav,section_00_source_test_normal_0031_noAttribute.wav\nToyPet\n"
        "section_00_0000.wav,section_00_source_test_normal_0000_noAttribute.wav\n"
    )
    entries = parse_label_list(text)
    assert list(entries) == ["AutoTrash", "ToyPet"]
    assert [(e.anonymous, name_label(e.labelled)) for e in entries["AutoTrash"]] == [
        ("section_00_0000.wav", 1),
        ("section_00_0001.wav", 0),
    ]


def test_a_label_column_that_contradicts_the_name_is_refused() -> None:
    with pytest.raises(DataError, match="line 2: label column '0' contradicts"):
        parse_label_list("fan\nid_00_0.wav,anomaly_id_00_00000000.wav,0\n")


def test_no_import_cycle_between_download_and_eval_labels() -> None:
    """eval_labels needs only the HTTP helpers; download imports eval_labels at the top, never the reverse."""
    code = (
        "import sys, datasets.eval_labels; assert 'datasets.download' not in sys.modules, 'cycle'; "
        "import datasets.download as d; assert d.eval_labels is sys.modules['datasets.eval_labels']"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
    source = (REPO_ROOT / "datasets" / "download.py").read_text()
    assert "fcntl" not in source and "from safe_io import file_lock" in source
