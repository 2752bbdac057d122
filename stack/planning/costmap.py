"""Ego-centred costmap: drivable corridor around a route, inflated objects, decaying forecasts.

The grid is aligned with the ego heading: cell (0, 0)'s corner sits ``behind`` metres behind
and ``width / 2`` to the right of the ego, so the ego is at column ``behind / resolution``,
row ``width / 2 / resolution``. Layers, combined with ``max``:

1. Corridor. Cells farther than ``corridor_half_width`` from the route polyline are lethal
   (the route is the logged ego path when no map exists); inside, cost rises quadratically
   from 0 on the route to ``corridor_edge_cost`` at the edge, so plans hug the route.
2. Tracked objects. Each box, grown by the ego half-width plus a safety margin on every side,
   is lethal: the grid planners then plan the ego centre as a point (configuration space).
   A soft ring of ``inflation_cost`` decaying over ``inflation_radius`` keeps clearance.
3. Forecasts. Each forecast position at horizon t adds a disc of cost
   ``forecast_peak * exp(-t / forecast_decay)`` (below lethal: the future is uncertain, so it
   discourages rather than forbids), grown by two position sigmas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import distance_transform_edt

from drivestack.msgs import CostGrid, EgoState, ObjectForecasts, Path, TrackedObjects


@dataclass(frozen=True)
class CostmapConfig:
    """Costmap geometry and layer weights."""

    resolution: float = 0.2  # [m] cell edge
    length: float = 80.0  # [m] extent along the ego x axis
    width: float = 40.0  # [m] extent along the ego y axis
    behind: float = 20.0  # [m] of ``length`` behind the ego
    corridor_half_width: float = 3.5  # [m] drivable distance either side of the route
    corridor_edge_cost: float = 0.9  # cost at the corridor edge (0 on the route; < lethal)
    ego_width: float = 1.9  # [m] used to grow obstacles into configuration space
    safety_margin: float = 0.3  # [m] extra growth of obstacles
    inflation_radius: float = 1.5  # [m] soft cost ring beyond the lethal region
    inflation_cost: float = 0.5  # soft cost next to the lethal region
    forecast_peak: float = 0.8  # forecast cost at horizon 0 (< lethal)
    forecast_decay: float = 1.5  # [s] time constant of the forecast cost
    lethal: float = 1.0  # obstacle threshold of the produced grid


def grid_origin(ego: EgoState, config: CostmapConfig) -> np.ndarray:
    """(3,) float64 world x [m], y [m], yaw [rad] of cell (0, 0)'s corner."""
    (x, y), yaw = ego.xy, ego.yaw
    c, s = math.cos(yaw), math.sin(yaw)
    ox, oy = -config.behind, -config.width / 2.0  # corner in the ego frame
    return np.array([x + c * ox - s * oy, y + s * ox + c * oy, yaw])


def world_to_local(origin: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, 2) world points [m] -> grid-local metric coordinates [m] (x along columns)."""
    c, s = math.cos(origin[2]), math.sin(origin[2])
    d = np.asarray(xy, dtype=np.float64) - origin[:2]  # (N, 2)
    return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], axis=1)


def local_to_world(origin: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, 2) grid-local metric coordinates [m] -> world points [m]."""
    c, s = math.cos(origin[2]), math.sin(origin[2])
    xy = np.asarray(xy, dtype=np.float64)
    return np.stack(
        [origin[0] + c * xy[:, 0] - s * xy[:, 1], origin[1] + s * xy[:, 0] + c * xy[:, 1]], axis=1
    )


def world_to_cell(grid: CostGrid, xy: np.ndarray) -> np.ndarray:
    """(N, 2) world points [m] -> (N, 2) int64 (row, col); may fall outside the grid."""
    local = world_to_local(grid.origin, xy) / grid.resolution  # (N, 2)
    return np.floor(local[:, ::-1]).astype(np.int64)


def cell_to_world(grid: CostGrid, cells: np.ndarray) -> np.ndarray:
    """(N, 2) (row, col) cells -> (N, 2) world points [m] of the cell centres."""
    cells = np.asarray(cells, dtype=np.float64)
    local = (cells[:, ::-1] + 0.5) * grid.resolution  # (N, 2) x, y
    return local_to_world(grid.origin, local)


