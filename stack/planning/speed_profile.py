"""Speed profile and trajectory: curvature, speed limit, stops and yields for forecasts.

Along a path with arc length ``s`` the allowed speed is

    v_max(s) = min(speed_limit, sqrt(max_lat_accel / |kappa(s)|)),  0 at cusps and stops,

and the profile is the largest speed under v_max reachable with ``max_accel`` forward
in s and ``max_decel`` backward in s (the classic two-pass "forward-backward" profile:
``v_{i+1}^2 <= v_i^2 + 2 a ds``). Forecast objects whose predicted footprint comes within
``conflict_half_width`` of the path at a time near the ego's arrival there (within
``yield_time_gap``) put a stop ``stop_margin`` before the conflict; objects already on the
path (horizon 0) always do, and so do objects still on it at the last forecast horizon when
the ego would arrive later. The trajectory ends where the ego comes to rest at a stop.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from drivestack.msgs import EgoState, ObjectForecasts, PlanStatus, Trajectory


@dataclass(frozen=True)
class SpeedProfileConfig:
    """Limits and stop/yield rules."""

    speed_limit: float = 13.9  # [m/s]
    max_lat_accel: float = 2.0  # [m/s^2]
    max_accel: float = 1.5  # [m/s^2]
    max_decel: float = 3.0  # [m/s^2]
    conflict_half_width: float = 1.5  # [m] ego half-width + margin, lateral to the path
    stop_margin: float = 4.0  # [m] stop the reference point this far before a conflict
    yield_time_gap: float = 2.0  # [s] a forecast within this of the ego's arrival blocks
    stop_at_end: bool = True  # come to rest at the path's end: nothing beyond it was checked
    # The curvature that caps the speed is its mean over curvature_window_min + gain x speed of
    # path. The car's controller drives a low-passed path (pure pursuit looks 3 m + 0.6 s x
    # speed ahead), not the grid path's small jogs, which at 15 m/s cap the speed at about
    # 8 m/s through the 3 m window alone (KITTI 0008: 62 % of the plans). Off by default (0:
    # the path's own curvature, e.g. the smoothing's 3 m mean, caps the speed):
    # 0.3 s fixes every progress shortfall of the 21-drive sweep but takes three more drives
    # over 1 m of lateral error and one closer to a car (sim README, "curvature window").
    curvature_window_min: float = 3.0  # [m]
    curvature_window_gain: float = 0.0  # [s] the window grows by this times the start speed


def arc_length(xy: np.ndarray) -> np.ndarray:
    """(N,) [m] cumulative distance along (N, 2) points."""
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])


def mean_curvature(s: np.ndarray, heading: np.ndarray, window: float) -> np.ndarray:
    """(N,) [1/m] mean curvature over the ``window`` [m] of path centred on each point.

    The heading change across the window divided by its length: exact on an arc, near zero
    across a short S-shaped jog. The window shrinks at the ends of the path.
    """
    if len(s) < 2 or s[-1] <= 0 or window <= 0:
        return np.zeros(len(s))
    lo, hi = np.maximum(s - window / 2, 0.0), np.minimum(s + window / 2, s[-1])
    turn = np.unwrap(heading)
    return (np.interp(hi, s, turn) - np.interp(lo, s, turn)) / np.maximum(hi - lo, 1e-9)


def speed_limits(
    s: np.ndarray, curvatures: np.ndarray, config: SpeedProfileConfig,
    stop_at: float | None = None, cusps: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """(N,) [m/s] pointwise speed cap: limit, lateral acceleration, cusps, a stop, the end."""
    vmax = np.full(len(s), config.speed_limit)
    bend = np.abs(curvatures) > 1e-9
    vmax[bend] = np.minimum(vmax[bend], np.sqrt(config.max_lat_accel / np.abs(curvatures[bend])))
    if cusps is not None:
        vmax[cusps] = 0.0
    if stop_at is not None:
        vmax[s >= stop_at] = 0.0
    if config.stop_at_end:
        vmax[-1] = 0.0
    return vmax


def profile(
    s: np.ndarray, vmax: np.ndarray, v0: float, config: SpeedProfileConfig,
    unlimited: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """(N,) [m/s] the largest speeds under ``vmax`` meeting the accel/decel limits.

    The start speed is ``min(v0, vmax[0])`` unless the decel limit forces it lower. With
    ``unlimited`` ((N,) the caps without the speed limit: bends, cusps, stops, the end), a car
    faster than the speed limit (a start above it, a limit lowered by the behaviour layer)
    instead brakes down to the limit at ``max_decel``, staying under ``unlimited``: the profile
    may exceed the limit on that braking curve. Without it the profile started at the limit and
    the controller braked at its hard limit to get there at once (6 m/s^2 on KITTI 0005, where
    the logged car starts at 17.7 m/s under the 13.9 m/s limit).
    """
    free = vmax if unlimited is None else unlimited
    v = vmax.copy()
    v[0] = min(max(v0, 0.0), free[0])
    ds = np.diff(s)
    for i in range(len(s) - 1):  # forward: acceleration limit; over the limit, braking
        slowest = math.sqrt(max(v[i] ** 2 - 2.0 * config.max_decel * ds[i], 0.0))
        cap = max(v[i + 1], min(slowest, free[i + 1]))
        v[i + 1] = min(cap, math.sqrt(v[i] ** 2 + 2.0 * config.max_accel * ds[i]))
    for i in range(len(s) - 2, -1, -1):  # backward: deceleration limit
        v[i] = min(v[i], math.sqrt(v[i + 1] ** 2 + 2.0 * config.max_decel * ds[i]))
    return v


def arrival_times(s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(N,) [s] time of reaching each sample; inf after the ego comes to rest."""
    ds = np.diff(s)
    vsum = v[1:] + v[:-1]
    dt = np.where(vsum > 1e-9, 2.0 * ds / np.maximum(vsum, 1e-9), np.where(ds > 1e-9, np.inf, 0.0))
    return np.concatenate([[0.0], np.cumsum(dt)])


