"""nuScenes category names -> the stack's :class:`ObjectClass` (all 23 annotation categories)."""

from __future__ import annotations

from drivestack.datasets.errors import DataError
from drivestack.msgs import ObjectClass

NUSCENES_CLASSES: dict[str, ObjectClass] = {
    "animal": ObjectClass.UNKNOWN,
    "human.pedestrian.adult": ObjectClass.PEDESTRIAN,
    "human.pedestrian.child": ObjectClass.PEDESTRIAN,
    "human.pedestrian.construction_worker": ObjectClass.PEDESTRIAN,
    "human.pedestrian.personal_mobility": ObjectClass.PEDESTRIAN,
    "human.pedestrian.police_officer": ObjectClass.PEDESTRIAN,
    "human.pedestrian.stroller": ObjectClass.PEDESTRIAN,
    "human.pedestrian.wheelchair": ObjectClass.PEDESTRIAN,
    "movable_object.barrier": ObjectClass.BARRIER,
    "movable_object.debris": ObjectClass.MISC,
    "movable_object.pushable_pullable": ObjectClass.MISC,
    "movable_object.trafficcone": ObjectClass.TRAFFIC_CONE,
    "static_object.bicycle_rack": ObjectClass.MISC,
    # nuScenes boxes bicycles and motorcycles with or without a rider (an attribute says
    # which); the stack has only rider classes, so both map to them.
    "vehicle.bicycle": ObjectClass.CYCLIST,
    "vehicle.motorcycle": ObjectClass.MOTORCYCLIST,
    "vehicle.bus.bendy": ObjectClass.BUS,
    "vehicle.bus.rigid": ObjectClass.BUS,
    "vehicle.car": ObjectClass.CAR,
    "vehicle.construction": ObjectClass.TRUCK,  # no construction-vehicle class in the stack
    "vehicle.emergency.ambulance": ObjectClass.VAN,
    "vehicle.emergency.police": ObjectClass.CAR,
    "vehicle.trailer": ObjectClass.TRAILER,
    "vehicle.truck": ObjectClass.TRUCK,
}


def nuscenes_class_id(category: str, source: str) -> ObjectClass:
    """Maps a category name; ``source`` (table and token) is named if it is unknown."""
    try:
        return NUSCENES_CLASSES[category]
    except KeyError:
        raise DataError(f"{source}: unknown nuScenes category {category!r}") from None
