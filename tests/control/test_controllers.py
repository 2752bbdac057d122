"""Controllers in closed loop with the kinematic bicycle: they converge onto the plan."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.control.base import TrackerConfig, TrackerState, track
from drivestack.control.bicycle import BicycleState, step
from drivestack.control.pid import PidConfig, PidState, pid_step
from drivestack.control.pure_pursuit import pure_pursuit
from drivestack.control.stanley import stanley
from drivestack.msgs import EgoState, PlanStatus, Trajectory
from drivestack.planning.speed_profile import SpeedProfileConfig, build_trajectory


def ego_from(state: BicycleState, stamp_ns: int, steer: float = 0.0) -> EgoState:
    pose = np.eye(4)
    c, s = math.cos(state.yaw), math.sin(state.yaw)
    pose[:2, :2] = [[c, -s], [s, c]]
    pose[:2, 3] = [state.x, state.y]
    return EgoState(stamp_ns=stamp_ns, frame_id="world", pose=pose, velocity=np.array([state.v, 0, 0]),
                    acceleration=np.zeros(3), steering_angle=steer)  # fmt: skip


def s_curve(spacing: float = 0.5) -> np.ndarray:
    """(N, 3) a 3.5 m lane change over ~40 m between straights."""
    x = np.arange(0.0, 120.0, spacing)
    y = 3.5 / (1.0 + np.exp(-(x - 60.0) / 6.0))
    yaw = np.arctan2(np.gradient(y, x), 1.0)
    return np.stack([x, y, yaw], axis=1)


FINE = s_curve(0.01)


def cross_track(x: float, y: float) -> float:
    """[m] distance to the lane change, sampled every centimetre."""
    return float(np.min(np.hypot(FINE[:, 0] - x, FINE[:, 1] - y)))


@pytest.mark.parametrize("law", [pure_pursuit, stanley], ids=["pure_pursuit", "stanley"])
def test_lateral_control_converges_onto_lane_change_from_offset(law):
    path = s_curve()
    state = BicycleState(0.0, -1.0, 0.2, 8.0)  # 1 m off and 11 degrees askew
    index, errors, steers = 0, [], []
    for _ in range(140):  # 14 s at 10 Hz, 8 m/s
        steer, index = law((state.x, state.y, state.yaw), state.v, path, start_index=index)
        steers.append(steer)
        state = step(state, steer, 0.0, 0.1)
        errors.append(cross_track(state.x, state.y))
    assert max(errors[40:]) < 0.25  # after 4 s it follows the lane change closely
    assert errors[-1] < 0.05
    assert max(abs(s) for s in steers) <= 0.6


def test_pure_pursuit_holds_a_circle_of_its_own_radius():
    r = 15.0
    th = np.linspace(0, 1.9 * math.pi, 600)
    path = np.stack([r * np.sin(th), r - r * np.cos(th), th], axis=1)
    state, index = BicycleState(0.0, 0.0, 0.0, 5.0), 0
    for _ in range(150):
        steer, index = pure_pursuit((state.x, state.y, state.yaw), state.v, path, start_index=index)
        state = step(state, steer, 0.0, 0.1)
    assert abs(math.hypot(state.x, state.y - r) - r) < 0.15
    assert steer == pytest.approx(math.atan(2.7 / r), abs=0.03)  # bicycle steady state


@settings(max_examples=100, deadline=None)
@given(errors=st.lists(st.floats(-50, 50), min_size=1, max_size=60), dt=st.floats(0.01, 0.5))
def test_pid_output_saturates_and_integral_stays_clamped(errors, dt):
    cfg = PidConfig()
    state = PidState()
    for e in errors:
        out, state = pid_step(state, e, dt, cfg)
        assert cfg.output_min <= out <= cfg.output_max
        assert abs(state.integral) <= cfg.integral_limit + 1e-12


def test_pid_speed_loop_reaches_setpoint_without_overshoot_from_windup():
    cfg = PidConfig()
    state, v = PidState(), 0.0
    trace = []
    for _ in range(300):
        a, state = pid_step(state, 10.0 - v, 0.1, cfg)
        v += a * 0.1
        trace.append(v)
    assert trace[-1] == pytest.approx(10.0, abs=0.05)
    assert max(trace) < 10.8  # saturated for seconds, yet little overshoot: no windup


def test_tracker_follows_planned_trajectory_and_stops_at_its_end():
    path = s_curve()[:160]  # 80 m, ends mid lane change
    state = BicycleState(0.0, 0.0, 0.0, 0.0)
    ego = ego_from(state, 0)
    curv = np.gradient(path[:, 2], 0.5)
    traj = build_trajectory(path, curv, ego, SpeedProfileConfig(speed_limit=10.0))
    tracker, t_ns = TrackerState(), 0
    for _ in range(400):
        cmd, tracker = track(ego, traj, tracker, t_ns, TrackerConfig(lateral="stanley"))
        cmd.validate()
        state = step(state, cmd.steering_angle, cmd.acceleration, 0.1)
        t_ns += 100_000_000
        ego = ego_from(state, t_ns, cmd.steering_angle)
    assert math.hypot(state.x - path[-1, 0], state.y - path[-1, 1]) < 1.5
    assert abs(state.v) < 0.3


def test_tracker_brakes_on_no_path_and_rejects_frame_mismatch():
    state = BicycleState(0.0, 0.0, 0.0, 6.0)
    ego = ego_from(state, 0)
    stop = Trajectory(stamp_ns=0, frame_id="world", times=np.zeros(1), poses=np.zeros((1, 3)),
                      speeds=np.zeros(1), accelerations=np.zeros(1), curvatures=np.zeros(1),
                      status=PlanStatus.NO_PATH, detail="blocked")  # fmt: skip
    cmd, _ = track(ego, stop, TrackerState(), 0)
    assert cmd.acceleration < 0
    with pytest.raises(ValueError, match="frame"):
        track(ego, Trajectory(**{**stop.__dict__, "frame_id": "map"}), TrackerState(), 0)
    with pytest.raises(ValueError, match="lateral"):
        TrackerConfig(lateral="mpc")


def reverse_arc(length: float = 14.0, radius: float = 20.0, ds: float = 0.1) -> np.ndarray:
    """(N, 3) rear-axle poses reversing from the origin: 4 m straight, then a left-curving arc."""
    poses = [(0.0, 0.0, 0.0)]
    for k in range(int(round(length / ds))):
        x, y, yaw = poses[-1]
        kappa = 1.0 / radius if k * ds >= 4.0 else 0.0
        yaw_new = yaw - ds * kappa  # reversing: yaw changes by direction * kappa * ds
        mid = 0.5 * (yaw + yaw_new)
        poses.append((x - ds * math.cos(mid), y - ds * math.sin(mid), yaw_new))
    return np.asarray(poses)


@pytest.mark.parametrize("v0", [0.0, -2.0], ids=["from_rest", "already_reversing"])
def test_reverse_manoeuvre_tracked_closed_loop_ends_at_its_target(v0):
    path = reverse_arc()
    curv = np.where(np.arange(len(path)) * 0.1 >= 4.0, 1.0 / 20.0, 0.0)
    state = BicycleState(0.0, 0.0, 0.0, v0)
    ego = ego_from(state, 0)
    traj = build_trajectory(path, curv, ego, SpeedProfileConfig(speed_limit=3.0),
                            directions=-np.ones(len(path), np.int8))  # fmt: skip
    assert (traj.speeds <= 0).all() and traj.speeds[0] == pytest.approx(v0)
    tracker, t_ns = TrackerState(), 0
    for _ in range(250):  # 25 s at 10 Hz
        cmd, tracker = track(ego, traj, tracker, t_ns)
        state = step(state, cmd.steering_angle, cmd.acceleration, 0.1)
        t_ns += 100_000_000
        ego = ego_from(state, t_ns, cmd.steering_angle)
    assert math.hypot(state.x - path[-1, 0], state.y - path[-1, 1]) < 0.3
    assert abs((state.yaw - path[-1, 2] + math.pi) % (2 * math.pi) - math.pi) < 0.05
    assert abs(state.v) < 0.05


def test_braking_in_reverse_is_positive_and_as_strong_as_forward():
    # ControlCommand.acceleration is d(signed speed)/dt: braking opposes the motion. The old
    # reading ("negative brakes", with forward-only bounds) capped reverse braking at the
    # forward drive limit (+2 m/s^2) and let the car speed up backwards at 6 m/s^2.
    stop = Trajectory(stamp_ns=0, frame_id="world", times=np.zeros(1), poses=np.zeros((1, 3)),
                      speeds=np.zeros(1), accelerations=np.zeros(1), curvatures=np.zeros(1),
                      status=PlanStatus.NO_PATH, detail="blocked")  # fmt: skip
    cfg = TrackerConfig()
    fwd, _ = track(ego_from(BicycleState(0, 0, 0, 8.0), 0), stop, TrackerState(), 0, cfg)
    rev, _ = track(ego_from(BicycleState(0, 0, 0, -8.0), 0), stop, TrackerState(), 0, cfg)
    assert fwd.acceleration == pytest.approx(cfg.pid.output_min)
    assert rev.acceleration == pytest.approx(-cfg.pid.output_min)  # +6: brakes backward motion
    # Closed loop: the emergency stop takes the same distance in either direction.
    dist = []
    for v in (8.0, -8.0):
        state, tracker, t_ns = BicycleState(0, 0, 0, v), TrackerState(), 0
        for _ in range(40):
            cmd, tracker = track(ego_from(state, t_ns), stop, tracker, t_ns, cfg)
            state = step(state, cmd.steering_angle, cmd.acceleration, 0.1)
            t_ns += 100_000_000
        assert abs(state.v) < 0.05
        dist.append(abs(state.x))
    assert dist[0] == pytest.approx(dist[1], abs=1e-6) and dist[0] < 8.0


def test_stop_trajectory_brakes_against_the_motion_in_reverse():
    from drivestack.planning.speed_profile import stop_trajectory

    for v, sign in ((5.0, -1.0), (-5.0, 1.0), (0.0, 0.0)):
        traj = stop_trajectory(ego_from(BicycleState(0, 0, 0, v), 0), PlanStatus.NO_PATH, "x", 3.0)
        assert traj.accelerations[0] == sign * 3.0


def _approach_stop(config: TrackerConfig) -> np.ndarray:
    """Commands [m/s^2] of a 20 Hz controller while a 10 Hz planner replans, from the current
    speed each time, a straight road to a stop 40 m ahead of where the car started at 8 m/s
    (the closed loop's shape: every new profile begins with a short burst before braking)."""
    x = np.arange(0.0, 60.0, 0.2)
    road = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=1)
    state, tracker, commands = BicycleState(0.0, 0.0, 0.0, 8.0), TrackerState(), []
    traj = None
    for k in range(120):  # 6 s
        t_ns = k * 50_000_000
        ego = ego_from(state, t_ns)
        if k % 2 == 0:  # the planner's tick: the rest of the road from the car's position
            ahead = road[road[:, 0] >= state.x]
            poses = np.vstack([[state.x, 0.0, 0.0], ahead])
            traj = build_trajectory(poses, np.zeros(len(poses)), ego,
                                    stop_at=max(40.0 - state.x, 0.0))  # fmt: skip
        assert traj is not None
        cmd, tracker = track(ego, traj, tracker, t_ns, config)
        commands.append(cmd.acceleration)
        state = step(state, 0.0, cmd.acceleration, 0.05)
    return np.array(commands)


