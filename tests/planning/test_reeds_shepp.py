"""Reeds–Shepp: every returned path ends at the goal; known closed-form lengths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.planning.reeds_shepp import reeds_shepp_paths, sample, shortest_path

coord = st.floats(-20, 20, allow_nan=False)
angle = st.floats(-math.pi, math.pi, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(x0=coord, y0=coord, t0=angle, x1=coord, y1=coord, t1=angle, r=st.floats(1.0, 8.0))
def test_reeds_shepp_paths_end_at_goal_and_respect_radius(x0, y0, t0, x1, y1, t1, r):
    path = shortest_path((x0, y0, t0), (x1, y1, t1), r)
    assert path is not None
    assert path.length >= math.hypot(x1 - x0, y1 - y0) - 1e-6
    poses, dirs, curvs = sample(path, (x0, y0, t0), 0.25)
    assert poses[-1, :2] == pytest.approx([x1, y1], abs=1e-6)
    assert math.cos(poses[-1, 2] - t1) == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.abs(curvs) <= 1.0 / r + 1e-12)
    # Consecutive samples lie on one arc of radius >= r: chord = 2 R sin(dyaw / 2).
    chord = np.linalg.norm(np.diff(poses[:, :2], axis=0), axis=1)
    dyaw = np.abs((np.diff(poses[:, 2]) + math.pi) % (2 * math.pi) - math.pi)
    turning = dyaw > 1e-9
    radius = chord[turning] / (2.0 * np.sin(dyaw[turning] / 2.0))
    assert np.all(radius >= r * (1 - 1e-6))
    assert set(np.unique(dirs)) <= {-1, 1}


def test_reeds_shepp_straight_and_reverse_lengths():
    fwd = shortest_path((0, 0, 0), (10, 0, 0), 3.0)
    assert fwd.length == pytest.approx(10.0) and fwd.cusps == 0
    back = shortest_path((0, 0, 0), (-7, 0, 0), 3.0)
    assert back.length == pytest.approx(7.0) and all(d < 0 for d in back.lengths)


def test_reeds_shepp_quarter_turn_is_one_arc():
    r = 4.0
    path = shortest_path((0, 0, 0), (r, r, math.pi / 2), r)
    assert path.length == pytest.approx(r * math.pi / 2)
    assert path.kinds == ("L",)


def test_reeds_shepp_candidates_sorted_and_radius_checked():
    paths = reeds_shepp_paths((0, 0, 0), (3, 4, 1.0), 2.0)
    assert len(paths) > 1
    assert [p.length for p in paths] == sorted(p.length for p in paths)
    with pytest.raises(ValueError, match="radius"):
        reeds_shepp_paths((0, 0, 0), (1, 1, 0), 0.0)
