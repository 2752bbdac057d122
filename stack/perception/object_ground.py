"""Ground height under one object, from the ground returns just around its footprint.

The detector's local ground (:func:`drivestack.perception.lidar_geometric.local_height`) is
the lowest near-plane return per 2 m cell, median-filtered over 10 m so that cells hidden
under cars take their neighbours' ground. That filter flattens raised pavements: on the
nuScenes key frames the pedestrians' feet sit a median 0.30 m above it (kerbs and
pavements), which alone costs a third of a pedestrian's 3D IoU. The returns in a ring of
``margin`` around the object's footprint see the surface it stands on; their median height
is its ground (returns within ``gap`` of the footprint are left out: they may be the
object's own bumper or feet). Where that ring holds fewer than ``min_points`` such returns (the object's
own shadow, sparse 32-beam rings far away) the local ground stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.datasets.convention import points_in_boxes


@dataclass(frozen=True)
class Support:
    """Candidate ground returns of a scan, sorted by x for windowed look-ups.

    Attributes:
        xyz: (S, 3) float64 [m] returns within the step range of the local ground.
    """

    xyz: np.ndarray


def support_points(
    xyz: np.ndarray, height: np.ndarray, min_depth: float, max_step: float
) -> Support:
    """Returns whose height above the local ground is in [``min_depth``, ``max_step``].

    Args:
        xyz: (N, 3) [m] scan, ego frame.
        height: (N,) [m] height above the local ground.
        min_depth: [m] lowest dip below the local ground (gutters, noise), e.g. -0.3.
        max_step: [m] highest kerb/pavement above the local ground, e.g. 0.45.
    """
    pts = xyz[(height >= min_depth) & (height <= max_step)]  # (S, 3)
    return Support(pts[np.argsort(pts[:, 0], kind="stable")])


def ground_under(
    box: np.ndarray, support: Support, gap: float, margin: float, min_points: int
) -> float | None:
    """[m] median z of the support returns in the ring around ``box``'s footprint.

    Args:
        box: (7,) stack box (its z and height are not used).
        support: the scan's candidate ground returns.
        gap: [m] the ring starts this far out: nearer returns may be the object's own low
            parts (a bumper beyond the prior-sized footprint, a foot).
        margin: [m] the ring ends this far out.
        min_points: fewer returns in the ring: None.

    Returns:
        The ground z, or None when the ring holds fewer than ``min_points`` returns.
    """
    reach = float(np.hypot(box[3], box[4])) / 2 + margin  # [m] bounding radius
    xs = support.xyz[:, 0]
    lo, hi = np.searchsorted(xs, [box[0] - reach, box[0] + reach])
    near = support.xyz[lo:hi]  # (W, 3) x window
    near = near[np.abs(near[:, 1] - box[1]) <= reach]
    if len(near) < min_points:
        return None
    tall = np.array([box[0], box[1], np.median(near[:, 2]), box[3], box[4], 1e3, box[6]])
    grown, inner = tall.copy(), tall.copy()
    grown[3:5] += 2 * margin
    inner[3:5] += 2 * gap
    inside = points_in_boxes(near, np.stack([grown, inner]))  # (W, 2)
    ring = near[inside[:, 0] & ~inside[:, 1], 2]
    return float(np.median(ring)) if len(ring) >= min_points else None
