"""Box overlap: axis-aligned 2D IoU, rotated bird's-eye-view IoU, 3D IoU and 3D GIoU.

3D boxes are in the stack convention ``(x, y, z, dx, dy, dz, yaw)``: centre, extent along the
box's own axes, yaw counter-clockwise from +x about +z; [m] and [rad]. KITTI camera-frame boxes
are converted by :func:`drivestack.eval.kitti_boxes.camera_to_stack_boxes` first.

The BEV intersection of two rotated rectangles is computed exactly, the way the KITTI devkit's
boost::geometry polygons and OpenPCDet's ``iou3d_nms`` kernel do it: the intersection polygon is
the convex hull of (corners of A inside B) + (corners of B inside A) + (edge/edge crossings);
its vertices are sorted by angle about their mean and the shoelace formula gives the area. All
of this is vectorised over box pairs: 24 candidate points per pair, invalid ones replaced by the
first valid vertex so that they add zero area.

GIoU follows AB3DMOT (``AB3DMOT_libs/dist_metrics.py``): with ``I`` and ``U`` the 3D
intersection and union volumes, ``C`` = (area of the convex hull of both BEV rectangles) x
(height of the vertical span covering both boxes), ``GIoU = I/U - (C - U)/C`` in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_EPS = 1e-9  # [m^2] tolerance of the point-in-rectangle and parallel-edge tests


def iou_2d(a: np.ndarray, b: np.ndarray, criterion: str = "union") -> np.ndarray:
    """Overlap of axis-aligned image boxes, as the KITTI devkits compute it (no +1 on sizes).

    Args:
        a: (N, 4) [px] x1, y1, x2, y2.
        b: (M, 4) [px] x1, y1, x2, y2.
        criterion: "union" -> intersection / union (IoU); "a" -> intersection / area(a), the
            devkits' criterion for a detection ``a`` falling into a DontCare region ``b``.

    Returns:
        (N, M) float64 overlap in [0, 1]; 0 where the denominator is 0.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)  # (N, M)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])  # (N,)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # (M,)
    if criterion == "union":
        denom = area_a[:, None] + area_b[None, :] - inter
    elif criterion == "a":
        denom = np.broadcast_to(area_a[:, None], inter.shape)
    else:
        raise ValueError(f"iou_2d: criterion must be 'union' or 'a', got {criterion!r}")
    return _safe_div(inter, denom)


