"""The stack's object classes. Dataset readers map their labels into these at the boundary."""

from __future__ import annotations

from enum import IntEnum


class ObjectClass(IntEnum):
    """Object class ids carried in ``class_ids`` arrays (int32)."""

    UNKNOWN = 0
    CAR = 1
    VAN = 2
    TRUCK = 3
    BUS = 4
    TRAM = 5
    TRAILER = 6
    PEDESTRIAN = 7
    PERSON_SITTING = 8
    CYCLIST = 9
    MOTORCYCLIST = 10
    BARRIER = 11
    TRAFFIC_CONE = 12
    MISC = 13
    DONT_CARE = 14  # KITTI's DontCare regions: neither true nor false positives.