def forecast_stop(
    xy: np.ndarray, s: np.ndarray, times: np.ndarray,
    forecasts: ObjectForecasts | None, config: SpeedProfileConfig,
) -> float | None:  # fmt: skip
    """[m] arc length at which to stop for forecast objects, or None.

    Args:
        xy: (N, 2) path points [m] in the forecasts' frame.
        s: (N,) arc length [m].
        times: (N,) [s] ego arrival times without the stop.
        forecasts: Forecast objects (positions in the same frame as ``xy``).
        config: Conflict width, margin and time gap.
    """
    if forecasts is None or len(forecasts.track_ids) == 0 or len(xy) == 0:
        return None
    pos = np.asarray(forecasts.positions, dtype=np.float64)  # (K, T, 2)
    radius = np.asarray(forecasts.sizes, dtype=np.float64)[:, :2].max(axis=1) / 2.0  # (K,)
    d = np.linalg.norm(pos[:, :, None, :] - xy[None, None, :, :], axis=-1)  # (K, T, N)
    near = d <= (config.conflict_half_width + radius)[:, None, None]  # (K, T, N)
    horizons = np.asarray(forecasts.horizons, dtype=np.float64)  # (T,)
    # Present now (horizon 0), near the ego's arrival, or still there at the last horizon
    # when the ego arrives later: nothing is known after the horizon, so assume it stays.
    timely = (
        (np.abs(times[None, :] - horizons[:, None]) <= config.yield_time_gap)
        | (horizons[:, None] <= 0.0)
        | ((horizons[:, None] == horizons[-1]) & (times[None, :] >= horizons[-1]))
    )  # (T, N)
    hits = near & timely[None]  # (K, T, N)
    if not hits.any():
        return None
    first = int(np.flatnonzero(hits.any(axis=(0, 1)))[0])
    return max(0.0, float(s[first]) - config.stop_margin)


