"""KITTI class names -> the stack's :class:`ObjectClass` (object and tracking labels)."""

from __future__ import annotations

from drivestack.datasets.errors import DataError
from drivestack.msgs import ObjectClass

KITTI_CLASSES: dict[str, ObjectClass] = {
    "Car": ObjectClass.CAR,
    "Van": ObjectClass.VAN,
    "Truck": ObjectClass.TRUCK,
    "Pedestrian": ObjectClass.PEDESTRIAN,
    "Person_sitting": ObjectClass.PERSON_SITTING,
    "Person": ObjectClass.PERSON_SITTING,  # the tracking labels write Person_sitting as "Person"
    "Cyclist": ObjectClass.CYCLIST,
    "Tram": ObjectClass.TRAM,
    "Misc": ObjectClass.MISC,
    "DontCare": ObjectClass.DONT_CARE,
}


def kitti_class_id(name: str, source: str) -> ObjectClass:
    """Maps a KITTI type name; ``source`` ("file:line") is named if the name is unknown."""
    try:
        return KITTI_CLASSES[name]
    except KeyError:
        raise DataError(
            f"{source}: unknown KITTI class {name!r} (known: {', '.join(KITTI_CLASSES)})"
        ) from None