def iou_2d_pairs(a: np.ndarray, b: np.ndarray, criterion: str = "union") -> np.ndarray:
    """Overlap of image-box pairs ``a[i]``, ``b[i]``; same rules as :func:`iou_2d`.

    Args:
        a: (P, 4) [px] x1, y1, x2, y2.
        b: (P, 4) [px].
        criterion: "union" (IoU) or "a" (intersection / area of ``a``).

    Returns:
        (P,) overlap; 0 where the boxes do not overlap.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)  # (P,)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    if criterion == "union":
        denom = area_a + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    elif criterion == "a":
        denom = area_a
    else:
        raise ValueError(f"iou_2d_pairs: criterion must be 'union' or 'a', got {criterion!r}")
    out = np.zeros(len(a))
    np.divide(inter, denom, out=out, where=inter > 0)
    return out


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape, np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def bev_corners(boxes: np.ndarray) -> np.ndarray:
    """Bird's-eye-view corners of stack boxes, counter-clockwise.

    Args:
        boxes: (N, 7) [x, y, z, dx, dy, dz, yaw].

    Returns:
        (N, 4, 2) [m] corner x, y.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    half = boxes[:, 3:5, None] / 2  # (N, 2, 1)
    signs = np.array([[1, -1, -1, 1], [1, 1, -1, -1]], np.float64)  # (2, 4) CCW
    local = half * signs  # (N, 2, 4)
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], 1)  # (N, 2, 2)
    world = rot @ local + boxes[:, 0:2, None]  # (N, 2, 4)
    return world.transpose(0, 2, 1)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _sorted_polygon_area(points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Area of the convex polygon whose vertices are the valid points (any order).

    Args:
        points: (P, K, 2) candidate vertices.
        valid: (P, K) bool.

    Returns:
        (P,) area; 0 for fewer than 3 valid points.
    """
    count = valid.sum(1)  # (P,)
    safe = np.maximum(count, 1)[:, None]
    centre = (points * valid[..., None]).sum(1) / safe  # (P, 2)
    rel = points - centre[:, None, :]  # (P, K, 2)
    angle = np.where(valid, np.arctan2(rel[..., 1], rel[..., 0]), np.inf)  # (P, K)
    order = np.argsort(angle, axis=1, kind="stable")
    rel = np.take_along_axis(rel, order[..., None], 1)
    ok = np.take_along_axis(valid, order, 1)
    # Invalid points (sorted last) become copies of the first vertex: zero-area edges.
    rel = np.where(ok[..., None], rel, rel[:, :1, :])
    area = 0.5 * _cross(rel, np.roll(rel, -1, axis=1)).sum(1)  # (P,)
    return np.where(count >= 3, np.abs(area), 0.0)


def _inside(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(P, K, 2) points inside (or on) the CCW rectangles (P, 4, 2) -> (P, K) bool."""
    edge = np.roll(corners, -1, axis=1) - corners  # (P, 4, 2)
    rel = points[:, :, None, :] - corners[:, None, :, :]  # (P, K, 4, 2)
    return (_cross(edge[:, None], rel) >= -_EPS).all(-1)


def bev_intersection_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """BEV intersection area of box pairs ``a[i]``, ``b[i]``.

    Args:
        a: (P, 7) stack boxes.
        b: (P, 7) stack boxes.

    Returns:
        (P,) [m^2] exact area of the intersection of the two rotated rectangles.
    """
    a = np.asarray(a, np.float64).reshape(-1, 7)
    b = np.asarray(b, np.float64).reshape(-1, 7)
    out = np.zeros(len(a), np.float64)
    # Pairs whose circumscribed circles are apart cannot overlap: skip them.
    reach = 0.5 * (np.hypot(a[:, 3], a[:, 4]) + np.hypot(b[:, 3], b[:, 4]))  # (P,)
    near = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) <= reach  # (P,)
    if not near.any():
        return out
    ca, cb = bev_corners(a[near]), bev_corners(b[near])  # (Q, 4, 2)
    a_in_b = _inside(ca, cb)  # (Q, 4)
    b_in_a = _inside(cb, ca)  # (Q, 4)
    # Edge i of A (a0 -> a1) against edge j of B (b0 -> b1): a0 + t (a1 - a0) = b0 + u (b1 - b0).
    da = np.roll(ca, -1, 1) - ca  # (Q, 4, 2)
    db = np.roll(cb, -1, 1) - cb  # (Q, 4, 2)
    denom = _cross(da[:, :, None], db[:, None, :])  # (Q, 4, 4)
    off = cb[:, None, :, :] - ca[:, :, None, :]  # (Q, 4, 4, 2)
    par = np.abs(denom) < _EPS
    d_safe = np.where(par, 1.0, denom)
    t = _cross(off, db[:, None, :]) / d_safe  # (Q, 4, 4)
    u = _cross(off, da[:, :, None]) / d_safe  # (Q, 4, 4)
    tol = 1e-12
    crossing = ~par & (t >= -tol) & (t <= 1 + tol) & (u >= -tol) & (u <= 1 + tol)
    pts_x = ca[:, :, None, :] + t[..., None] * da[:, :, None, :]  # (Q, 4, 4, 2)
    q = len(ca)
    points = np.concatenate([ca, cb, pts_x.reshape(q, 16, 2)], 1)  # (Q, 24, 2)
    valid = np.concatenate([a_in_b, b_in_a, crossing.reshape(q, 16)], 1)  # (Q, 24)
    out[near] = _sorted_polygon_area(points, valid)
    return out


