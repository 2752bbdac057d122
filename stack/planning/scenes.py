"""Synthetic planning scenes from a numpy seed: the benchmark workloads and test fixtures.

* ``random_grid``: W1/W2, an (n, n) grid with a fraction of random obstacle cells, corners free.
* ``parking_lot``: a 50 m x 24 m lot with two rows of perpendicular slots, all occupied but
  one; the car starts at the aisle's west end and must reverse into the free slot ~40 m away.
"""

from __future__ import annotations

import math

import numpy as np
from drivestack.msgs import CostGrid

SLOT_WIDTH = 2.7  # [m]
CAR_LENGTH, CAR_WIDTH = 4.5, 1.9  # [m] parked cars


def random_grid(n: int, obstacle_fraction: float, seed: int) -> np.ndarray:
    """(n, n) float32 grid: 1.0 obstacles with the given fraction, 0.0 free; corners free."""
    rng = np.random.default_rng(seed)
    grid = (rng.random((n, n)) < obstacle_fraction).astype(np.float32)
    grid[0, 0] = grid[-1, -1] = 0.0
    return grid


def parking_lot(
    resolution: float = 0.2, free_slot: int = 14, seed: int = 0
) -> tuple[CostGrid, tuple[float, float, float], tuple[float, float, float]]:
    """A parking-lot grid with start and goal rear-axle poses (40 m apart along the aisle).

    Args:
        resolution: [m] cell edge.
        free_slot: Index of the empty slot in the south row (slot k spans x from
            ``2 + k * SLOT_WIDTH``).
        seed: Jitters the parked cars' positions (+-0.15 m) and headings (+-3 degrees).

    Returns:
        grid: CostGrid in frame "world", origin (0, 0, 0), 1.0 = obstacle.
        start: (x, y, yaw) heading east in the aisle.
        goal: (x, y, yaw) reversed into the free slot, nose north.
    """
    rng = np.random.default_rng(seed)
    length, width = 50.0, 24.0  # [m]
    h, w = int(round(width / resolution)), int(round(length / resolution))
    ys, xs = (np.mgrid[0:h, 0:w] + 0.5) * resolution  # (H, W) cell centres [m]
    occ = np.zeros((h, w), dtype=bool)
    n_slots = int((length - 4.0) // SLOT_WIDTH)
    for row_y, nose in ((2.0 + CAR_LENGTH / 2, 1.0), (width - 2.0 - CAR_LENGTH / 2, -1.0)):
        for k in range(n_slots):
            if nose > 0 and k == free_slot:
                continue
            cx = 2.0 + (k + 0.5) * SLOT_WIDTH + rng.uniform(-0.15, 0.15)
            cy = row_y + rng.uniform(-0.15, 0.15)
            yaw = math.pi / 2 + math.radians(rng.uniform(-3, 3))
            c, s = math.cos(yaw), math.sin(yaw)
            u = c * (xs - cx) + s * (ys - cy)
            v = -s * (xs - cx) + c * (ys - cy)
            occ |= (np.abs(u) <= CAR_LENGTH / 2) & (np.abs(v) <= CAR_WIDTH / 2)
    occ[ys < 1.0] = True  # kerb walls
    occ[ys > width - 1.0] = True
    grid = CostGrid(
        stamp_ns=0,
        frame_id="world",
        cost=occ.astype(np.float32),
        origin=np.zeros(3),
        resolution=resolution,
        lethal=1.0,
    )
    slot_x = 2.0 + (free_slot + 0.5) * SLOT_WIDTH
    start = (3.5, width / 2, 0.0)
    goal = (slot_x, 2.0 + 0.9 + 0.3, math.pi / 2)  # rear axle 0.9 m ahead of the rear bumper
    return grid, start, goal