def _to_world(ego: EgoState, frame_id: str, xy: np.ndarray, field: str) -> np.ndarray:
    """(N, 2) points in ``frame_id`` ("ego" or the ego pose's world frame) -> world."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if frame_id == ego.frame_id:
        return xy
    if frame_id == "ego":
        rot, trans = ego.pose[:2, :2], ego.pose[:2, 3]
        return xy @ rot.T + trans
    raise ValueError(
        f"{field}: frame_id {frame_id!r} is neither 'ego' nor the ego pose's {ego.frame_id!r}"
    )


def _yaw_to_world(ego: EgoState, frame_id: str, yaw: np.ndarray) -> np.ndarray:
    return yaw + ego.yaw if frame_id == "ego" else yaw


def build_costmap(
    ego: EgoState,
    route: Path | None,
    objects: TrackedObjects | None,
    forecasts: ObjectForecasts | None,
    config: CostmapConfig = CostmapConfig(),
    origin: np.ndarray | None = None,
) -> CostGrid:
    """Builds the costmap around the ego.

    Args:
        ego: Ego state; its ``frame_id`` is the world frame of the grid.
        route: Route polyline in the world frame (or "ego"); None for no corridor limit.
        objects: Tracked objects ("ego" or world frame), or None.
        forecasts: Object forecasts ("ego" or world frame), or None.
        config: Geometry and weights.
        origin: (3,) world x, y, yaw of cell (0, 0)'s corner; default: centred on the ego
            (:func:`grid_origin`). A fixed origin keeps the grid still while the ego moves,
            which incremental planners (D* Lite) need.

    Returns:
        A :class:`CostGrid` (H, W) = (width, length) / resolution, ``lethal`` from config,
        stamped with the ego's stamp.

    Raises:
        ValueError: A message in an unknown frame (names the field).
    """
    res = config.resolution
    h, w = int(round(config.width / res)), int(round(config.length / res))
    origin = grid_origin(ego, config) if origin is None else np.asarray(origin, np.float64)
    centres = (np.mgrid[0:h, 0:w].astype(np.float64) + 0.5) * res  # (2, H, W) y, x [m]
    cost = np.zeros((h, w), dtype=np.float32)  # (H, W)

    if route is not None and len(route.poses) > 0:
        route_xy = world_to_local(
            origin, _to_world(ego, route.frame_id, route.poses[:, :2], "route")
        )
        dist = _distance_to_polyline(route_xy, h, w, res)  # (H, W) [m]
        ratio = dist / config.corridor_half_width
        cost = np.maximum(cost, (config.corridor_edge_cost * ratio**2).astype(np.float32))
        cost[ratio > 1.0] = config.lethal

    grow = config.ego_width / 2.0 + config.safety_margin  # [m]
    if objects is not None and len(objects.boxes) > 0:
        boxes = np.asarray(objects.boxes, dtype=np.float64)  # (N, 7)
        xy = world_to_local(origin, _to_world(ego, objects.frame_id, boxes[:, :2], "objects"))
        yaw = _yaw_to_world(ego, objects.frame_id, boxes[:, 6]) - origin[2]  # (N,)
        hit = np.zeros((h, w), dtype=bool)  # (H, W)
        for (bx, by), (dx, dy), byaw in zip(xy, boxes[:, 3:5], yaw, strict=True):
            _rasterise_box(hit, centres, res, bx, by, dx / 2 + grow, dy / 2 + grow, byaw)
        if hit.any():
            d = distance_transform_edt(~hit) * res  # (H, W) [m] to the nearest lethal cell
            ring = config.inflation_cost * np.clip(1.0 - d / config.inflation_radius, 0.0, 1.0)
            cost = np.maximum(cost, ring.astype(np.float32))
            cost[hit] = config.lethal

    if forecasts is not None and len(forecasts.track_ids) > 0:
        pos = np.asarray(forecasts.positions, dtype=np.float64)  # (N, T, 2)
        n, t = pos.shape[:2]
        xy = world_to_local(
            origin, _to_world(ego, forecasts.frame_id, pos.reshape(-1, 2), "forecasts")
        )
        xy = xy.reshape(n, t, 2)
        sigma = np.asarray(forecasts.position_std, dtype=np.float64).max(axis=2)  # (N, T)
        size = np.asarray(forecasts.sizes, dtype=np.float64)[:, :2].max(axis=1) / 2  # (N,)
        for k in range(n):
            for j in range(t):
                peak = config.forecast_peak * math.exp(
                    -forecasts.horizons[j] / config.forecast_decay
                )
                radius = size[k] + grow + 2.0 * sigma[k, j]
                _stamp_disc(cost, centres, res, xy[k, j], radius, min(peak, config.lethal * 0.99))
    return CostGrid(
        stamp_ns=ego.stamp_ns,
        frame_id=ego.frame_id,
        cost=cost,
        origin=origin,
        resolution=res,
        lethal=config.lethal,
    )


def _window(
    h: int, w: int, res: float, cx: float, cy: float, r: float
) -> tuple[slice, slice] | None:
    """Row/col slices of the cells within a square of half-size r [m] around (cx, cy)."""
    i0, i1 = max(int((cy - r) / res), 0), min(int((cy + r) / res) + 1, h)
    j0, j1 = max(int((cx - r) / res), 0), min(int((cx + r) / res) + 1, w)
    if i0 >= i1 or j0 >= j1:
        return None
    return slice(i0, i1), slice(j0, j1)


def _rasterise_box(
    hit: np.ndarray, centres: np.ndarray, res: float,
    cx: float, cy: float, hx: float, hy: float, yaw: float,
) -> None:  # fmt: skip
    """Marks cells whose centre lies in the oriented rectangle (half sizes hx, hy [m])."""
    win = _window(hit.shape[0], hit.shape[1], res, cx, cy, math.hypot(hx, hy))
    if win is None:
        return
    ys, xs = centres[0][win] - cy, centres[1][win] - cx  # (h, w) each
    c, s = math.cos(yaw), math.sin(yaw)
    u, v = c * xs + s * ys, -s * xs + c * ys  # box frame
    hit[win] |= (np.abs(u) <= hx) & (np.abs(v) <= hy)


def _stamp_disc(
    cost: np.ndarray, centres: np.ndarray, res: float, c: np.ndarray, radius: float, value: float
) -> None:
    """Raises cells within ``radius`` [m] of ``c`` to at least ``value``."""
    win = _window(cost.shape[0], cost.shape[1], res, float(c[0]), float(c[1]), radius)
    if win is None:
        return
    inside = (centres[0][win] - c[1]) ** 2 + (centres[1][win] - c[0]) ** 2 <= radius**2
    cost[win] = np.where(inside, np.maximum(cost[win], value), cost[win])


def _distance_to_polyline(xy: np.ndarray, h: int, w: int, res: float) -> np.ndarray:
    """(H, W) [m] distance from each cell centre to a polyline (grid-local coordinates).

    The polyline is densified to half a cell and rasterised; the Euclidean distance
    transform then gives the distance to the nearest rasterised cell (error <= res / 2).
    Parts of the route off the grid are clipped; a route that misses the grid entirely
    gives distance inf everywhere (all lethal).
    """
    # Keep segments with an end near the grid (a margin of one corridor is plenty).
    margin = 20.0  # [m]
    near = (xy[:, 0] > -margin) & (xy[:, 0] < w * res + margin)
    near &= (xy[:, 1] > -margin) & (xy[:, 1] < h * res + margin)
    seg_keep = near[:-1] | near[1:]  # (S,)
    a, b = xy[:-1][seg_keep], xy[1:][seg_keep]  # (S', 2)
    if len(a) == 0:
        return np.full((h, w), np.inf)
    counts = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / (res / 2))).astype(np.int64)
    seg = np.repeat(np.arange(len(a)), counts)  # (M,) segment of each dense point
    frac = (np.arange(len(seg)) - np.repeat(np.cumsum(counts) - counts, counts) + 1) / counts[seg]
    dense = np.concatenate([a[:1], a[seg] + (b - a)[seg] * frac[:, None]])  # (M + 1, 2)
    cells = np.floor(dense[:, ::-1] / res).astype(np.int64)  # (M, 2) row, col
    keep = (cells[:, 0] >= 0) & (cells[:, 0] < h) & (cells[:, 1] >= 0) & (cells[:, 1] < w)
    on_route = np.zeros((h, w), dtype=bool)
    on_route[cells[keep, 0], cells[keep, 1]] = True
    if not on_route.any():
        return np.full((h, w), np.inf)
    return distance_transform_edt(~on_route) * res
