"""STgram-MFN's classes: machine type x section x domain x attributes, hidden attributes left out."""

from __future__ import annotations

import numpy as np

from networks.stgram_mfn.labels import belongs_to_section, class_labels, class_name


def test_class_names_and_section_membership() -> None:
    assert class_name("fan", "00", "target", "a_1") == "fan/00/target/a_1"
    assert class_name("gearbox", "00", "source", "") == "gearbox/00/source"
    assert belongs_to_section(class_name("fan", "00", "target", "a_1"), "fan", "00")
    assert not belongs_to_section("fan/01/source", "fan", "00") and not belongs_to_section("fans/00/x", "fan", "00")


def test_class_labels_are_sorted_names_and_each_clips_index() -> None:
    names, labels = class_labels(
        ["valve", "fan", "fan", "valve"],
        ["00", "00", "00", "00"],
        ["source", "target", "target", "source"],
        ["v_1", "", "", "v_2"],
    )
    assert names == ["fan/00/target", "valve/00/source/v_1", "valve/00/source/v_2"]
    np.testing.assert_array_equal(labels, [1, 0, 0, 2])