def build_trajectory(
    poses: np.ndarray,
    curvatures: np.ndarray,
    ego: EgoState,
    config: SpeedProfileConfig = SpeedProfileConfig(),
    directions: np.ndarray | None = None,
    forecasts: ObjectForecasts | None = None,
    status: PlanStatus = PlanStatus.OK,
    detail: str = "",
    stop_at: float | None = None,
) -> Trajectory:
    """Times a path into a :class:`Trajectory` starting at the ego's stamp.

    Args:
        poses: (N, 3) x [m], y [m], yaw [rad] in ``ego.frame_id``; poses[0] is the ego.
        curvatures: (N,) [1/m].
        ego: Ego state (start speed, stamp, frame).
        config: Limits.
        directions: (N,) +1 / -1 per pose (reverse segments get negative speeds); None = fwd.
        forecasts: Objects to stop/yield for, in ``ego.frame_id``.
        stop_at: [m] along the path to come to rest at (a STOP command), or None.
        status: Status to carry (the planner's).
        detail: Detail to carry; a stop for a forecast is appended.

    Returns:
        The trajectory, cut where the ego comes to rest.
    """
    poses = np.asarray(poses, dtype=np.float64)
    dirs = np.ones(len(poses)) if directions is None else np.asarray(directions, dtype=np.float64)
    s = arc_length(poses[:, :2])
    cusps = np.flatnonzero(np.diff(dirs) != 0)  # last pose before each direction change
    unlimited = dataclasses.replace(config, speed_limit=math.inf)
    # Speed along the path's first direction: a car rolling the other way starts from rest
    # as far as the profile goes (the controller brakes it first).
    v0 = max(0.0, ego.speed * float(dirs[0])) if len(dirs) else 0.0
    bend = np.asarray(curvatures, dtype=np.float64)
    if config.curvature_window_gain > 0 and len(cusps) == 0:  # forward paths only
        window = config.curvature_window_min + config.curvature_window_gain * v0
        driven = mean_curvature(s, poses[:, 2], window)
        bend = np.where(np.abs(driven) < np.abs(bend), driven, bend)

    def caps(stop: float | None) -> tuple[np.ndarray, np.ndarray]:
        return (
            speed_limits(s, bend, config, stop_at=stop, cusps=cusps),
            speed_limits(s, bend, unlimited, stop_at=stop, cusps=cusps),
        )

    vmax, free = caps(stop_at)
    v = profile(s, vmax, v0, config, unlimited=free)
    stop = forecast_stop(poses[:, :2], s, arrival_times(s, v), forecasts, config)
    if stop is not None and stop_at is not None:
        stop = min(stop, stop_at)
    if stop is not None:
        vmax, free = caps(stop)
        v = profile(s, vmax, v0, config, unlimited=free)
        detail = (detail + "; " if detail else "") + f"stopping at s={stop:.1f} m for a forecast"
    t = arrival_times(s, v)
    end = int(np.flatnonzero(np.isfinite(t))[-1]) + 1  # at rest: the trajectory ends
    t, v, poses, dirs = t[:end], v[:end], poses[:end], dirs[:end]
    keep = np.concatenate([[True], np.diff(t) > 0])  # drop zero-length repeats
    t, v, poses, dirs, curv = t[keep], v[keep], poses[keep], dirs[keep], curvatures[:end][keep]
    signed = v * dirs
    acc = np.zeros(len(t))
    if len(t) > 1:
        acc[:-1] = np.diff(signed) / np.diff(t)
    return Trajectory(
        stamp_ns=ego.stamp_ns,
        frame_id=ego.frame_id,
        times=t,
        poses=poses,
        speeds=signed,
        accelerations=acc,
        curvatures=curv.astype(np.float64),
        status=status,
        detail=detail,
    )


def stop_trajectory(
    ego: EgoState, status: PlanStatus, detail: str, max_decel: float = 3.0
) -> Trajectory:
    """A one-sample trajectory holding the ego where it is (what NO_PATH publishes).

    Args:
        ego: Ego state.
        status: Why there is no motion (NO_PATH, INVALID_INPUT, BUDGET_EXHAUSTED).
        detail: Human-readable reason.
        max_decel: [m/s^2] braking asked for while the ego still moves (signed against
            the motion: positive when reversing).
    """
    return Trajectory(
        stamp_ns=ego.stamp_ns,
        frame_id=ego.frame_id,
        times=np.zeros(1),
        poses=np.array([[*ego.xy, ego.yaw]]),
        speeds=np.zeros(1),
        # Signed along body +x (ControlCommand's convention): braking opposes the motion.
        accelerations=np.array([-math.copysign(max_decel, ego.speed) if ego.speed else 0.0]),
        curvatures=np.zeros(1),
        status=status,
        detail=detail,
    )
