"""What STgram-MFN's classifier learns: one class per machine type x section x domain x attribute combination.

Hidden attributes (an empty string) leave machine type x section x domain. The domain separates the classes of
machine types whose attributes are hidden (elsewhere the target domain's attribute values differ anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def class_name(machine: str, section: str, domain: str, attributes: str) -> str:
    """The label of a clip: ``<machine>/<section>/<domain>`` plus ``/<attributes>`` when known."""
    name = f"{machine}/{section}/{domain}"
    return f"{name}/{attributes}" if attributes else name


def belongs_to_section(name: str, machine: str, section: str) -> bool:
    """Whether class ``name`` is one of machine type ``machine``'s section ``section``."""
    prefix = f"{machine}/{section}"
    return name == prefix or name.startswith(prefix + "/")


def class_labels(
    machines: Sequence[str], sections: Sequence[str], domains: Sequence[str], attributes: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    """The sorted class names of a set of clips and each clip's index into them."""
    names = [class_name(*parts) for parts in zip(machines, sections, domains, attributes, strict=True)]
    class_names = sorted(set(names))
    number_of = {name: index for index, name in enumerate(class_names)}
    return class_names, np.asarray([number_of[name] for name in names], dtype=np.int64)
