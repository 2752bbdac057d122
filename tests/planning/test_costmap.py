"""Costmap layers land where the messages say, in the right frames."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivestack.msgs import EgoState, ObjectForecasts, Path, TrackedObjects
from drivestack.planning.costmap import CostmapConfig, build_costmap, cell_to_world, world_to_cell


def ego_at(x: float, y: float, yaw: float) -> EgoState:
    pose = np.eye(4)
    pose[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    pose[:2, 3] = [x, y]
    return EgoState(
        stamp_ns=5, frame_id="world", pose=pose, velocity=np.zeros(3), acceleration=np.zeros(3)
    )


def objects_in_ego(boxes: list[list[float]]) -> TrackedObjects:
    n = len(boxes)
    return TrackedObjects(
        stamp_ns=5, frame_id="ego", track_ids=np.arange(n, dtype=np.int64),
        boxes=np.asarray(boxes, np.float32), velocities=np.zeros((n, 3), np.float32),
        covariance=np.zeros((n, 6, 6), np.float32), scores=np.ones(n, np.float32),
        class_ids=np.ones(n, np.int32), ages=np.ones(n, np.int32),
    )  # fmt: skip


def cost_at(grid, xy) -> float:
    ((i, j),) = world_to_cell(grid, np.array([xy]))
    return float(grid.cost[i, j])


def test_costmap_geometry_and_cell_round_trip():
    ego = ego_at(100.0, -50.0, 0.7)
    grid = build_costmap(ego, None, None, None, CostmapConfig())
    grid.validate()
    assert grid.cost.shape == (200, 400)
    ((i, j),) = world_to_cell(grid, np.array([[100.0, -50.0]]))
    assert (i, j) == (100, 100)  # ego at (behind, width / 2) / resolution
    centre = cell_to_world(grid, np.array([[i, j]]))[0]
    assert np.hypot(*(centre - [100.0, -50.0])) <= 0.2 * math.sqrt(0.5) + 1e-9


def test_costmap_object_in_ego_frame_is_lethal_at_its_world_position_only():
    ego = ego_at(10.0, 5.0, math.pi / 2)  # facing +y: ego x forward is world +y
    grid = build_costmap(ego, None, objects_in_ego([[12.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0]]), None)
    assert cost_at(grid, (10.0, 17.0)) >= grid.lethal  # 12 m ahead of the ego
    # Grown by ego half-width + margin (1.25 m) beyond the 1 m half-width: lethal at 2.1 m ...
    assert cost_at(grid, (10.0 - 2.1, 17.0)) >= grid.lethal
    # ... soft ring beyond it, nothing far away.
    assert 0.0 < cost_at(grid, (10.0 - 2.6, 17.0)) < grid.lethal
    assert cost_at(grid, (10.0 - 6.0, 17.0)) == 0.0
    assert cost_at(grid, (10.0, 5.0)) == 0.0


def test_costmap_corridor_is_free_on_route_and_lethal_beyond_its_half_width():
    ego = ego_at(0.0, 0.0, 0.0)
    xs = np.linspace(-20, 60, 81)
    route = Path(
        stamp_ns=5, frame_id="world", poses=np.stack([xs, np.zeros_like(xs), np.zeros_like(xs)], 1)
    )
    grid = build_costmap(ego, route, None, None, CostmapConfig(corridor_half_width=3.5))
    assert cost_at(grid, (10.0, 0.05)) < 0.01
    assert 0.0 < cost_at(grid, (10.0, 2.5)) < grid.lethal
    assert cost_at(grid, (10.0, 4.0)) >= grid.lethal


def test_costmap_forecast_cost_decays_with_horizon_and_stays_below_lethal():
    ego = ego_at(0.0, 0.0, 0.0)
    fc = ObjectForecasts(
        stamp_ns=5, frame_id="world", track_ids=np.array([7], np.int64),
        horizons=np.array([0.0, 3.0]), positions=np.array([[[10.0, 0.0], [20.0, 0.0]]], np.float32),
        position_std=np.zeros((1, 2, 2), np.float32), sizes=np.array([[4.0, 2.0, 1.5]], np.float32),
        class_ids=np.array([1], np.int32),
    )  # fmt: skip
    grid = build_costmap(ego, None, None, fc)
    near, far = cost_at(grid, (10.0, 0.0)), cost_at(grid, (20.0, 0.0))
    assert grid.lethal > near > far > 0.0
    assert far == pytest.approx(near * math.exp(-3.0 / CostmapConfig().forecast_decay), rel=1e-5)


def test_costmap_unknown_frame_raises_naming_the_field():
    objs = objects_in_ego([[5.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0]])
    import dataclasses

    with pytest.raises(ValueError, match="objects: frame_id 'map'"):
        build_costmap(ego_at(0, 0, 0), None, dataclasses.replace(objs, frame_id="map"), None)
