"""The compiled 3D GIoU equals the numpy reference of ``box_iou`` (random and degenerate pairs)."""

from __future__ import annotations

import numpy as np
import pytest

from drivestack.eval import box_giou_compiled, box_iou


def _boxes(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    return np.c_[
        rng.uniform(-spread, spread, (n, 3)), rng.uniform(0.2, 5.0, (n, 3)), rng.uniform(-4, 4, n)
    ]


@pytest.mark.parametrize("spread", [0.5, 3.0, 30.0])
def test_compiled_giou_equals_numpy_reference_on_random_pairs(spread: float) -> None:
    rng = np.random.default_rng(int(spread * 10))
    a, b = _boxes(rng, 3000, spread), _boxes(rng, 3000, spread)
    np.testing.assert_allclose(
        box_giou_compiled.giou_3d_pairs(a, b), box_iou.giou_3d_pairs(a, b), rtol=0, atol=1e-12
    )


def test_compiled_giou_equals_reference_on_degenerate_pairs() -> None:
    base = np.array([1.0, 2.0, 0.5, 4.0, 2.0, 1.5, 0.3])
    cases = [
        (base, base),  # identical: GIoU 1
        (base, base + [0, 0, 0, 0, 0, 0, np.pi]),  # same box turned around
        (base, base + [0, 0, 0, 0, 0, 0, np.pi / 2]),  # crossing, corners on edges
        (base, base + [4.0 * np.cos(0.3), 4.0 * np.sin(0.3), 0, 0, 0, 0, 0]),  # touching ends
        (base, base + [0, 0, 3.0, 0, 0, 0, 0]),  # no vertical overlap
        (base, base * [1, 1, 1, 0.5, 0.5, 0.5, 1]),  # nested
        (base, base + [50.0, 0, 0, 0, 0, 0, 1.0]),  # far apart: GIoU near -1
        (base, base * [1, 1, 1, 0, 1, 1, 1]),  # zero length
    ]
    a = np.stack([c[0] for c in cases])
    b = np.stack([c[1] for c in cases])
    fast = box_giou_compiled.giou_3d_pairs(a, b)
    np.testing.assert_allclose(fast, box_iou.giou_3d_pairs(a, b), rtol=0, atol=1e-12)
    assert fast[0] == pytest.approx(1.0)
    assert fast[6] < -0.9
    assert np.all((fast >= -1 - 1e-12) & (fast <= 1 + 1e-12))


def test_compiled_giou_rejects_unequal_lengths_and_accepts_empty() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        box_giou_compiled.giou_3d_pairs(np.zeros((2, 7)), np.zeros((3, 7)))
    assert box_giou_compiled.giou_3d_pairs(np.zeros((0, 7)), np.zeros((0, 7))).shape == (0,)
