"""D* Lite: incremental repairs give A*'s from-scratch cost after every change."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.msgs import PlanStatus
from drivestack.planning.astar import astar
from drivestack.planning.base import path_cost
from drivestack.planning.dstar_lite import DStarLite
from drivestack.planning.scenes import random_grid, w3_moving_blocks


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    size=st.integers(6, 24),
    n_changes=st.integers(1, 8),
    weight=st.sampled_from([0.0, 1.0]),
)
def test_dstar_lite_replan_cost_equals_astar_after_change(seed, size, n_changes, weight):
    rng = np.random.default_rng(seed)
    cost = np.where(rng.random((size, size)) < 0.25, 1.0, rng.random((size, size)) * 0.5)
    cost = cost.astype(np.float32)
    start, goal = (0, 0), (size - 1, size - 1)
    cost[start] = cost[goal] = 0.0
    planner = DStarLite(cost, start, goal, cost_weight=weight)
    res = planner.replan()
    for _ in range(n_changes):
        # Robot moves a few cells along its path (if it has one), sometimes with a replan
        # before the map changes ...
        if res.ok and len(res.path) > 1:
            start = tuple(int(v) for v in res.path[min(len(res.path) - 1, rng.integers(1, 4))])
            if rng.random() < 0.3:
                moved = planner.replan(None, start)
                ref_moved = astar(cost, start, goal, cost_weight=weight)
                assert moved.status == ref_moved.status
                if ref_moved.ok:
                    assert moved.cost == pytest.approx(ref_moved.cost, rel=1e-9, abs=1e-9)
        # ... and a random set of cells changes cost (blocked, freed, re-weighted).
        cost = cost.copy()
        for _ in range(rng.integers(1, 6)):
            i, j = rng.integers(0, size, 2)
            cost[i, j] = rng.choice([1.0, 0.0, float(rng.random() * 0.9)])
        res = planner.replan(cost, start)
        ref = astar(cost, start, goal, cost_weight=weight)
        assert res.status == ref.status
        if ref.ok:
            assert res.cost == pytest.approx(ref.cost, rel=1e-9, abs=1e-9)
            assert tuple(res.path[0]) == start and tuple(res.path[-1]) == goal
            assert path_cost(cost, res.path, cost_weight=weight) == pytest.approx(res.cost)
        else:
            assert len(res.path) == 0 and math.isinf(res.cost)


@pytest.mark.parametrize("block_ahead", [40, 80])
def test_dstar_lite_costs_equal_astar_when_blocks_drop_far_ahead(block_ahead):
    # Far-away blocks make long repairs through plateaus of equal-cost paths, where keys tie
    # up to float rounding: this caught a search that stopped one tie too early.
    stats = w3_moving_blocks(random_grid(200, 0.2, 0), replans=20, block_ahead=block_ahead)
    assert stats["replans"] == 20 and stats["costs_equal"]


def test_dstar_lite_pure_moves_then_change_keep_costs_exact():
    # Moves without map changes must still advance km (the search runs after every move).
    cost = random_grid(60, 0.2, 5)
    planner = DStarLite(cost, (0, 0), (59, 59))
    res = planner.replan()
    for step in range(6):
        start = tuple(int(v) for v in res.path[3])
        res = planner.replan(None, start)  # move only
        assert res.cost == pytest.approx(astar(cost, start, (59, 59)).cost, rel=1e-9)
        if step % 2:
            cost = cost.copy()
            i, j = (int(v) for v in res.path[min(8, len(res.path) - 2)])
            cost[i, j] = 1.0
            res = planner.replan(cost, start)
            assert res.cost == pytest.approx(astar(cost, start, (59, 59)).cost, rel=1e-9)


def test_dstar_lite_blocked_goal_and_walled_start_are_typed_no_path():
    cost = np.zeros((10, 10), np.float32)
    planner = DStarLite(cost, (0, 0), (9, 9))
    assert planner.replan().ok
    walled = cost.copy()
    walled[:, 5] = 1.0
    assert planner.replan(walled).status == PlanStatus.NO_PATH
    assert planner.replan(cost).ok  # the wall goes away again: repaired, not rebuilt
    blocked_goal = cost.copy()
    blocked_goal[9, 9] = 1.0
    assert planner.replan(blocked_goal).status == PlanStatus.NO_PATH
    assert planner.replan(cost[:5]).status == PlanStatus.INVALID_INPUT


def test_dstar_lite_budget_resumes_where_it_stopped():
    cost = random_grid(120, 0.2, 3)
    planner = DStarLite(cost, (0, 0), (119, 119))
    first = planner.replan(time_budget=0.0)
    assert first.status == PlanStatus.BUDGET_EXHAUSTED
    done = planner.replan()
    assert done.ok
    assert done.cost == pytest.approx(astar(cost, (0, 0), (119, 119)).cost)
