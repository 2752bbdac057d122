"""Box IoU against independent references: plain-loop polygon clipping, shapely, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivestack.eval.box_iou import (
    bev_intersection_pairs,
    bev_iou,
    giou_3d,
    iou_2d,
    iou_3d,
)
from drivestack.eval.kitti_boxes import camera_to_stack_boxes


def _rect(box: np.ndarray) -> list[tuple[float, float]]:
    x, y, _, dx, dy, _, yaw = (float(v) for v in box)
    c, s = math.cos(yaw), math.sin(yaw)
    pts = [(dx / 2, dy / 2), (-dx / 2, dy / 2), (-dx / 2, -dy / 2), (dx / 2, -dy / 2)]
    return [(x + c * u - s * v, y + s * u + c * v) for u, v in pts]


def _clip(subject: list[tuple[float, float]], clip: list[tuple[float, float]]) -> list:
    """Sutherland-Hodgman with plain loops: the part of ``subject`` inside convex CCW ``clip``."""
    out = subject
    for i in range(len(clip)):
        (ax, ay), (bx, by) = clip[i], clip[(i + 1) % len(clip)]
        inp, out = out, []

        def side(p, ax=ax, ay=ay, bx=bx, by=by):
            return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)

        for j in range(len(inp)):
            p, q = inp[j], inp[(j + 1) % len(inp)]
            sp, sq = side(p), side(q)
            if sp >= 0:
                out.append(p)
            if (sp >= 0) != (sq >= 0):
                t = sp / (sp - sq)
                out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        if not out:
            return []
    return out


def _area(poly: list) -> float:
    return 0.5 * abs(
        sum(
            poly[i][0] * poly[(i + 1) % len(poly)][1] - poly[(i + 1) % len(poly)][0] * poly[i][1]
            for i in range(len(poly))
        )
    )


def _random_boxes(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    xyz = rng.uniform(-spread, spread, (n, 3))
    size = rng.uniform(0.3, 5.0, (n, 3))
    yaw = rng.uniform(-math.pi, math.pi, (n, 1))
    return np.concatenate([xyz, size, yaw], 1)


def test_bev_intersection_matches_plain_loop_polygon_clipping_on_random_boxes() -> None:
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 400, 2.0), _random_boxes(rng, 400, 2.0)
    got = bev_intersection_pairs(a, b)
    want = np.array([_area(_clip(_rect(p), _rect(q))) for p, q in zip(a, b, strict=True)])
    assert (want > 0).sum() > 200  # the random pairs mostly overlap: the test has teeth
    np.testing.assert_allclose(got, want, atol=1e-9, rtol=1e-9)


def test_bev_and_3d_iou_match_shapely_on_random_boxes() -> None:
    shapely = pytest.importorskip("shapely.geometry")
    rng = np.random.default_rng(1)
    a, b = _random_boxes(rng, 30, 2.5), _random_boxes(rng, 25, 2.5)
    bev, v3 = bev_iou(a, b), iou_3d(a, b)
    for i in range(len(a)):
        for j in range(len(b)):
            pa, pb = shapely.Polygon(_rect(a[i])), shapely.Polygon(_rect(b[j]))
            inter = pa.intersection(pb).area
            assert bev[i, j] == pytest.approx(inter / (pa.area + pb.area - inter), abs=1e-9)
            zo = max(
                0.0,
                min(a[i, 2] + a[i, 5] / 2, b[j, 2] + b[j, 5] / 2)
                - max(a[i, 2] - a[i, 5] / 2, b[j, 2] - b[j, 5] / 2),
            )
            vi = inter * zo
            vu = a[i, 3:6].prod() + b[j, 3:6].prod() - vi
            assert v3[i, j] == pytest.approx(vi / vu, abs=1e-9)


def test_giou_matches_hull_reference_and_bounds() -> None:
    shapely = pytest.importorskip("shapely.geometry")
    rng = np.random.default_rng(2)
    a, b = _random_boxes(rng, 20, 4.0), _random_boxes(rng, 20, 4.0)
    g = giou_3d(a, b)
    for i in range(len(a)):
        for j in range(len(b)):
            pa, pb = shapely.Polygon(_rect(a[i])), shapely.Polygon(_rect(b[j]))
            hull = shapely.MultiPoint(_rect(a[i]) + _rect(b[j])).convex_hull.area
            lo = min(a[i, 2] - a[i, 5] / 2, b[j, 2] - b[j, 5] / 2)
            hi = max(a[i, 2] + a[i, 5] / 2, b[j, 2] + b[j, 5] / 2)
            zo = max(
                0.0,
                min(a[i, 2] + a[i, 5] / 2, b[j, 2] + b[j, 5] / 2)
                - max(a[i, 2] - a[i, 5] / 2, b[j, 2] - b[j, 5] / 2),
            )
            vi = pa.intersection(pb).area * zo
            vu = a[i, 3:6].prod() + b[j, 3:6].prod() - vi
            vc = hull * (hi - lo)
            assert g[i, j] == pytest.approx(vi / vu - (vc - vu) / vc, abs=1e-9)
    assert (g >= -1 - 1e-12).all() and (g <= 1 + 1e-12).all()


def test_giou_hull_area_equals_plain_reference_without_shapely() -> None:
    # Separated axis-aligned boxes: hull of two unit squares at distance 3 along x = 1 x 4.
    a = np.array([[0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.0]])
    b = np.array([[3.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.0]])
    # I = 0, U = 2, C = 4 * 1 -> GIoU = 0 - (4 - 2) / 4 = -0.5
    assert giou_3d(a, b)[0, 0] == pytest.approx(-0.5)
    assert giou_3d(a, a)[0, 0] == pytest.approx(1.0)


def test_identical_touching_and_rotated_boxes_known_values() -> None:
    box = np.array([[1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.3]])
    assert bev_iou(box, box)[0, 0] == pytest.approx(1.0)
    assert iou_3d(box, box)[0, 0] == pytest.approx(1.0)
    # A square and the same square turned by 45 deg: intersection is a regular octagon.
    sq = np.array([[0.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0]])
    rot = sq.copy()
    rot[0, 6] = math.pi / 4
    octagon = 8 * (math.sqrt(2) - 1)  # area of the octagon inscribed in a 2 x 2 square
    assert bev_intersection_pairs(sq, rot)[0] == pytest.approx(octagon)
    # Edge-touching boxes have zero overlap; a yaw of pi gives the same box.
    touch = sq.copy()
    touch[0, 0] = 2.0
    assert bev_iou(sq, touch)[0, 0] == pytest.approx(0.0, abs=1e-12)
    flipped = box.copy()
    flipped[0, 6] += math.pi
    assert bev_iou(box, flipped)[0, 0] == pytest.approx(1.0)
    # Half height overlap in z: 3D IoU = 0.5 / 1.5.
    up = sq.copy()
    up[0, 2] = 0.5
    assert iou_3d(sq, up)[0, 0] == pytest.approx(1 / 3)


def test_iou_2d_matches_loops_and_dontcare_criterion() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (40, 2))
    a = np.concatenate([xy, xy + rng.uniform(1, 30, (40, 2))], 1)
    xy = rng.uniform(0, 50, (30, 2))
    b = np.concatenate([xy, xy + rng.uniform(1, 30, (30, 2))], 1)
    got, got_a = iou_2d(a, b), iou_2d(a, b, criterion="a")
    for i in range(len(a)):
        for j in range(len(b)):
            iw = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
            ih = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
            aa = (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1])
            ab = (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
            assert got[i, j] == pytest.approx(iw * ih / (aa + ab - iw * ih))
            assert got_a[i, j] == pytest.approx(iw * ih / aa)
    with pytest.raises(ValueError, match="criterion"):
        iou_2d(a, b, criterion="b")


def test_empty_inputs_give_empty_matrices() -> None:
    e = np.zeros((0, 7))
    one = np.array([[0, 0, 0, 1, 1, 1, 0.0]])
    assert bev_iou(e, one).shape == (0, 1)
    assert iou_3d(one, e).shape == (1, 0)
    assert giou_3d(e, e).shape == (0, 0)
    assert iou_2d(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)


def test_camera_to_stack_conversion_matches_kitti_geometry() -> None:
    # A car 4 m long facing camera +x (rotation_y = 0), bottom at y = 1.6 m (camera height).
    box = camera_to_stack_boxes(np.array([[1.5, 1.6, 4.0]]), np.array([[2.0, 1.6, 10.0]]), [0.0])
    x, y, z, dx, dy, dz, yaw = box[0]
    assert (x, y, z) == pytest.approx((10.0, -2.0, -1.6 + 0.75))
    assert (dx, dy, dz) == pytest.approx((4.0, 1.6, 1.5))
    # Heading camera +x = stack -Y.
    assert (math.cos(yaw), math.sin(yaw)) == pytest.approx((0.0, -1.0), abs=1e-12)
    # rotation_y = -pi/2 heads along camera +z (away from the camera) = stack +X.
    fwd = camera_to_stack_boxes(np.array([[1, 1, 1.0]]), np.zeros((1, 3)), [-math.pi / 2])
    assert (math.cos(fwd[0, 6]), math.sin(fwd[0, 6])) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_camera_stack_conversion_round_trips() -> None:
    from drivestack.eval.kitti_boxes import stack_to_camera_boxes

    rng = np.random.default_rng(4)
    dims = rng.uniform(0.5, 5, (50, 3))
    loc = rng.uniform(-20, 40, (50, 3))
    ry = rng.uniform(-math.pi, math.pi, 50)
    d2, l2, r2 = stack_to_camera_boxes(camera_to_stack_boxes(dims, loc, ry))
    np.testing.assert_allclose(d2, dims)
    np.testing.assert_allclose(l2, loc, atol=1e-12)
    np.testing.assert_allclose(np.cos(r2 - ry), 1.0)
