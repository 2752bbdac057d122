"""The batched plant equals the scalar bicycle; the monitor's geometry equals brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.control.bicycle import BicycleState, step
from drivestack.sim.metrics import (
    MonitorConfig,
    MonitorState,
    rect_corners,
    rect_gaps,
    route_projection,
    update_metrics,
)
from drivestack.sim.vehicle import VehicleConfig, bicycle_step, clip_controls, footprint_boxes

CFG = VehicleConfig()


def test_bicycle_step_batch_equals_scalar_step_per_scenario():
    rng = np.random.default_rng(3)
    n = 64
    state = np.column_stack(
        [rng.uniform(-20, 20, (n, 2)), rng.uniform(-math.pi, math.pi, n), rng.uniform(-5, 20, n)]
    )
    controls = np.column_stack([rng.uniform(-0.55, 0.55, n), rng.uniform(-2.9, 2.9, n)])
    out = torch.from_numpy(state)
    for _ in range(25):
        out = bicycle_step(out, torch.from_numpy(controls), 0.02, CFG)
    for i in range(n):
        b = BicycleState(*state[i])
        for _ in range(25):
            b = step(
                b,
                controls[i, 0],
                controls[i, 1],
                0.02,
                wheelbase=CFG.wheelbase,
                max_steer=CFG.max_steer,
            )
        assert out[i].numpy() == pytest.approx([b.x, b.y, b.yaw, b.v], abs=1e-9)


def test_bicycle_step_float32_batch_on_the_tensor_device_keeps_dtype_and_shape():
    state = torch.zeros((3, 4), dtype=torch.float32)
    state[:, 3] = 10.0
    out = bicycle_step(state, torch.zeros((3, 2)), 0.1, CFG)
    assert out.dtype == torch.float32 and out.shape == (3, 4)
    assert out[:, 0].tolist() == pytest.approx([1.0] * 3)  # 10 m/s for 0.1 s straight ahead


def test_clip_controls_mirrors_acceleration_limits_in_reverse():
    wanted = torch.tensor(
        [[1.0, 20.0], [-1.0, -20.0], [0.0, 20.0], [0.0, -20.0], [0.0, 5.0], [0.0, -5.0]]
    )
    speed = torch.tensor([5.0, 5.0, -5.0, -5.0, 0.0, 0.0])
    u = clip_controls(wanted, speed, CFG)
    assert u[:, 0].tolist() == pytest.approx([0.6, -0.6, 0.0, 0.0, 0.0, 0.0])
    # forward: drive <= max_accel, brake >= -max_decel; reverse: braking is positive (<= max_decel),
    # driving backwards >= -max_accel; at rest: +-max_accel either way.
    assert u[:, 1].tolist() == pytest.approx([3.0, -8.0, 8.0, -3.0, 3.0, -3.0])


def test_bicycle_step_rejects_wrong_shapes_and_negative_dt():
    with pytest.raises(ValueError, match=r"state: expected shape \(B, 4\)"):
        bicycle_step(torch.zeros((2, 3)), torch.zeros((2, 2)), 0.1, CFG)
    with pytest.raises(ValueError, match=r"controls: expected shape \(2, 2\)"):
        bicycle_step(torch.zeros((2, 4)), torch.zeros((3, 2)), 0.1, CFG)
    with pytest.raises(ValueError, match="dt: must be >= 0"):
        bicycle_step(torch.zeros((2, 4)), torch.zeros((2, 2)), -0.1, CFG)
    with pytest.raises(ValueError, match="VehicleConfig.wheelbase"):
        VehicleConfig(wheelbase=0.0)


def test_footprint_box_centre_is_ahead_of_the_rear_axle_by_half_length_minus_overhang():
    box = footprint_boxes(torch.tensor([[1.0, 2.0, math.pi / 2, 0.0]]), CFG)[0]
    assert box.tolist() == pytest.approx([1.0, 2.0 + 4.5 / 2 - 1.0, 4.5, 1.9, math.pi / 2])


def _brute_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Gap between two rectangles from dense samples of both (inside test by point-in-polygon)."""
    from matplotlib.path import Path as MplPath

    ca, cb = rect_corners(a[None])[0], rect_corners(b[None])[0]
    t = np.linspace(0, 1, 400, endpoint=False)[:, None]
    pa = np.concatenate([ca[k] + t * (ca[(k + 1) % 4] - ca[k]) for k in range(4)])
    pb = np.concatenate([cb[k] + t * (cb[(k + 1) % 4] - cb[k]) for k in range(4)])
    if MplPath(cb).contains_points(pa).any() or MplPath(ca).contains_points(pb).any():
        return 0.0
    d = np.hypot(*(pa[:, None, :] - pb[None, :, :]).transpose(2, 0, 1))
    return float(d.min())


