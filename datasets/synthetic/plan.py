"""Which clips a machine type gets: names, attributes, anomalies, SNRs and random seeds.

Planning is cheap and happens in the parent process; every random choice of a clip comes from its own
``SeedSequence`` built from (seed, dataset, split, machine, folder, domain, label, number), so a clip is
the same whatever the number of workers and whichever other clips are generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.synthetic.background import HALLS, hall_for
from datasets.synthetic.catalog import hides_attributes, machine_model
from datasets.synthetic.layouts import SUPPLEMENTAL_FOLDER, SUPPLEMENTAL_KINDS, supplemental_file_name
from datasets.synthetic.model import stable_hash

SECTION = "00"
DOMAINS = ("source", "target")
LABELS = ("normal", "anomaly")
# Faults in a test set are the ones a maintenance team would want reported: moderate to obvious. Below
# 0.6 most fault kinds sit well under the plant's background and no system (nor a listener) hears them.
SEVERITY_RANGE = (0.6, 1.0)


@dataclass(frozen=True)
class ClipPlan:
    """One clip: where it goes, what it is, and the seed it is rendered from."""

    machine: str
    folder: str  # "train" or "test"
    domain: str  # "source" or "target"
    label: str  # "normal" or "anomaly"
    number: int  # running number within (folder, domain, label), as in the DCASE file names
    attributes: tuple[tuple[str, str], ...]
    anomaly: str | None
    severity: float  # 0 (subtle) .. 1 (obvious), drawn from SEVERITY_RANGE; 0 for normal clips
    snr_db: float
    entropy: tuple[int, ...]
    labelled_name: str  # the name with attributes, e.g. section_00_source_test_normal_0003_vel_6_loc_A.wav
    hidden_name: str | None  # the "noAttribute" name where the dataset hides this type's attributes
    written_name: str  # the name on disk: labelled, hidden, or anonymous (evaluation test clips)

    @property
    def relative_path(self) -> str:
        return f"{self.folder}/{self.written_name}"

    def render_seed(self) -> np.random.SeedSequence:
        return np.random.SeedSequence([*self.entropy, 1])


def attribute_text(attributes: tuple[tuple[str, str], ...]) -> str:
    return "_".join(f"{key}_{value}" for key, value in attributes)


def labelled_file_name(domain: str, folder: str, label: str, number: int, attributes_text: str) -> str:
    return f"section_{SECTION}_{domain}_{folder}_{label}_{number:04d}_{attributes_text}.wav"


def anonymous_file_name(index: int) -> str:
    return f"section_{SECTION}_{index:04d}.wav"


def _entropy(seed: int, dataset: str, split: str, machine: str, *parts: str | int) -> tuple[int, ...]:
    words = [stable_hash(dataset.upper()), stable_hash(split), stable_hash(machine)]
    words += [part if isinstance(part, int) else stable_hash(part) for part in parts]
    return (int(seed), *words)


def plan_machine(
    dataset: str,
    split: str,
    machine: str,
    *,
    n_train_source: int,
    n_train_target: int,
    n_test_per_group: int,
    seed: int,
) -> list[ClipPlan]:
    """Every clip of one machine type: train clips (normal) then test clips (4 groups)."""
    model = machine_model(machine)
    hidden = hides_attributes(dataset, machine)
    groups = [("train", "source", "normal", n_train_source), ("train", "target", "normal", n_train_target)]
    groups += [("test", domain, label, n_test_per_group) for domain in DOMAINS for label in LABELS]
    plans: list[ClipPlan] = []
    for folder, domain, label, count in groups:
        combos = model.combinations(domain)
        for number in range(count):
            entropy = _entropy(seed, dataset, split, machine, folder, domain, label, number)
            rng = np.random.default_rng(np.random.SeedSequence([*entropy, 0]))
            attributes = combos[number % len(combos)]
            anomaly = str(rng.choice(model.anomalies)) if label == "anomaly" else None
            severity = float(rng.uniform(*SEVERITY_RANGE)) if label == "anomaly" else 0.0
            snr_db = float(rng.uniform(*hall_for(domain, dict(attributes)).snr_db))
            labelled = labelled_file_name(domain, folder, label, number, attribute_text(attributes))
            hidden_name = labelled_file_name(domain, folder, label, number, "noAttribute") if hidden else None
            plans.append(
                ClipPlan(
                    machine,
                    folder,
                    domain,
                    label,
                    number,
                    attributes,
                    anomaly,
                    severity,
                    snr_db,
                    entropy,
                    labelled,
                    hidden_name,
                    hidden_name or labelled,
                )
            )
    if split == "eval":
        plans = _anonymise_test_clips(plans, _entropy(seed, dataset, split, machine, "anonymous-order"))
    return plans


def plan_supplemental(dataset: str, split: str, machine: str, *, n_per_kind: int, seed: int) -> list[ClipPlan]:
    """The ``supplemental/`` clips of one machine type (DCASE2025 eval): ``n_per_kind`` of the machine alone
    and as many of the background alone, in the source domain's hall and operating conditions."""
    combos = machine_model(machine).combinations("source")
    plans = []
    for kind in SUPPLEMENTAL_KINDS:
        for number in range(n_per_kind):
            entropy = _entropy(seed, dataset, split, machine, SUPPLEMENTAL_FOLDER, kind, number)
            rng = np.random.default_rng(np.random.SeedSequence([*entropy, 0]))
            name = supplemental_file_name(kind, number)
            plans.append(
                ClipPlan(
                    machine,
                    SUPPLEMENTAL_FOLDER,
                    "source",
                    kind,
                    number,
                    combos[number % len(combos)],
                    None,
                    0.0,
                    float(rng.uniform(*HALLS["source"].snr_db)),
                    entropy,
                    name,
                    None,
                    name,
                )
            )
    return plans


