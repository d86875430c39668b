"""Machine type names -> sound models; which types hide their attributes in DCASE2024."""

from __future__ import annotations

from functools import cache

from datasets.synthetic.dev_machines import DEV_MODELS
from datasets.synthetic.generic_machines import generic_model
from datasets.synthetic.layouts import hides_attributes_2025, nearest_model_name
from datasets.synthetic.model import MachineModel

DEV_MACHINES_2024 = ("bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve")
EVAL_MACHINES_2024 = (
    "3DPrinter",
    "AirCompressor",
    "Scanner",
    "ToyCircuit",
    "HoveringDrone",
    "HairDryer",
    "ToothBrush",
    "RoboticArm",
    "BrushlessMotor",
)
DEV_MACHINES_2023 = DEV_MACHINES_2024
EVAL_MACHINES_2023 = ("ToyDrone", "ToyNscale", "ToyTank", "Vacuum", "bandsaw", "grinder", "shaker")

# Machine types whose file names carry "noAttribute" instead of their attributes in the DCASE2024 data.
HIDDEN_ATTRIBUTES_2024 = frozenset(
    {"gearbox", "slider", "ToyTrain", "AirCompressor", "BrushlessMotor", "HoveringDrone", "ToothBrush"}
)


@cache
def machine_model(name: str) -> MachineModel:
    """The sound model of machine type ``name`` (a dedicated one, or a generic parametric machine)."""
    return DEV_MODELS.get(nearest_model_name(name)) or generic_model(name)


def hides_attributes(dataset: str, machine: str) -> bool:
    hidden_2024 = dataset.upper() == "DCASE2024T2" and machine in HIDDEN_ATTRIBUTES_2024
    return hidden_2024 or hides_attributes_2025(dataset, machine)