boxes = st.tuples(
    st.floats(-6, 6),
    st.floats(-6, 6),
    st.floats(0.5, 6),
    st.floats(0.5, 3),
    st.floats(-math.pi, math.pi),
).map(lambda t: np.array(t, dtype=np.float64))


@settings(max_examples=60, deadline=None)
@given(a=boxes, b=boxes)
def test_rect_gaps_equal_brute_force_distance_between_rectangles(a, b):
    gap = rect_gaps(a, b[None])[0]
    ref = _brute_gap(a, b)
    if ref == 0.0:
        assert gap <= 0.05  # sampled boundary may miss a sliver of overlap by a few cm
    else:
        assert gap == pytest.approx(ref, abs=0.05)  # sampling step of the boundary


def test_rect_gaps_known_cases():
    ego = np.array([0.0, 0.0, 4.0, 2.0, 0.0])
    others = np.array([
        [7.0, 0.0, 4.0, 2.0, 0.0],  # 3 m ahead, edge to edge
        [0.0, 4.0, 4.0, 2.0, 0.0],  # 2 m to the left
        [1.0, 0.5, 1.0, 1.0, 0.7],  # inside
        [2.0 + 1.0 + math.sqrt(0.5), 1.0, 1.0, 1.0, math.pi / 4],  # diamond, vertex 1 m from the front edge
    ])  # fmt: skip
    assert rect_gaps(ego, others).tolist() == pytest.approx([3.0, 2.0, 0.0, 1.0])
    assert rect_gaps(ego, np.zeros((0, 5))).shape == (0,)


def test_route_projection_arc_length_and_distance():
    route = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    assert route_projection(route, np.array([4.0, 1.5])) == pytest.approx((4.0, 1.5))
    assert route_projection(route, np.array([11.0, 6.0])) == pytest.approx((16.0, 1.0))
    assert route_projection(route, np.array([-3.0, 4.0])) == pytest.approx((0.0, 5.0))
    assert route_projection(route[:1], np.array([3.0, 4.0])) == pytest.approx((0.0, 5.0))


def _update(state, ego_pose, agents, ids, t_ns=0, accel=0.0):
    ego_box = footprint_boxes(torch.tensor([[*ego_pose, 0.0]]), CFG)[0].numpy()
    return update_metrics(
        state, stamp_ns=t_ns, frame_id="world", ego_box=ego_box, ego_pose=np.array(ego_pose),
        speed=5.0, acceleration=accel, agent_ids=np.array(ids), agent_boxes=np.array(agents).reshape(-1, 5),
        route_xy=np.array([[0.0, 0.0], [100.0, 0.0]]), expert_xy=np.array([20.0, 0.0]),
        config=MonitorConfig(),
    )  # fmt: skip


def test_collision_ahead_is_at_fault_and_from_behind_is_not():
    s = MonitorState()
    # ego rear axle at 0, body from -1 to 3.5 m; agent 7 overlaps the front, agent 9 the rear
    s, m = _update(
        s, (0.0, 0.0, 0.0), [[4.0, 0.0, 2.0, 2.0, 0.0], [-1.5, 0.0, 2.0, 2.0, 0.0]], [7, 9]
    )
    assert m.collision_ids.tolist() == [7, 9] and m.at_fault_ids.tolist() == [7]
    assert m.collided and m.clearance == 0.0 and m.min_clearance == 0.0
    s, m = _update(s, (50.0, 2.0, 0.0), [], [], t_ns=100_000_000, accel=2.0)  # later, clear road
    assert m.at_fault_ids.tolist() == [7]  # remembered
    assert m.clearance == MonitorConfig().clearance_range and m.min_clearance == 0.0
    assert (m.progress, m.expert_progress, m.lateral_error) == pytest.approx((50.0, 20.0, 2.0))
    assert m.max_abs_jerk == pytest.approx(20.0)  # 0 -> 2 m/s^2 in 0.1 s
