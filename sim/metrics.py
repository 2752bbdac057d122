"""Closed-loop scenario metrics: route progress and error, gaps to agents, collisions, comfort.

Pure functions over explicit state: :func:`update_metrics` folds one simulated ego sample into a
:class:`MonitorState` and returns the :class:`~drivestack.msgs.ScenarioMetrics` so far.
Geometry is in bird's-eye view: boxes are ``(x, y, length, width, yaw)`` rectangles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drivestack.msgs import ScenarioMetrics


def route_projection(route_xy: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    """Where ``point`` projects onto a polyline.

    Args:
        route_xy: (N, 2) [m] polyline vertices, N >= 1.
        point: (2,) [m].

    Returns:
        (arc length [m] of the nearest point from the first vertex, distance [m] to it).
    """
    if len(route_xy) == 1:
        return 0.0, float(np.hypot(*(point - route_xy[0])))
    a, b = route_xy[:-1], route_xy[1:]  # (S, 2) segment ends
    seg = b - a  # (S, 2)
    seg_len2 = (seg**2).sum(axis=1)  # (S,)
    t = np.clip(((point - a) * seg).sum(axis=1) / np.maximum(seg_len2, 1e-12), 0.0, 1.0)  # (S,)
    nearest = a + t[:, None] * seg  # (S, 2)
    dist = np.hypot(*(nearest - point).T)  # (S,)
    k = int(np.argmin(dist))
    start = np.concatenate(([0.0], np.cumsum(np.sqrt(seg_len2))))  # (S + 1,) arc length at a
    return float(start[k] + t[k] * np.sqrt(seg_len2[k])), float(dist[k])


def rect_corners(boxes: np.ndarray) -> np.ndarray:
    """(M, 5) rectangles -> (M, 4, 2) corners, counter-clockwise."""
    c, s = np.cos(boxes[:, 4]), np.sin(boxes[:, 4])  # (M,)
    hl, hw = boxes[:, 2] / 2, boxes[:, 3] / 2  # (M,)
    local = np.stack(
        [
            np.stack([hl, hw], 1),
            np.stack([-hl, hw], 1),
            np.stack([-hl, -hw], 1),
            np.stack([hl, -hw], 1),
        ],
        axis=1,
    )  # (M, 4, 2)
    rot = np.stack([np.stack([c, -s], 1), np.stack([s, c], 1)], axis=1)  # (M, 2, 2)
    return np.einsum("mij,mkj->mki", rot, local) + boxes[:, None, :2]


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(4, 2) and (M, 4, 2) convex quads -> (M,) bool: interiors intersect (separating axes)."""
    m = len(b)
    quads = np.concatenate([np.broadcast_to(a, (m, 4, 2)), b], axis=1)  # (M, 8, 2)
    edges_a = np.roll(a, -1, axis=0) - a  # (4, 2)
    edges_b = np.roll(b, -1, axis=1) - b  # (M, 4, 2)
    axes = np.concatenate([np.broadcast_to(edges_a, (m, 4, 2)), edges_b], axis=1)  # (M, 8, 2)
    normals = np.stack([-axes[..., 1], axes[..., 0]], axis=-1)  # (M, 8, 2)
    proj = np.einsum("mkd,mpd->mkp", normals, quads)  # (M, 8 axes, 8 points)
    pa, pb = proj[..., :4], proj[..., 4:]
    separated = (pa.max(-1) <= pb.min(-1)) | (pb.max(-1) <= pa.min(-1))  # (M, 8)
    return ~separated.any(axis=1)


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Broadcast distance [m] from points ``p`` to segments ``a``-``b`` (last axis 2)."""
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab**2).sum(-1), 1e-12), 0.0, 1.0)
    return np.hypot(*np.moveaxis(a + t[..., None] * ab - p, -1, 0))


def rect_gaps(ego: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Gap [m] between one rectangle and each of M others; 0 where they overlap.

    Args:
        ego: (5,) rectangle.
        others: (M, 5) rectangles.

    Returns:
        (M,) distances; between disjoint convex polygons the nearest points include a vertex
        of one of them, so the minimum over vertex-to-edge distances both ways is exact.
    """
    if len(others) == 0:
        return np.zeros(0)
    a = rect_corners(ego[None])[0]  # (4, 2)
    b = rect_corners(others)  # (M, 4, 2)
    a_edges = (a, np.roll(a, -1, axis=0))  # each (4, 2)
    b_edges = (b, np.roll(b, -1, axis=1))  # each (M, 4, 2)
    # vertices of b to edges of a: (M, 4 vertices, 4 edges)
    d_ba = _point_segment_distance(b[:, :, None, :], a_edges[0][None, None], a_edges[1][None, None])
    # vertices of a to edges of b: (M, 4 vertices, 4 edges)
    d_ab = _point_segment_distance(a[None, :, None, :], b_edges[0][:, None], b_edges[1][:, None])
    gap = np.minimum(d_ba.min(axis=(1, 2)), d_ab.min(axis=(1, 2)))  # (M,)
    return np.where(_overlap(a, b), 0.0, gap)