def test_feedforward_over_a_horizon_does_not_chatter_on_replanned_profiles():
    # Regression: the feed-forward used the plan's acceleration at the nearest sample. A
    # profile replanned from the current speed starts with a +1.5 m/s^2 burst before its
    # -3 m/s^2 braking, so the command flipped between the two every tick (closed loop on
    # KITTI 0006: jerk 100-150 m/s^3). The mean acceleration over 0.5 s follows the braking.
    smooth = _approach_stop(TrackerConfig())
    old = _approach_stop(TrackerConfig(feedforward_horizon_s=0.0))

    def flips(a: np.ndarray) -> int:
        return int(np.sum(np.abs(np.diff(a)) > 2.0))  # steps of over 2 m/s^2 in 50 ms

    assert flips(old) >= 5, old  # the old law chatters here (so this test can fail)
    assert flips(smooth) <= 1, smooth
    assert np.max(np.abs(np.diff(smooth))) / 0.05 < 40.0  # jerk [m/s^3]


def test_mean_acceleration_is_the_speed_change_over_the_horizon():
    from drivestack.control.base import mean_acceleration

    t = np.array([0.0, 0.1, 0.5, 1.0])
    v = np.array([5.0, 5.15, 3.95, 2.45])  # +1.5 for 0.1 s, then -3
    traj = Trajectory(stamp_ns=0, frame_id="world", times=t, poses=np.zeros((4, 3)), speeds=v,
                      accelerations=np.r_[np.diff(v) / np.diff(t), 0.0], curvatures=np.zeros(4),
                      status=PlanStatus.OK)  # fmt: skip
    assert mean_acceleration(traj, 0, 0.5) == pytest.approx((3.95 - 5.0) / 0.5)
    assert mean_acceleration(traj, 0, 0.0) == pytest.approx(1.5)  # the sample's own
    assert mean_acceleration(traj, 2, 5.0) == pytest.approx(-3.0)  # cut at the plan's end
    assert mean_acceleration(traj, 3, 0.5) == 0.0  # last sample
