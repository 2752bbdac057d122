"""A* (tuned, csgraph, textbook) against an independent Dijkstra on the same grid model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from grid_reference import dijkstra_cost
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.msgs import PlanStatus
from drivestack.planning.astar import astar
from drivestack.planning.astar_baseline import astar_textbook
from drivestack.planning.astar_csgraph import astar_csgraph
from drivestack.planning.astar_numba import astar_numba
from drivestack.planning.base import path_cost
from drivestack.planning.scenes import random_grid

PLANNERS = [astar, astar_csgraph, astar_numba, astar_textbook]


@st.composite
def grid_problems(draw):
    h = draw(st.integers(2, 14))
    w = draw(st.integers(2, 14))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.0, 0.15, 0.3, 0.45]))
    cost = np.where(rng.random((h, w)) < density, 1.0, rng.random((h, w)) * 0.9)
    if draw(st.booleans()):
        cost = (cost >= 1.0).astype(np.float64)  # binary grid: many equal-cost ties
    start = (draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1)))
    goal = (draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1)))
    weight = draw(st.sampled_from([0.0, 1.0, 3.0]))
    return cost.astype(np.float32), start, goal, weight


@pytest.mark.parametrize("planner", PLANNERS, ids=lambda p: p.__name__)
@settings(max_examples=60, deadline=None)
@given(problem=grid_problems())
def test_astar_cost_equals_dijkstra_on_random_grids(planner, problem):
    cost, start, goal, weight = problem
    ref = dijkstra_cost(cost, start, goal, cost_weight=weight)
    res = planner(cost, start, goal, cost_weight=weight)
    if cost[start] >= 1.0 or cost[goal] >= 1.0 or math.isinf(ref):
        assert res.status == PlanStatus.NO_PATH
        assert len(res.path) == 0 and math.isinf(res.cost)
        return
    assert res.status == PlanStatus.OK
    assert res.cost == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert tuple(res.path[0]) == start and tuple(res.path[-1]) == goal
    # The reported cost is the cost of the reported path, checked move by move.
    assert path_cost(cost, res.path, cost_weight=weight) == pytest.approx(res.cost, rel=1e-9)


@pytest.mark.parametrize("planner", PLANNERS, ids=lambda p: p.__name__)
def test_astar_w1_cost_matches_dijkstra_and_textbook(planner):
    cost = random_grid(60, 0.2, 0)
    ref = dijkstra_cost(cost, (0, 0), (59, 59))
    assert planner(cost, (0, 0), (59, 59)).cost == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("planner", PLANNERS, ids=lambda p: p.__name__)
def test_astar_blocked_or_walled_goal_returns_typed_no_path(planner):
    cost = np.zeros((20, 20), np.float32)
    cost[:, 10] = 1.0  # a wall splits the grid
    assert planner(cost, (0, 0), (19, 19)).status == PlanStatus.NO_PATH
    cost = np.zeros((20, 20), np.float32)
    cost[5, 5] = 1.0
    assert planner(cost, (5, 5), (0, 0)).status == PlanStatus.NO_PATH  # start in obstacle
    assert planner(cost, (0, 0), (5, 5)).status == PlanStatus.NO_PATH  # goal in obstacle


@pytest.mark.parametrize("planner", PLANNERS, ids=lambda p: p.__name__)
def test_astar_bad_input_returns_invalid_input(planner):
    cost = np.zeros((5, 5), np.float32)
    assert planner(cost, (0, 0), (7, 0)).status == PlanStatus.INVALID_INPUT
    bad = cost.copy()
    bad[1, 1] = np.nan
    assert planner(bad, (0, 0), (4, 4)).status == PlanStatus.INVALID_INPUT


def test_astar_no_corner_cutting_between_diagonal_obstacles():
    cost = np.array([[0, 1], [1, 0]], np.float32)
    assert astar(cost, (0, 0), (1, 1)).status == PlanStatus.NO_PATH


@pytest.mark.parametrize("planner", [astar, astar_numba], ids=lambda p: p.__name__)
def test_astar_expansion_budget_returns_valid_partial_path(planner):
    cost = random_grid(80, 0.2, 0)
    res = planner(cost, (0, 0), (79, 79), max_expansions=200)
    assert res.expansions == 200
    assert res.status == PlanStatus.BUDGET_EXHAUSTED
    assert tuple(res.path[0]) == (0, 0) and len(res.path) > 1
    assert path_cost(cost, res.path) == pytest.approx(res.cost)  # legal, collision-free moves


def test_astar_numba_zero_time_budget_returns_valid_partial_path():
    cost = random_grid(200, 0.2, 0)
    res = astar_numba(cost, (0, 0), (199, 199), time_budget=0.0)
    assert res.status == PlanStatus.BUDGET_EXHAUSTED and "budget" in res.detail
    assert tuple(res.path[0]) == (0, 0) and len(res.path) > 1
    assert path_cost(cost, res.path) == pytest.approx(res.cost)


def test_astar_numba_resumed_chunks_equal_one_uninterrupted_search():
    # W1 needs ~13.6k expansions: with a (generous) time budget the compiled search stops
    # every 8192 expansions to read the clock and resumes; the result must not change.
    cost = random_grid(200, 0.2, 0)
    whole = astar_numba(cost, (0, 0), (199, 199))
    chunked = astar_numba(cost, (0, 0), (199, 199), time_budget=60.0)
    assert whole.expansions > 8192 and chunked.status == PlanStatus.OK
    assert chunked.expansions == whole.expansions and chunked.cost == whole.cost
    np.testing.assert_array_equal(chunked.path, whole.path)
    assert whole.cost == pytest.approx(astar(cost, (0, 0), (199, 199)).cost, rel=1e-12)
