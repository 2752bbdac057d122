"""Cost-aware string pulling: a grid path -> the any-angle polyline a car would drive.

An 8-connected grid path can only head in multiples of 45 degrees, so a road at 16 degrees
comes back as a run of straight steps and a run of diagonal steps: equal cost on the grid,
but a swerve of +-29 degrees on the road, which smoothing over a metre cannot remove and the
speed profile then brakes for. Classic line-of-sight post-processing (as in Theta* and the
"string pulling" of navigation meshes) replaces stretches of the path by straight segments.
With a cost grid a straight segment may cross costlier cells than the stretch it replaces, so
a shortcut is taken only where it does not raise the search's own objective

    integral over the segment of (1 + cost_weight * cost) ds  <=  the grid path's cost of the stretch

(each grid step costs ``step * (1 + cost_weight * cost[entered cell])``, see ``astar.py``),
and only if it crosses no cell costlier than the stretch's costliest (plus ``max_cost_rise``:
on a road the path keeps its distance from the route and from obstacles, so corners are not
cut) and touches no lethal or off-grid cell (exact slab test, the one the smoother uses). Anchors advance greedily to the farthest such point, so the result has at most
as many vertices as the input; it is resampled at the grid resolution for the smoother.
"""

from __future__ import annotations

import numpy as np

from drivestack.msgs import CostGrid
from drivestack.planning.costmap import world_to_local
from drivestack.planning.smoothing import bad_segments


def _segment_costs(
    grid: CostGrid, a: np.ndarray, ends: np.ndarray, weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(J,) objective and (J,) largest cell cost of the straight segments ``a`` -> ``ends[j]``,
    by sampling at 1/4 cell. Off-grid or lethal samples make both infinite.
    """
    res = grid.resolution
    lengths = np.linalg.norm(ends - a, axis=1)  # (J,)
    n = max(int(np.ceil(lengths.max(initial=0.0) / (res / 4))), 1)
    t = (np.arange(n) + 0.5) / n  # (n,) sample midpoints on [0, 1]
    pts = a + t[None, :, None] * (ends - a)[:, None, :]  # (J, n, 2)
    cells = np.floor(world_to_local(grid.origin, pts.reshape(-1, 2)) / res).astype(np.int64)
    h, w = grid.cost.shape
    inside = (cells[:, 0] >= 0) & (cells[:, 0] < w) & (cells[:, 1] >= 0) & (cells[:, 1] < h)
    cost = np.full(len(cells), np.inf)
    c = np.asarray(grid.cost)[cells[inside, 1], cells[inside, 0]].astype(np.float64)
    cost[inside] = np.where(c >= grid.lethal, np.inf, c)
    cost = cost.reshape(len(ends), n)  # (J, n)
    return (1.0 + weight * cost).mean(axis=1) * lengths, cost.max(axis=1)  # (J,) each


def shortcut_path(
    xy: np.ndarray,
    grid: CostGrid,
    cost_weight: float,
    max_cost_rise: float = 0.002,
    max_segment: float = 15.0,
) -> np.ndarray:
    """Shortens a grid path by straight segments that do not raise its cost.

    Args:
        xy: (N, 2) [m] grid path (cell centres), in ``grid.frame_id``.
        grid: The cost grid the path was planned on.
        cost_weight: The search's weight of cell cost.
        max_cost_rise: A segment may not cross a cell costlier than the costliest cell of
            the stretch it replaces by more than this: the path keeps its place in the cost
            field (its distance from the route, from obstacles) and loses only the staircase.
        max_segment: [m] of grid path the first pass may replace by one segment. Every
            candidate segment is sampled at 1/4 cell, so the work per anchor grows with the
            square of this reach; unbounded, this step took 90 % of a planning tick (184 ms
            of 203 on KITTI 0011). A second pass joins the first pass's vertices where the
            same tests allow, so straights longer than the reach stay straight.

    Returns:
        (M, 2) [m] polyline from ``xy[0]`` to ``xy[-1]``, resampled every ``grid.resolution``
        (at most) along its straight segments.
    """
    p = np.asarray(xy, dtype=np.float64)
    if len(p) < 3:
        return p
    local = np.floor(world_to_local(grid.origin, p) / grid.resolution).astype(np.int64)  # (N, 2)
    h, w = grid.cost.shape
    cols, rows = np.clip(local[:, 0], 0, w - 1), np.clip(local[:, 1], 0, h - 1)
    step = np.linalg.norm(np.diff(p, axis=0), axis=1)  # (N-1,)
    entered = np.asarray(grid.cost)[rows[1:], cols[1:]].astype(np.float64)  # (N-1,)
    along = np.concatenate([[0.0], np.cumsum(step * (1.0 + cost_weight * entered))])  # (N,)
    here = np.asarray(grid.cost)[rows, cols].astype(np.float64)  # (N,) cost of each path cell
    arc = np.concatenate([[0.0], np.cumsum(step)])  # (N,) [m] along the grid path

    def farthest(i: int, ends: np.ndarray) -> int:
        """The farthest of ``ends`` (ascending path indices after ``i``; ``ends[0]`` is always
        allowed) that ``p[i]`` may be joined to by one straight segment."""
        seg, worst = _segment_costs(grid, p[i], p[ends], cost_weight)  # (J,) each
        # (J,) worst cell the path met from p[i] on; p[i]'s own cell counts: every segment
        # starts in it (without it, a path starting off the cost valley, like the ego's
        # cell beside the route centre, kept its grid steps down into the valley: a
        # sideways hop a car cannot drive)
        stretch_worst = np.maximum.accumulate(here[i:])[ends - i]
        ok = (seg <= along[ends] - along[i] + 1e-9) & (worst <= stretch_worst + max_cost_rise)
        ok[0] = True
        # the farthest acceptable end whose segment also passes the exact lethal test
        for cand in ends[ok][::-1]:
            if cand == ends[0] or not bad_segments(grid, p[[i, cand]]).any():
                return int(cand)
        return int(ends[0])

    # Pass 1: from each anchor, the farthest grid point within ``max_segment`` of path.
    keep = [0]
    while keep[-1] < len(p) - 1:
        i = keep[-1]
        reach = int(np.searchsorted(arc, arc[i] + max_segment, side="right"))
        keep.append(farthest(i, np.arange(i + 1, max(reach, i + 2))))
    # Pass 2: join pass 1's vertices across the reach where the same tests allow (a
    # staircase of one long diagonal run and one long straight run becomes one line).
    verts = np.array(keep)
    keep = [0]
    while keep[-1] < len(p) - 1:
        k = int(np.searchsorted(verts, keep[-1]))
        keep.append(farthest(keep[-1], verts[k + 1 :]))
    poly = p[keep]  # (K, 2)
    out = [poly[:1]]
    for a, b in zip(poly[:-1], poly[1:], strict=True):
        n = max(int(np.ceil(np.linalg.norm(b - a) / grid.resolution)), 1)
        t = np.arange(1, n + 1) / n
        out.append(a + t[:, None] * (b - a))
    return np.concatenate(out)