def _anonymise_test_clips(plans: list[ClipPlan], entropy: tuple[int, ...]) -> list[ClipPlan]:
    """Evaluation test clips get anonymous names ``section_00_NNNN.wav`` in a shuffled order."""
    train = [plan for plan in plans if plan.folder == "train"]
    test = [plan for plan in plans if plan.folder == "test"]
    order = np.random.default_rng(np.random.SeedSequence(list(entropy))).permutation(len(test))
    anonymous = [_with_written_name(test[position], anonymous_file_name(index)) for index, position in enumerate(order)]
    return train + anonymous


def _with_written_name(plan: ClipPlan, name: str) -> ClipPlan:
    fields = {**plan.__dict__, "written_name": name}
    return ClipPlan(**fields)


# ----------------------------------------------------------------------------------------------------
# CSV contents (lists of rows; the generator writes them)
# ----------------------------------------------------------------------------------------------------
def attributes_rows(plans: list[ClipPlan], machine: str, hidden: bool) -> list[list[str]]:
    """``attributes_00.csv``: one row per clip with a visible name (evaluation test clips are left out)."""
    listed = [
        plan
        for plan in plans
        if plan.written_name in (plan.labelled_name, plan.hidden_name) and plan.folder != SUPPLEMENTAL_FOLDER
    ]
    width = 1 if hidden else max((len(plan.attributes) for plan in listed), default=1)
    header = ["file_name"] + [f"d{i}{part}" for i in range(1, width + 1) for part in ("p", "v")]
    rows = [header]
    for plan in listed:
        if hidden:
            pairs = ["noAttribute", ""]
        else:
            pairs = [item for pair in plan.attributes for item in pair]
            pairs += [""] * (2 * width - len(pairs))
        rows.append([f"{machine}/{plan.relative_path}", *pairs])
    return rows


def correspondence_rows(plans: list[ClipPlan], folder: str) -> list[list[str]]:
    """Real (labelled) name -> hidden name, like the public ``attributes_00_<folder>_correspondence.csv``."""
    rows = [["source_file_name", "target_file_name"]]
    rows += [
        [plan.labelled_name, plan.hidden_name]
        for plan in plans
        if plan.folder == folder and plan.hidden_name is not None
    ]
    return rows


def ground_truth_rows(plans: list[ClipPlan]) -> dict[str, list[list[str]]]:
    """The official evaluator's three ground-truth tables for the (anonymous) test clips, sorted by name."""
    test = sorted((plan for plan in plans if plan.folder == "test"), key=lambda plan: plan.written_name)
    data = [[plan.written_name, "1" if plan.label == "anomaly" else "0"] for plan in test]
    domain = [[plan.written_name, "1" if plan.domain == "target" else "0"] for plan in test]
    attributes = []
    for plan in test:
        if plan.hidden_name is None:
            attributes.append([plan.written_name, plan.labelled_name.removesuffix(".wav")])
        else:
            attributes.append([plan.written_name, plan.hidden_name.removesuffix(".wav"), plan.labelled_name])
    return {"ground_truth_data": data, "ground_truth_domain": domain, "ground_truth_attributes": attributes}
