"""Compiled D* Lite: A*'s costs after every change, the reference's expansions, typed failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.msgs import PlanStatus
from drivestack.planning.astar_numba import astar_numba
from drivestack.planning.base import path_cost
from drivestack.planning.dstar_lite import DStarLite
from drivestack.planning.dstar_lite_numba import DStarLiteNumba
from drivestack.planning.pipeline import PlannerConfig, PlannerState, plan_step
from drivestack.planning.scenes import random_grid, road_scene, w3_moving_blocks


def _assert_same_as_reference(res, ref_dstar, cost, start, goal, weight):
    """res (compiled) vs the Python D* Lite and A* from scratch on the same problem."""
    astar = astar_numba(cost, start, goal, cost_weight=weight)
    assert res.status == ref_dstar.status == astar.status
    assert res.expansions == ref_dstar.expansions  # same cells, same order
    if astar.ok:
        assert res.cost == pytest.approx(astar.cost, rel=1e-9, abs=1e-9)
        assert res.cost == ref_dstar.cost  # same sums in the same order: bit-identical
        np.testing.assert_array_equal(res.path, ref_dstar.path)
        assert tuple(res.path[0]) == start and tuple(res.path[-1]) == goal
        assert path_cost(cost, res.path, cost_weight=weight) == pytest.approx(res.cost, rel=1e-12)
    else:
        assert len(res.path) == 0 and math.isinf(res.cost)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    size=st.integers(6, 24),
    n_changes=st.integers(1, 8),
    weight=st.sampled_from([0.0, 1.0, 2.0]),
)
def test_dstar_lite_numba_cost_equals_astar_and_reference_after_random_changes(
    seed, size, n_changes, weight
):
    rng = np.random.default_rng(seed)
    cost = np.where(rng.random((size, size)) < 0.25, 1.0, rng.random((size, size)) * 0.5)
    cost = cost.astype(np.float32)
    start, goal = (0, 0), (size - 1, size - 1)
    cost[start] = cost[goal] = 0.0
    compiled = DStarLiteNumba(cost, start, goal, cost_weight=weight)
    reference = DStarLite(cost, start, goal, cost_weight=weight)
    res, ref = compiled.replan(), reference.replan()
    _assert_same_as_reference(res, ref, cost, start, goal, weight)
    for _ in range(n_changes):
        # The robot moves a few cells along its path, sometimes replanning before the map
        # changes (km must follow every move) ...
        if res.ok and len(res.path) > 1:
            start = tuple(int(v) for v in res.path[min(len(res.path) - 1, rng.integers(1, 4))])
            if rng.random() < 0.3:
                res, ref = compiled.replan(None, start), reference.replan(None, start)
                _assert_same_as_reference(res, ref, cost, start, goal, weight)
        # ... and random cells change cost (blocked, freed, re-weighted).
        cost = cost.copy()
        for _ in range(rng.integers(1, 6)):
            i, j = rng.integers(0, size, 2)
            cost[i, j] = rng.choice([1.0, 0.0, float(rng.random() * 0.9)])
        res, ref = compiled.replan(cost, start), reference.replan(cost, start)
        _assert_same_as_reference(res, ref, cost, start, goal, weight)
        assert res.detail == ref.detail  # e.g. the robot's own cell blocked


def test_dstar_lite_numba_replan_after_block_on_path_avoids_it_and_repairs_locally():
    cost = random_grid(80, 0.2, 7)
    goal = (79, 79)
    planner = DStarLiteNumba(cost, (0, 0), goal)
    first = planner.replan()
    assert first.ok
    start = tuple(int(v) for v in first.path[10])
    bi, bj = (int(v) for v in first.path[25])
    blocked = cost.copy()
    blocked[bi - 2 : bi + 3, bj - 2 : bj + 3] = 1.0
    res = planner.replan(blocked, start)
    scratch = astar_numba(blocked, start, goal)
    assert res.ok and res.cost == pytest.approx(scratch.cost, rel=1e-9)
    assert (blocked[first.path[10:, 0], first.path[10:, 1]] >= 1.0).any()  # it was in the way
    assert res.cost >= first.cost - path_cost(cost, first.path[:11]) - 1e-9  # never cheaper
    assert not (blocked[res.path[:, 0], res.path[:, 1]] >= 1.0).any()
    assert res.expansions * 5 < scratch.expansions  # repaired, not searched again


def test_dstar_lite_numba_w3_expands_as_the_reference_and_10x_fewer_than_astar():
    # Also the reference's W3 check (it lived in test_dstar_lite.py): one W3 run serves both.
    stats = w3_moving_blocks(random_grid(200, 0.2, 0), replans=20)
    assert stats["replans"] == 20 and stats["costs_equal"] and stats["dstar_expansions_equal"]
    assert stats["dstar_numba_expansions"] == stats["dstar_expansions"]
    assert stats["astar_expansions"] >= 10 * stats["dstar_numba_expansions"]


def test_dstar_lite_numba_unreachable_or_blocked_is_typed_no_path_and_recovers():
    cost = np.zeros((10, 10), np.float32)
    planner = DStarLiteNumba(cost, (0, 0), (9, 9))
    assert planner.replan().ok
    walled = cost.copy()
    walled[:, 5] = 1.0
    res = planner.replan(walled)
    assert res.status == PlanStatus.NO_PATH and "unreachable" in res.detail
    assert len(res.path) == 0 and math.isinf(res.cost)
    assert planner.replan(cost).cost == pytest.approx(9 * math.sqrt(2))  # wall gone: repaired
    blocked_goal = cost.copy()
    blocked_goal[9, 9] = 1.0
    assert planner.replan(blocked_goal).status == PlanStatus.NO_PATH
    assert planner.replan(cost).ok
    blocked_start = cost.copy()
    blocked_start[2, 2] = 1.0
    res = planner.replan(blocked_start, (2, 2))
    assert res.status == PlanStatus.NO_PATH and "start" in res.detail
    assert planner.replan(None, (2, 3)).cost == pytest.approx(astar_numba(blocked_start, (2, 3),
                                                                          (9, 9)).cost)  # fmt: skip


def test_dstar_lite_numba_bad_input_is_invalid_and_keeps_the_search():
    cost = random_grid(30, 0.2, 2)
    planner = DStarLiteNumba(cost, (0, 0), (29, 29))
    first = planner.replan()
    nan = cost.copy()
    nan[3, 4] = np.nan
    bad = [
        planner.replan(cost[:10]),  # wrong shape
        planner.replan(nan),
        planner.replan(-cost),
        planner.replan(None, (30, 0)),  # start outside the grid
        planner.replan(cost, (-1, 2)),
    ]
    assert [r.status for r in bad] == [PlanStatus.INVALID_INPUT] * len(bad)
    assert "shape" in bad[0].detail and "NaN" in bad[1].detail and "outside" in bad[3].detail
    again = planner.replan()  # nothing was lost: no repair to do
    assert again.ok and again.cost == first.cost and again.expansions == 0
    fresh = DStarLiteNumba(nan, (0, 0), (29, 29))  # the first grid is checked too
    assert fresh.replan().status == PlanStatus.INVALID_INPUT
    assert fresh.replan(cost).cost == first.cost  # then a good grid plans normally


def test_dstar_lite_numba_budget_pauses_and_resumes_to_the_uninterrupted_result():
    cost = random_grid(120, 0.2, 3)
    planner = DStarLiteNumba(cost, (0, 0), (119, 119))
    first = planner.replan(time_budget=0.0)
    assert first.status == PlanStatus.BUDGET_EXHAUSTED and len(first.path) == 0
    done = planner.replan()
    whole = DStarLiteNumba(cost, (0, 0), (119, 119)).replan()
    assert done.ok and done.cost == whole.cost
    assert first.expansions + done.expansions == whole.expansions


@pytest.mark.parametrize("planner", ["dstar_lite", "dstar_lite_python"])
def test_pipeline_dstar_lite_names_pick_compiled_and_reference(planner):
    cfg = PlannerConfig(grid_planner=planner, time_budget=None)
    state = PlannerState()
    traj, _, state = plan_step(road_scene(), state, cfg)
    expected = "DStarLiteNumba" if planner == "dstar_lite" else "DStarLite"
    assert type(state.dstar).__name__ == expected
    assert traj.status == PlanStatus.OK
    other = "dstar_lite_python" if planner == "dstar_lite" else "dstar_lite"
    traj_other, _, _ = plan_step(road_scene(), PlannerState(), PlannerConfig(grid_planner=other,
                                                                             time_budget=None))  # fmt: skip
    np.testing.assert_array_equal(traj.poses, traj_other.poses)  # same search, same plan


def test_dstar_lite_numba_any_grid_dtype_or_layout_plans_alike_without_recompiling():
    from drivestack.planning import dstar_lite_numba

    dstar_lite_numba.warm_up()
    kernels = (dstar_lite_numba._apply_costs, dstar_lite_numba._repair, dstar_lite_numba._compute)
    signatures = [len(k.signatures) for k in kernels]
    base = random_grid(40, 0.2, 5)
    results = []
    for grid in (base, base.astype(np.float64), base.astype(np.uint8), base.T.copy().T):
        planner = DStarLiteNumba(grid, (0, 0), (39, 39))
        first = planner.replan()
        changed = grid.copy()
        changed[10:14, 10:14] = 1
        results.append((first.cost, planner.replan(changed, tuple(first.path[3])).cost))
    assert len(set(results)) == 1
    assert [len(k.signatures) for k in kernels] == signatures  # nothing compiled in a "tick"