def _hull_area_pairs(a: np.ndarray, b: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(P,) area of the convex hull of the 8 BEV corners of each pair (P, 7), (P, 7)."""
    out = np.zeros(len(a), np.float64)
    for s in range(0, len(a), chunk):
        pts = np.concatenate([bev_corners(a[s : s + chunk]), bev_corners(b[s : s + chunk])], 1)
        # Point i is a hull vertex iff some distinct point j has every point k on or left of
        # the line i -> j (points strictly inside start no such edge; collinear points on the
        # hull may count as vertices, which leaves the area unchanged).
        d = pts[:, None, :, :] - pts[:, :, None, :]  # (C, 8i, 8j, 2): p_j - p_i
        side = _cross(d[:, :, :, None, :], d[:, :, None, :, :])  # (C, i, j, k)
        distinct = np.hypot(d[..., 0], d[..., 1]) > 1e-9  # (C, i, j)
        edge = distinct & (side >= -_EPS).all(-1)  # (C, i, j)
        out[s : s + chunk] = _sorted_polygon_area(pts, edge.any(-1))
    return out


def _vertical(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P,) overlap and (P,) covering span of the z intervals of box pairs."""
    a_lo, a_hi = a[:, 2] - a[:, 5] / 2, a[:, 2] + a[:, 5] / 2
    b_lo, b_hi = b[:, 2] - b[:, 5] / 2, b[:, 2] + b[:, 5] / 2
    overlap = np.clip(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo), 0, None)
    span = np.maximum(a_hi, b_hi) - np.minimum(a_lo, b_lo)
    return overlap, span


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, np.float64).reshape(-1, 7)
    b = np.asarray(b, np.float64).reshape(-1, 7)
    if len(a) != len(b):
        raise ValueError(f"pairwise box IoU needs equal lengths, got {len(a)} and {len(b)}")
    return a, b


def bev_iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P,) rotated BEV IoU of pairs ``a[i]``, ``b[i]``; a, b: (P, 7) stack boxes."""
    a, b = _pairs(a, b)
    inter = bev_intersection_pairs(a, b)
    union = a[:, 3] * a[:, 4] + b[:, 3] * b[:, 4] - inter
    return _safe_div(inter, union)


def iou_3d_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P,) 3D IoU of pairs ``a[i]``, ``b[i]`` (boxes rotate about z only); a, b: (P, 7)."""
    a, b = _pairs(a, b)
    inter = bev_intersection_pairs(a, b) * _vertical(a, b)[0]
    union = a[:, 3:6].prod(1) + b[:, 3:6].prod(1) - inter
    return _safe_div(inter, union)


def giou_3d_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P,) AB3DMOT 3D GIoU of pairs ``a[i]``, ``b[i]`` in [-1, 1]; a, b: (P, 7)."""
    a, b = _pairs(a, b)
    overlap, span = _vertical(a, b)
    inter = bev_intersection_pairs(a, b) * overlap
    union = a[:, 3:6].prod(1) + b[:, 3:6].prod(1) - inter
    hull = _hull_area_pairs(a, b) * span
    return _safe_div(inter, union) - _safe_div(hull - union, hull)


def _matrix(
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    a = np.asarray(a, np.float64).reshape(-1, 7)
    b = np.asarray(b, np.float64).reshape(-1, 7)
    n, m = len(a), len(b)
    ia, ib = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    return fn(a[ia], b[ib]).reshape(n, m)


def bev_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotated bird's-eye-view IoU.

    Args:
        a: (N, 7) stack boxes [x, y, z, dx, dy, dz, yaw].
        b: (M, 7) stack boxes.

    Returns:
        (N, M) IoU of the BEV rectangles in [0, 1].
    """
    return _matrix(bev_iou_pairs, a, b)


def iou_3d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3D IoU (exact BEV polygon intersection x vertical overlap).

    Args:
        a: (N, 7) stack boxes.
        b: (M, 7) stack boxes.

    Returns:
        (N, M) IoU in [0, 1].
    """
    return _matrix(iou_3d_pairs, a, b)


def giou_3d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3D generalised IoU as AB3DMOT defines it (see module docstring).

    Args:
        a: (N, 7) stack boxes.
        b: (M, 7) stack boxes.

    Returns:
        (N, M) GIoU in [-1, 1].
    """
    return _matrix(giou_3d_pairs, a, b)
