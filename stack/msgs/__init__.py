"""Bus messages. See ``base.py`` for the contract and each module for the types."""

from drivestack.msgs.base import ArraySpec, Message, MessageError, array_field, check_finite
from drivestack.msgs.classes import ObjectClass
from drivestack.msgs.ego import EgoState
from drivestack.msgs.objects import Detections2D, Detections3D, ObjectForecasts, TrackedObjects
from drivestack.msgs.planning import (
    BehaviourCommand,
    ControlCommand,
    CostGrid,
    Manoeuvre,
    Path,
    PlanStatus,
    Trajectory,
)
from drivestack.msgs.sensors import CameraCalibration, Image, PointCloud
from drivestack.msgs.sim import ScenarioMetrics

# Every concrete message type by its class name: the recorder's schema names come from here.
MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.__name__: cls
    for cls in (
        PointCloud,
        Image,
        CameraCalibration,
        EgoState,
        Detections2D,
        Detections3D,
        TrackedObjects,
        ObjectForecasts,
        CostGrid,
        Path,
        Trajectory,
        BehaviourCommand,
        ControlCommand,
        ScenarioMetrics,
    )
}

__all__ = [
    "ArraySpec",
    "BehaviourCommand",
    "CameraCalibration",
    "ControlCommand",
    "CostGrid",
    "Detections2D",
    "Detections3D",
    "EgoState",
    "Image",
    "MESSAGE_TYPES",
    "Manoeuvre",
    "Message",
    "MessageError",
    "ObjectClass",
    "ObjectForecasts",
    "Path",
    "PlanStatus",
    "PointCloud",
    "ScenarioMetrics",
    "TrackedObjects",
    "Trajectory",
    "array_field",
    "check_finite",
]
