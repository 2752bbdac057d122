"""Hybrid A* (Dolgov et al. 2008): search over (x, y, yaw) with kinematic motion primitives.

Each expansion drives the car's rear axle along arcs of fixed length, forward and in reverse,
at a handful of curvatures in [-1/R_min, 1/R_min] (so the turning radius is respected by
construction). States are continuous; duplicates are pruned on an (x, y, yaw) lattice.
Cost is arc length, with penalties for reversing, switching direction and steering.
The heuristic is the obstacle-aware holonomic distance to the goal (Dijkstra on a coarse
grid, scipy csgraph), never less than the straight-line distance, weighted by
``heuristic_weight`` (weighted A*: faster, at most that factor from the best in the lattice).
Every ``analytic_every`` expansions, and every second one within ``analytic_radius`` of the
goal, an analytic Reeds–Shepp shot to the exact goal pose is tried; the first collision-free
one ends the search.

Collision checks cover the oriented rectangular footprint with discs along its long axis
and test each disc against a clearance map: the Euclidean distance (OpenCV's exact transform)
from each cell to the nearest obstacle cell minus one cell diagonal, which bounds the true distance from any point
in the cell to any point of an obstacle cell from below. The grid border counts as obstacle.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from heapq import heappop, heappush

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from drivestack.msgs import CostGrid, PlanStatus
from drivestack.planning import reeds_shepp
from drivestack.planning.base import PosePlanResult
from drivestack.planning.costmap import local_to_world, world_to_local


@dataclass(frozen=True)
class HybridAStarConfig:
    """Vehicle geometry and search parameters."""

    min_turn_radius: float = 5.0  # [m] of the rear axle
    length: float = 4.5  # [m] footprint length
    width: float = 1.9  # [m] footprint width
    rear_overhang: float = 0.9  # [m] rear bumper to rear axle (the planned point)
    step: float = 1.6  # [m] arc length of one motion primitive
    collision_step: float = 0.4  # [m] footprint check spacing along a primitive
    n_curvatures: int = 5  # curvature samples across [-1/R, 1/R] (odd: includes straight)
    xy_resolution: float = 0.5  # [m] lattice cell for duplicate pruning
    yaw_bins: int = 72  # lattice yaw bins (5 degrees)
    reverse_penalty: float = 2.0  # multiplier on reverse arc length
    switch_penalty: float = 5.0  # [m] per change of direction
    curvature_penalty: float = 0.3  # [m] per primitive at full lock, linear in |kappa|
    heuristic_weight: float = 1.5  # > 1 trades optimality for speed (weighted A*)
    analytic_every: int = 10  # try a Reeds-Shepp shot every N expansions ...
    analytic_radius: float = 12.0  # [m] ... and every 2nd within this heuristic
    heuristic_resolution: float = 0.5  # [m] cell of the holonomic heuristic grid
    sample_step: float = 0.2  # [m] output sample spacing on the Reeds-Shepp tail
    max_expansions: int = 50_000


class Footprint:
    """Disc cover of the car's rectangle and the clearance map it is checked against."""

    def __init__(self, grid: CostGrid, config: HybridAStarConfig) -> None:
        # Twice as many discs as the aspect ratio needs: narrower discs hug the sides.
        n = max(1, 2 * math.ceil(config.length / config.width))
        seg = config.length / n
        self.offsets = -config.rear_overhang + seg * (np.arange(n) + 0.5)  # (C,) [m] along x
        self.radius = math.hypot(seg / 2.0, config.width / 2.0)  # [m]
        # Clearance on a 2x finer grid (each obstacle cell -> 2x2 sub-cells): the bound then
        # loses one sub-cell diagonal (point to sub-cell centre, obstacle sub-cell extent).
        blocked = np.pad(np.asarray(grid.cost) >= grid.lethal, 1, constant_values=True)
        fine = np.repeat(np.repeat(blocked, 2, axis=0), 2, axis=1)  # (2H+4, 2W+4)
        sub = grid.resolution / 2.0
        # OpenCV's exact (DIST_MASK_PRECISE) Euclidean transform: the same distances as
        # scipy's distance_transform_edt to ~1e-6 px in float32, ~3x faster on these grids;
        # the 1e-4 m below keeps the float32 rounding on the safe side.
        px = cv2.distanceTransform((~fine).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        clear = px.astype(np.float64) * sub - sub * math.sqrt(2.0) - 1e-4  # (2H+4, 2W+4) [m]
        self.ok = clear[2:-2, 2:-2] > self.radius  # (2H, 2W) bool: a disc centred here is free
        self.res = sub
        self.shape = self.ok.shape

    def free(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray) -> np.ndarray:
        """Whether each pose's footprint is collision-free.

        Args:
            x, y, yaw: (...) rear-axle poses in grid-local coordinates [m], [rad].

        Returns:
            (...) bool.
        """
        cx = x[..., None] + np.cos(yaw)[..., None] * self.offsets  # (..., C)
        cy = y[..., None] + np.sin(yaw)[..., None] * self.offsets  # (..., C)
        j = np.floor(cx / self.res).astype(np.int64)
        i = np.floor(cy / self.res).astype(np.int64)
        inside = (i >= 0) & (i < self.shape[0]) & (j >= 0) & (j < self.shape[1])
        ok = np.zeros(i.shape, dtype=bool)
        ok[inside] = self.ok[i[inside], j[inside]]
        return ok.all(axis=-1)


def _primitives(config: HybridAStarConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body-frame sub-poses of every motion primitive.

    Returns:
        local: (P, M, 3) dx [m], dy [m], dyaw [rad] after each of M sub-steps.
        directions: (P,) int +1 / -1.
        curvatures: (P,) [1/m].
    """
    m = max(1, math.ceil(config.step / config.collision_step))
    s = np.linspace(config.step / m, config.step, m)  # (M,) arc length
    kappas = np.linspace(-1.0, 1.0, config.n_curvatures) / config.min_turn_radius
    local, dirs, curvs = [], [], []
    for d in (1, -1):
        for k in kappas.tolist():
            dyaw = d * s * k  # (M,)
            if abs(k) < 1e-12:
                dx, dy = d * s, np.zeros_like(s)
            else:
                dx, dy = np.sin(dyaw) / k, (1.0 - np.cos(dyaw)) / k
            local.append(np.stack([dx, dy, dyaw], axis=1))
            dirs.append(d)
            curvs.append(k)
    return np.stack(local), np.asarray(dirs), np.asarray(curvs)


def _holonomic_heuristic(grid: CostGrid, goal_xy: np.ndarray, cell: float) -> np.ndarray:
    """(h, w) [m] obstacle-aware 8-connected distance to the goal on a coarse grid.

    A coarse cell is blocked only if every fine cell in it is, so the distance never
    exceeds the fine-grid distance by more than the coarse discretisation.
    """
    k = max(1, int(round(cell / grid.resolution)))
    blocked = np.asarray(grid.cost) >= grid.lethal
    hh, ww = -(-blocked.shape[0] // k), -(-blocked.shape[1] // k)
    padded = np.ones((hh * k, ww * k), dtype=bool)
    padded[: blocked.shape[0], : blocked.shape[1]] = blocked
    coarse_blocked = padded.reshape(hh, k, ww, k).all(axis=(1, 3))  # (h, w)
    size = k * grid.resolution
    free = ~coarse_blocked
    idx = np.arange(hh * ww).reshape(hh, ww)
    src, dst, wts = [], [], []
    for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = idx[max(0, -di) : hh - max(0, di), max(0, -dj) : ww - max(0, dj)]
        b = idx[max(0, di) : hh + min(0, di) or None, max(0, dj) : ww + min(0, dj) or None]
        ok = free.ravel()[a] & free.ravel()[b]
        src.append(a[ok])
        dst.append(b[ok])
        wts.append(np.full(int(ok.sum()), size * math.hypot(di, dj)))
    s, d, w = np.concatenate(src), np.concatenate(dst), np.concatenate(wts)
    graph = csr_matrix((w, (s, d)), shape=(hh * ww, hh * ww))
    gi = int(np.clip(goal_xy[1] // size, 0, hh - 1))
    gj = int(np.clip(goal_xy[0] // size, 0, ww - 1))
    dist = dijkstra(graph, directed=False, indices=gi * ww + gj)
    return dist.reshape(hh, ww)


def hybrid_astar(
    grid: CostGrid,
    start: tuple[float, float, float],
    goal: tuple[float, float, float],
    config: HybridAStarConfig = HybridAStarConfig(),
    time_budget: float | None = None,
    footprint: Footprint | None = None,
) -> PosePlanResult:
    """Plans a kinematically feasible, collision-free path between two rear-axle poses.

    Args:
        grid: Cost grid; cells ``>= grid.lethal`` are obstacles for the footprint.
        start: (x [m], y [m], yaw [rad]) in ``grid.frame_id``.
        goal: (x [m], y [m], yaw [rad]) in ``grid.frame_id``.
        config: Vehicle and search parameters.
        time_budget: [s]; None for unlimited (``max_expansions`` still applies).
        footprint: ``Footprint(grid, config)`` if the caller built it already.

    Returns:
        A :class:`PosePlanResult` with poses in ``grid.frame_id``.
    """
    t0 = time.perf_counter()
    fp = Footprint(grid, config) if footprint is None else footprint
    (sx, sy), (gx, gy) = world_to_local(grid.origin, np.array([start[:2], goal[:2]]))
    syaw, gyaw = start[2] - grid.origin[2], goal[2] - grid.origin[2]
    for name, (x, y, yaw) in (("start", (sx, sy, syaw)), ("goal", (gx, gy, gyaw))):
        if not bool(fp.free(np.array(x), np.array(y), np.array(yaw))):
            return PosePlanResult(PlanStatus.NO_PATH, detail=f"{name} footprint is in collision")
    heur_grid = _holonomic_heuristic(grid, np.array([gx, gy]), config.heuristic_resolution)
    hsize = grid.resolution * max(1, int(round(config.heuristic_resolution / grid.resolution)))

    def heuristic(x: float, y: float) -> float:
        i = min(max(int(y // hsize), 0), heur_grid.shape[0] - 1)
        j = min(max(int(x // hsize), 0), heur_grid.shape[1] - 1)
        return max(float(heur_grid[i, j]), math.hypot(gx - x, gy - y))

    if not math.isfinite(heuristic(sx, sy)):
        return PosePlanResult(PlanStatus.NO_PATH, detail="goal unreachable (holonomic search)")

    local, prim_dir, prim_curv = _primitives(config)  # (P, M, 3), (P,), (P,)
    prim_cost = config.step * np.where(prim_dir < 0, config.reverse_penalty, 1.0)
    prim_cost = prim_cost + config.curvature_penalty * np.abs(prim_curv) * config.min_turn_radius
    yaw_step = 2.0 * math.pi / config.yaw_bins

    def lattice(x: float, y: float, yaw: float) -> tuple[int, int, int]:
        return (
            int(x // config.xy_resolution),
            int(y // config.xy_resolution),
            int(round(yaw / yaw_step)) % config.yaw_bins,
        )

    # Node storage: pose, g, parent, primitive index (-1 for the root), direction.
    nodes: list[tuple[float, float, float, float, int, int, int]] = [(sx, sy, syaw, 0.0, -1, -1, 0)]
    best_g = {lattice(sx, sy, syaw): 0.0}
    hw = config.heuristic_weight
    heap = [(hw * heuristic(sx, sy), 0)]
    closed: set[tuple[int, int, int]] = set()
    best_node, best_h = 0, heuristic(sx, sy)
    expansions = 0
    limit = time_budget
    while heap:
        _, nid = heappop(heap)
        x, y, yaw, g, _, _, direction = nodes[nid]
        key = lattice(x, y, yaw)
        if key in closed:
            continue
        closed.add(key)
        expansions += 1
        h = heuristic(x, y)
        if h < best_h:
            best_node, best_h = nid, h
        if expansions % (2 if h <= config.analytic_radius else config.analytic_every) == 1:
            shot = _analytic_shot(fp, (x, y, yaw), (gx, gy, gyaw), direction, config)
            if shot is not None:
                poses, dirs, curvs = _chain(nodes, nid, local, prim_curv)
                rs_poses, rs_dirs, rs_curvs, rs_cost = shot
                return _to_result(
                    grid,
                    np.concatenate([poses, rs_poses[1:]]),
                    np.concatenate([dirs, rs_dirs[1:]]),
                    np.concatenate([curvs, rs_curvs[1:]]),
                    PlanStatus.OK,
                    g + rs_cost,
                    expansions,
                )
        out_of_time = limit is not None and time.perf_counter() - t0 > limit
        if out_of_time or expansions >= config.max_expansions:
            poses, dirs, curvs = _chain(nodes, best_node, local, prim_curv)
            why = "time budget" if out_of_time else f"max_expansions={config.max_expansions}"
            return _to_result(
                grid, poses, dirs, curvs, PlanStatus.BUDGET_EXHAUSTED, nodes[best_node][3],
                expansions, f"{why} exhausted; partial path to the node nearest the goal",
            )  # fmt: skip
        c, s = math.cos(yaw), math.sin(yaw)
        px = x + c * local[:, :, 0] - s * local[:, :, 1]  # (P, M)
        py = y + s * local[:, :, 0] + c * local[:, :, 1]  # (P, M)
        pyaw = yaw + local[:, :, 2]  # (P, M)
        ok = fp.free(px, py, pyaw).all(axis=1)  # (P,)
        for p in np.flatnonzero(ok).tolist():
            nx, ny, nyaw = float(px[p, -1]), float(py[p, -1]), float(pyaw[p, -1])
            nkey = lattice(nx, ny, nyaw)
            if nkey in closed:
                continue
            d = int(prim_dir[p])
            ng = (
                g
                + float(prim_cost[p])
                + (config.switch_penalty if direction and d != direction else 0.0)
            )
            if ng < best_g.get(nkey, math.inf):
                best_g[nkey] = ng
                nodes.append((nx, ny, nyaw, ng, nid, p, d))
                heappush(heap, (ng + hw * heuristic(nx, ny), len(nodes) - 1))
    return PosePlanResult(
        PlanStatus.NO_PATH, expansions=expansions, detail="search space exhausted"
    )


def _analytic_shot(
    fp: Footprint,
    pose: tuple[float, float, float],
    goal: tuple[float, float, float],
    direction: int,
    config: HybridAStarConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """First collision-free Reeds–Shepp path (by penalised cost) from pose to goal, sampled."""
    candidates = []
    for path in reeds_shepp.reeds_shepp_paths(pose, goal, config.min_turn_radius)[:6]:
        cost, prev = 0.0, direction
        for d in path.lengths:
            sign = 1 if d >= 0 else -1
            cost += abs(d) * (config.reverse_penalty if sign < 0 else 1.0)
            cost += config.switch_penalty if prev and sign != prev else 0.0
            prev = sign
        candidates.append((cost, path))
    candidates.sort(key=lambda c: c[0])
    for cost, path in candidates:
        poses, dirs, curvs = reeds_shepp.sample(path, pose, config.sample_step)
        if bool(fp.free(poses[:, 0], poses[:, 1], poses[:, 2]).all()):
            return poses, dirs, curvs, cost
    return None


def _chain(
    nodes: list, nid: int, local: np.ndarray, prim_curv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sub-step poses (N, 3), directions (N,) and curvatures (N,) from the root to ``nid``."""
    segments = []
    while nodes[nid][4] != -1:
        segments.append(nid)
        nid = nodes[nid][4]
    root = nodes[nid]
    poses = [np.array([[root[0], root[1], root[2]]])]
    first_dir = nodes[segments[-1]][6] if segments else 1
    first_curv = float(prim_curv[nodes[segments[-1]][5]]) if segments else 0.0
    dirs, curvs = [np.array([first_dir])], [np.array([first_curv])]
    for k in reversed(segments):
        parent = nodes[nodes[k][4]]
        x, y, yaw = parent[0], parent[1], parent[2]
        c, s = math.cos(yaw), math.sin(yaw)
        sub = local[nodes[k][5]]  # (M, 3)
        poses.append(
            np.stack(
                [
                    x + c * sub[:, 0] - s * sub[:, 1],
                    y + s * sub[:, 0] + c * sub[:, 1],
                    yaw + sub[:, 2],
                ],
                axis=1,
            )
        )
        dirs.append(np.full(len(sub), nodes[k][6]))
        curvs.append(np.full(len(sub), float(prim_curv[nodes[k][5]])))
    return np.concatenate(poses), np.concatenate(dirs), np.concatenate(curvs)


def _to_result(
    grid: CostGrid, poses: np.ndarray, dirs: np.ndarray, curvs: np.ndarray,
    status: PlanStatus, cost: float, expansions: int, detail: str = "",
) -> PosePlanResult:  # fmt: skip
    """Converts grid-local (N, 3) poses to ``grid.frame_id`` and wraps the result."""
    world = local_to_world(grid.origin, poses[:, :2])
    yaw = (poses[:, 2] + grid.origin[2] + math.pi) % (2 * math.pi) - math.pi
    out = np.concatenate([world, yaw[:, None]], axis=1)  # (N, 3)
    return PosePlanResult(
        status, out, dirs.astype(np.int8), curvs.astype(np.float64), cost, expansions, detail
    )
