"""3D GIoU of box pairs, compiled with numba: the same geometry as ``box_iou.giou_3d_pairs``.

:func:`drivestack.eval.box_iou.giou_3d_pairs` is the readable, vectorised reference. It spends
most of its time in numpy call overhead when a tracker asks for a handful of pairs per frame
(about 40 array operations per call, each on a few dozen numbers). This module computes the
same quantity pair by pair in one compiled loop:

* BEV intersection: the convex polygon of (corners of A inside B) + (corners of B inside A) +
  (edge/edge crossings), vertices sorted by angle about their mean, shoelace area; the same
  tolerances as the reference (``_EPS`` for inside and parallel tests, 1e-12 on the edge
  parameters) and the same circumcircle early-out.
* Convex hull of the 8 BEV corners: a point is a hull vertex iff some distinct point makes
  every point lie on or left of the line between them (the reference's criterion), then the
  same angle sort and shoelace.
* ``GIoU = I/U - (C - U)/C`` with ``C`` = hull area x covering vertical span (AB3DMOT).

Results equal the reference up to floating-point summation order (about 1e-15);
``tests/eval/test_eval_box_giou_compiled.py`` checks this on random and degenerate boxes. The
first call compiles (a few seconds; cached on disk by numba afterwards).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from drivestack.eval.box_iou import _EPS

_T_TOL = 1e-12  # tolerance on the edge parameters of a crossing (as the reference)


@numba.njit(cache=True)
def _corners(box: np.ndarray, out: np.ndarray) -> None:
    """CCW BEV corners of one box (7,) into ``out`` (4, 2), as ``box_iou.bev_corners``."""
    hx, hy = box[3] / 2.0, box[4] / 2.0
    c, s = math.cos(box[6]), math.sin(box[6])
    sx = (1.0, -1.0, -1.0, 1.0)
    sy = (1.0, 1.0, -1.0, -1.0)
    for k in range(4):
        lx, ly = hx * sx[k], hy * sy[k]
        out[k, 0] = c * lx - s * ly + box[0]
        out[k, 1] = s * lx + c * ly + box[1]


@numba.njit(cache=True)
def _polygon_area(pts: np.ndarray, valid: np.ndarray) -> float:
    """Area of the convex polygon of the valid points (any order); 0 for fewer than 3."""
    n = pts.shape[0]
    count = 0
    cx = 0.0
    cy = 0.0
    for k in range(n):
        if valid[k]:
            count += 1
            cx += pts[k, 0]
            cy += pts[k, 1]
    if count < 3:
        return 0.0
    cx /= count
    cy /= count
    ang = np.empty(count)
    rx = np.empty(count)
    ry = np.empty(count)
    j = 0
    for k in range(n):
        if valid[k]:
            rx[j] = pts[k, 0] - cx
            ry[j] = pts[k, 1] - cy
            ang[j] = math.atan2(ry[j], rx[j])
            j += 1
    # Insertion sort by angle (stable, like the reference's argsort kind="stable").
    for i in range(1, count):
        a, x, y = ang[i], rx[i], ry[i]
        k = i - 1
        while k >= 0 and ang[k] > a:
            ang[k + 1], rx[k + 1], ry[k + 1] = ang[k], rx[k], ry[k]
            k -= 1
        ang[k + 1], rx[k + 1], ry[k + 1] = a, x, y
    area = 0.0
    for i in range(count):
        nxt = (i + 1) % count
        area += rx[i] * ry[nxt] - ry[i] * rx[nxt]
    return abs(0.5 * area)


@numba.njit(cache=True)
def _inside(p: np.ndarray, rect: np.ndarray) -> bool:
    """Point (2,) inside or on the CCW rectangle (4, 2)."""
    for e in range(4):
        nxt = (e + 1) % 4
        ex, ey = rect[nxt, 0] - rect[e, 0], rect[nxt, 1] - rect[e, 1]
        rx, ry = p[0] - rect[e, 0], p[1] - rect[e, 1]
        if ex * ry - ey * rx < -_EPS:
            return False
    return True


@numba.njit(cache=True)
def _intersection_area(a: np.ndarray, b: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> float:
    """BEV intersection area of boxes ``a``, ``b`` (7,) with corners ``ca``, ``cb`` (4, 2)."""
    reach = 0.5 * (math.hypot(a[3], a[4]) + math.hypot(b[3], b[4]))
    if math.hypot(a[0] - b[0], a[1] - b[1]) > reach:
        return 0.0
    pts = np.empty((24, 2))
    valid = np.zeros(24, np.bool_)
    for k in range(4):
        pts[k] = ca[k]
        valid[k] = _inside(ca[k], cb)
        pts[4 + k] = cb[k]
        valid[4 + k] = _inside(cb[k], ca)
    for i in range(4):
        ni = (i + 1) % 4
        dax, day = ca[ni, 0] - ca[i, 0], ca[ni, 1] - ca[i, 1]
        for j in range(4):
            nj = (j + 1) % 4
            dbx, dby = cb[nj, 0] - cb[j, 0], cb[nj, 1] - cb[j, 1]
            denom = dax * dby - day * dbx
            k = 8 + 4 * i + j
            if abs(denom) < _EPS:
                pts[k, 0] = ca[i, 0]
                pts[k, 1] = ca[i, 1]
                continue
            ox, oy = cb[j, 0] - ca[i, 0], cb[j, 1] - ca[i, 1]
            t = (ox * dby - oy * dbx) / denom
            u = (ox * day - oy * dax) / denom
            pts[k, 0] = ca[i, 0] + t * dax
            pts[k, 1] = ca[i, 1] + t * day
            valid[k] = t >= -_T_TOL and t <= 1 + _T_TOL and u >= -_T_TOL and u <= 1 + _T_TOL
    return _polygon_area(pts, valid)


@numba.njit(cache=True)
def _hull_area(ca: np.ndarray, cb: np.ndarray) -> float:
    """Area of the convex hull of the 8 corners ``ca``, ``cb`` (4, 2)."""
    pts = np.empty((8, 2))
    pts[:4] = ca
    pts[4:] = cb
    vertex = np.zeros(8, np.bool_)
    for i in range(8):
        for j in range(8):
            dx, dy = pts[j, 0] - pts[i, 0], pts[j, 1] - pts[i, 1]
            if math.hypot(dx, dy) <= 1e-9:
                continue
            left = True
            for k in range(8):
                kx, ky = pts[k, 0] - pts[i, 0], pts[k, 1] - pts[i, 1]
                if dx * ky - dy * kx < -_EPS:
                    left = False
                    break
            if left:
                vertex[i] = True
                break
    return _polygon_area(pts, vertex)


@numba.njit(cache=True)
def _giou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape[0])
    ca = np.empty((4, 2))
    cb = np.empty((4, 2))
    for p in range(a.shape[0]):
        _corners(a[p], ca)
        _corners(b[p], cb)
        a_lo, a_hi = a[p, 2] - a[p, 5] / 2, a[p, 2] + a[p, 5] / 2
        b_lo, b_hi = b[p, 2] - b[p, 5] / 2, b[p, 2] + b[p, 5] / 2
        overlap = max(min(a_hi, b_hi) - max(a_lo, b_lo), 0.0)
        span = max(a_hi, b_hi) - min(a_lo, b_lo)
        inter = _intersection_area(a[p], b[p], ca, cb) * overlap
        union = a[p, 3] * a[p, 4] * a[p, 5] + b[p, 3] * b[p, 4] * b[p, 5] - inter
        hull = _hull_area(ca, cb) * span
        iou = inter / union if union > 0 else 0.0
        gap = (hull - union) / hull if hull > 0 else 0.0
        out[p] = iou - gap
    return out


def giou_3d_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """AB3DMOT 3D GIoU of pairs ``a[i]``, ``b[i]`` (compiled; see module docstring).

    Args:
        a: (P, 7) stack boxes ``(x, y, z, dx, dy, dz, yaw)`` [m]/[rad].
        b: (P, 7) stack boxes.

    Returns:
        (P,) GIoU in [-1, 1], equal to ``box_iou.giou_3d_pairs(a, b)`` up to rounding.
    """
    a = np.ascontiguousarray(np.asarray(a, np.float64).reshape(-1, 7))
    b = np.ascontiguousarray(np.asarray(b, np.float64).reshape(-1, 7))
    if len(a) != len(b):
        raise ValueError(f"pairwise box GIoU needs equal lengths, got {len(a)} and {len(b)}")
    return _giou_pairs(a, b)
