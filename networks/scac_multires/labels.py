"""The classes ASDKit's recipe trains on, read from the file names: ``machine---section---attributes---domain``.

``section`` is the section number without leading zeros; ``attributes`` is everything after the clip number of
``section_00_<domain>_train_<label>_<NNNN>_<attributes>.wav`` joined by "_" ("noAttribute" where DCASE2024
hides them, kept as it is: a class of its own per domain); ``domain`` is 1 for target and 0 for source. A name of
another form (DCASE2020's ``normal_id_00_00000000.wav``, a monitored machine's own recordings) has no
attributes: machine type x section (ID) x domain.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEPARATOR = "---"


def name_attributes(file_name: str) -> str:
    """The attribute part of a DCASE2021+ clip name, as the public code cuts it; "" for other names."""
    parts = file_name.split("_")
    if len(parts) < 6 or parts[0] != "section" or parts[2] not in ("source", "target"):
        return ""
    return "_".join(parts[6:]).replace(".wav", "")


def class_name(machine: str, section: str, file_name: str, is_target: bool) -> str:
    return SEPARATOR.join([machine, str(int(section)), name_attributes(file_name), str(int(is_target))])


def class_labels(
    machines: Sequence[str], sections: Sequence[str], file_names: Sequence[str], is_target: Sequence[bool]
) -> tuple[list[str], np.ndarray]:
    """The sorted class names of a set of clips (scikit-learn's LabelEncoder order) and each clip's index."""
    names = [class_name(*parts) for parts in zip(machines, sections, file_names, is_target, strict=True)]
    classes = sorted(set(names))
    index = {name: number for number, name in enumerate(classes)}
    return classes, np.asarray([index[name] for name in names], dtype=np.int64)
