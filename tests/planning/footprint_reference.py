"""Reference check of an oriented footprint against a cost grid, independent of the planners."""

from __future__ import annotations

import math

import numpy as np

from drivestack.msgs import CostGrid
from drivestack.planning.hybrid_astar import HybridAStarConfig


def rectangle_hits_obstacle(grid: CostGrid, poses: np.ndarray, cfg: HybridAStarConfig) -> bool:
    """Dense point sampling of the oriented footprint rectangle (5 cm) against obstacle cells."""
    u = np.linspace(-cfg.rear_overhang, cfg.length - cfg.rear_overhang, 91)
    v = np.linspace(-cfg.width / 2, cfg.width / 2, 39)
    uu, vv = (a.ravel() for a in np.meshgrid(u, v))
    blocked = np.asarray(grid.cost) >= grid.lethal
    for x, y, yaw in poses:
        wx = x + np.cos(yaw) * uu - np.sin(yaw) * vv - grid.origin[0]
        wy = y + np.sin(yaw) * uu + np.cos(yaw) * vv - grid.origin[1]
        c, s = math.cos(grid.origin[2]), math.sin(grid.origin[2])
        i = np.floor((-s * wx + c * wy) / grid.resolution).astype(int)  # grid-local y
        j = np.floor((c * wx + s * wy) / grid.resolution).astype(int)  # grid-local x
        outside = (i < 0) | (j < 0) | (i >= blocked.shape[0]) | (j >= blocked.shape[1])
        if outside.any() or blocked[i, j].any():
            return True
    return False
