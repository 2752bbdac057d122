"""Smoothing keeps end points, never enters lethal cells, and reduces bending."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.msgs import CostGrid
from drivestack.planning.astar import astar
from drivestack.planning.costmap import cell_to_world, world_to_cell
from drivestack.planning.smoothing import smooth_path


def grid_of(cost: np.ndarray) -> CostGrid:
    return CostGrid(stamp_ns=0, frame_id="world", cost=cost.astype(np.float32),
                    origin=np.array([2.0, 1.0, 0.4]), resolution=0.2, lethal=1.0)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_smoothing_never_enters_lethal_cells_and_keeps_endpoints(seed):
    rng = np.random.default_rng(seed)
    cost = (rng.random((40, 60)) < 0.12).astype(np.float32)
    cost[0, 0] = cost[-1, -1] = 0
    res = astar(cost, (0, 0), (39, 59))
    if not res.ok:
        return
    grid = grid_of(cost)
    xy = cell_to_world(grid, res.path)
    out = smooth_path(xy, grid)
    assert out.poses[0, :2] == pytest.approx(xy[0]) and out.poses[-1, :2] == pytest.approx(xy[-1])
    assert out.valid  # the input is clear, so the worst case is the input itself
    # Independent check: the polyline sampled every 2 cm stays out of obstacle cells.
    p = out.poses[:, :2]
    t = np.linspace(0.0, 1.0, 30)[None, :, None]
    pts = (p[:-1, None] + t * (p[1:] - p[:-1])[:, None]).reshape(-1, 2)
    cells = world_to_cell(grid, pts)
    assert np.all(cost[cells[:, 0], cells[:, 1]] < 1.0)
    spacing = np.linalg.norm(np.diff(p, axis=0), axis=1)
    assert np.all(spacing <= 0.2 * np.sqrt(2) + 1e-9)


def test_smoothing_reduces_bending_of_a_staircase():
    cost = np.zeros((40, 40), np.float32)
    grid = grid_of(cost)
    cells = np.array([(i // 2 + i % 2, i // 2) for i in range(60)])  # 45-degree staircase
    xy = cell_to_world(grid, cells)
    out = smooth_path(xy, grid)
    assert out.valid and out.pinned == 0
    # The input turns 45 degrees every cell; the smoothed path barely bends.
    assert np.abs(out.curvatures[2:-2]).max() < 0.5


def test_curvature_is_the_mean_over_the_window_exact_on_an_arc():
    from drivestack.planning.smoothing import _poses

    r = 12.0
    th = np.arange(0.0, 1.2, 0.2 / r)  # 0.2 m spacing along a 12 m radius arc
    arc = np.stack([r * np.sin(th), r - r * np.cos(th)], axis=1)
    _, k = _poses(arc, window=3.0)
    inner = slice(9, -9)  # windows clear of the ends, whose headings are one-sided
    assert k[inner] == pytest.approx(np.full(len(k[inner]), 1 / r), rel=1e-3)
    assert k == pytest.approx(np.full(len(k), 1 / r), rel=0.1)
    # a 5-degree kink between two straights: pointwise differences give ~0.44 1/m there
    # (a 2.3 m radius the speed profile brakes hard for); the 3 m mean gives angle / 3 m
    x = np.arange(0.0, 20.0, 0.2)
    bend = np.deg2rad(5.0)
    kink = np.stack([x, np.where(x > 10, (x - 10) * np.tan(bend), 0.0)], axis=1)
    _, k_point = _poses(kink)
    _, k_mean = _poses(kink, window=3.0)
    assert np.abs(k_point).max() > 0.2
    assert np.abs(k_mean).max() == pytest.approx(bend / 3.0, rel=0.05)