@dataclass(frozen=True)
class MonitorConfig:
    """What the scenario monitor measures against."""

    clearance_range: float = 100.0  # [m] clearance reported when no agent is nearer
    rear_overhang: float = 1.0  # [m] rear axle -> rear bumper: agents behind it hit from behind


@dataclass(frozen=True)
class MonitorState:
    """What :func:`update_metrics` carries between samples."""

    collided: frozenset[int] = frozenset()
    at_fault: frozenset[int] = frozenset()
    min_clearance: float = float("inf")
    max_lateral_error: float = 0.0
    max_abs_accel: float = 0.0
    max_abs_jerk: float = 0.0
    last: tuple[int, float] | None = field(
        default=None
    )  # (stamp_ns, acceleration) of the last sample


def update_metrics(
    state: MonitorState,
    *,
    stamp_ns: int,
    frame_id: str,
    ego_box: np.ndarray,
    ego_pose: np.ndarray,
    speed: float,
    acceleration: float,
    agent_ids: np.ndarray,
    agent_boxes: np.ndarray,
    route_xy: np.ndarray,
    expert_xy: np.ndarray | None,
    config: MonitorConfig,
) -> tuple[MonitorState, ScenarioMetrics]:
    """Folds one sample of the simulated ego into the scenario's metrics.

    Args:
        state: Metrics carried from earlier samples.
        stamp_ns: [ns] time of the sample.
        frame_id: World frame of every position below.
        ego_box: (5,) ego footprint rectangle.
        ego_pose: (3,) x [m], y [m], yaw [rad] of the ego (rear axle).
        speed: [m/s] signed. acceleration: [m/s^2] longitudinal.
        agent_ids: (M,) ids of the agents. agent_boxes: (M, 5) their rectangles.
        route_xy: (N, 2) route polyline [m].
        expert_xy: (2,) [m] the logged ego at this stamp, or None if unknown.
        config: Monitor settings.

    Returns:
        The new state and the metrics so far.
    """
    gaps = rect_gaps(ego_box, agent_boxes)  # (M,)
    clearance = float(min(gaps.min(initial=config.clearance_range), config.clearance_range))
    hit = gaps <= 0.0
    collided, at_fault = set(state.collided), set(state.at_fault)
    if hit.any():
        c, s = np.cos(ego_pose[2]), np.sin(ego_pose[2])
        rel = agent_boxes[hit, :2] - ego_pose[:2]  # (H, 2)
        ahead = rel[:, 0] * c + rel[:, 1] * s  # (H,) along the ego's heading from its rear axle
        for agent, x in zip(agent_ids[hit].tolist(), ahead.tolist(), strict=True):
            collided.add(int(agent))
            if x > -config.rear_overhang:  # not from behind the rear bumper
                at_fault.add(int(agent))
    progress, lateral = route_projection(route_xy, ego_pose[:2])
    expert = route_projection(route_xy, expert_xy)[0] if expert_xy is not None else progress
    jerk = 0.0
    if state.last is not None and stamp_ns > state.last[0]:
        jerk = (acceleration - state.last[1]) / ((stamp_ns - state.last[0]) * 1e-9)
    new = MonitorState(
        collided=frozenset(collided),
        at_fault=frozenset(at_fault),
        min_clearance=min(state.min_clearance, clearance),
        max_lateral_error=max(state.max_lateral_error, lateral),
        max_abs_accel=max(state.max_abs_accel, abs(acceleration)),
        max_abs_jerk=max(state.max_abs_jerk, abs(jerk)),
        last=(stamp_ns, acceleration),
    )
    metrics = ScenarioMetrics(
        stamp_ns=stamp_ns,
        frame_id=frame_id,
        collision_ids=np.array(sorted(new.collided), dtype=np.int64),
        at_fault_ids=np.array(sorted(new.at_fault), dtype=np.int64),
        clearance=clearance,
        min_clearance=new.min_clearance,
        progress=progress,
        expert_progress=expert,
        lateral_error=lateral,
        max_lateral_error=new.max_lateral_error,
        speed=float(speed),
        max_abs_accel=new.max_abs_accel,
        max_abs_jerk=new.max_abs_jerk,
    )
    return new, metrics
