"""Reeds–Shepp curves: shortest forward/reverse paths of a car with a minimum turning radius.

Reeds & Shepp (1990) showed the shortest path between two poses, ignoring obstacles, is one
of 48 words over the letters L (left arc), R (right arc) and S (straight), with cusps ``|``
where the direction flips. The 12 base families below are the closed-form solutions of
the paper (Section 8, in the form popularised by PythonRobotics/OMPL); the other words come
from the time-flip (x, y, phi) -> (-x, y, -phi) and reflection (x, y, phi) -> (x, -y, -phi)
symmetries. All formulas work in coordinates scaled by the turning radius.

Every candidate is integrated and kept only if it actually ends at the goal pose, so a
numerically degenerate formula can cost optimality but never yields a wrong path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PI = math.pi
_GOAL_TOL = 1e-6  # [radius units] end-pose check of each candidate


@dataclass(frozen=True)
class RSPath:
    """One Reeds–Shepp path.

    Attributes:
        lengths: Signed segment lengths [m]; negative is reverse.
        kinds: Segment letters, "L", "R" or "S", one per length.
        radius: [m] turning radius of the arcs.
    """

    lengths: tuple[float, ...]
    kinds: tuple[str, ...]
    radius: float

    @property
    def length(self) -> float:
        """[m] total travelled distance."""
        return float(sum(abs(x) for x in self.lengths))

    @property
    def cusps(self) -> int:
        """Number of direction changes."""
        signs = [math.copysign(1.0, x) for x in self.lengths if abs(x) > 1e-9]
        return sum(a != b for a, b in zip(signs[:-1], signs[1:], strict=True))


def _mod2pi(x: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return (x + PI) % (2.0 * PI) - PI


def _polar(x: float, y: float) -> tuple[float, float]:
    return math.hypot(x, y), math.atan2(y, x)


Word = tuple[tuple[float, ...], tuple[str, ...]]


# --- the 12 base families (unit radius; x, y, phi of the goal in the start frame) ---------
def _lsl(x: float, y: float, phi: float) -> Word | None:
    u, t = _polar(x - math.sin(phi), y - 1.0 + math.cos(phi))
    if 0.0 <= t <= PI:
        v = _mod2pi(phi - t)
        if 0.0 <= v <= PI:
            return (t, u, v), ("L", "S", "L")
    return None


def _lsr(x: float, y: float, phi: float) -> Word | None:
    u1, t1 = _polar(x + math.sin(phi), y - 1.0 - math.cos(phi))
    u1 = u1**2
    if u1 >= 4.0:
        u = math.sqrt(u1 - 4.0)
        t = _mod2pi(t1 + math.atan2(2.0, u))
        v = _mod2pi(t - phi)
        if t >= 0.0 and v >= 0.0:
            return (t, u, v), ("L", "S", "R")
    return None


def _lrl_ccc(x: float, y: float, phi: float) -> Word | None:  # L|R|L
    u1, theta = _polar(x - math.sin(phi), y - 1.0 + math.cos(phi))
    if u1 <= 4.0:
        a = math.acos(0.25 * u1)
        t = _mod2pi(a + theta + PI / 2)
        u = _mod2pi(PI - 2 * a)
        v = _mod2pi(phi - t - u)
        return (t, -u, v), ("L", "R", "L")
    return None


def _lrl_cc_c(x: float, y: float, phi: float) -> Word | None:  # L|RL
    u1, theta = _polar(x - math.sin(phi), y - 1.0 + math.cos(phi))
    if u1 <= 4.0:
        a = math.acos(0.25 * u1)
        t = _mod2pi(a + theta + PI / 2)
        u = _mod2pi(PI - 2 * a)
        v = _mod2pi(-phi + t + u)
        return (t, -u, -v), ("L", "R", "L")
    return None


def _lrl_c_cc(x: float, y: float, phi: float) -> Word | None:  # LR|L
    u1, theta = _polar(x - math.sin(phi), y - 1.0 + math.cos(phi))
    if 1e-9 < u1 <= 4.0:
        u = math.acos(1.0 - u1**2 * 0.125)
        a = math.asin(max(-1.0, min(1.0, 2.0 * math.sin(u) / u1)))
        t = _mod2pi(-a + theta + PI / 2)
        v = _mod2pi(t - u - phi)
        return (t, u, -v), ("L", "R", "L")
    return None


def _lrlr_ccu(x: float, y: float, phi: float) -> Word | None:  # LR(u)|L(u)R
    u1, theta = _polar(x + math.sin(phi), y - 1.0 - math.cos(phi))
    if u1 <= 2.0:
        a = math.acos((u1 + 2.0) * 0.25)
        t = _mod2pi(theta + a + PI / 2)
        u = _mod2pi(a)
        v = _mod2pi(phi - t + 2.0 * u)
        if t >= 0 and u >= 0 and v >= 0:
            return (t, u, -u, -v), ("L", "R", "L", "R")
    return None


def _lrlr_cuc(x: float, y: float, phi: float) -> Word | None:  # L|R(u)L(u)|R
    u1, theta = _polar(x + math.sin(phi), y - 1.0 - math.cos(phi))
    u2 = (20.0 - u1**2) / 16.0
    if 0.0 <= u2 <= 1.0 and u1 > 1e-9:
        u = math.acos(u2)
        a = math.asin(max(-1.0, min(1.0, 2.0 * math.sin(u) / u1)))
        t = _mod2pi(theta + a + PI / 2)
        v = _mod2pi(t - phi)
        if t >= 0 and v >= 0:
            return (t, -u, -u, v), ("L", "R", "L", "R")
    return None


def _lrsl(x: float, y: float, phi: float) -> Word | None:  # L|R(pi/2)SL
    u1, theta = _polar(x - math.sin(phi), y - 1.0 + math.cos(phi))
    if u1 >= 2.0:
        r = math.sqrt(u1**2 - 4.0)
        u = r - 2.0
        a = math.atan2(2.0, r)
        t = _mod2pi(theta + a + PI / 2)
        v = _mod2pi(t - phi + PI / 2)
        if t >= 0 and v >= 0:
            return (t, -PI / 2, -u, -v), ("L", "R", "S", "L")
    return None


def _lsrl(x: float, y: float, phi: float) -> Word | None:  # LSR(pi/2)|L
    u1, theta = _polar(x - math.sin(phi), y - 1.0 + math.cos(phi))
    if u1 >= 2.0:
        r = math.sqrt(u1**2 - 4.0)
        u = r - 2.0
        a = math.atan2(r, 2.0)
        t = _mod2pi(theta - a + PI / 2)
        v = _mod2pi(t - phi - PI / 2)
        if t >= 0 and v >= 0:
            return (t, u, PI / 2, -v), ("L", "S", "R", "L")
    return None


def _lrsr(x: float, y: float, phi: float) -> Word | None:  # L|R(pi/2)SR
    u1, theta = _polar(x + math.sin(phi), y - 1.0 - math.cos(phi))
    if u1 >= 2.0:
        t = _mod2pi(theta + PI / 2)
        u = u1 - 2.0
        v = _mod2pi(phi - t - PI / 2)
        if t >= 0 and v >= 0:
            return (t, -PI / 2, -u, -v), ("L", "R", "S", "R")
    return None


def _lslr(x: float, y: float, phi: float) -> Word | None:  # LSL(pi/2)|R
    u1, theta = _polar(x + math.sin(phi), y - 1.0 - math.cos(phi))
    if u1 >= 2.0:
        t = _mod2pi(theta)
        u = u1 - 2.0
        v = _mod2pi(phi - t - PI / 2)
        if t >= 0 and v >= 0:
            return (t, u, PI / 2, -v), ("L", "S", "L", "R")
    return None


def _lrslr(x: float, y: float, phi: float) -> Word | None:  # L|R(pi/2)SL(pi/2)|R
    u1, theta = _polar(x + math.sin(phi), y - 1.0 - math.cos(phi))
    if u1 >= 4.0:
        r = math.sqrt(u1**2 - 4.0)
        u = r - 4.0
        a = math.atan2(2.0, r)
        t = _mod2pi(theta + a + PI / 2)
        v = _mod2pi(t - phi)
        if t >= 0 and v >= 0:
            return (t, -PI / 2, -u, -PI / 2, v), ("L", "R", "S", "L", "R")
    return None


FAMILIES: tuple[Callable[[float, float, float], Word | None], ...] = (
    _lsl, _lsr, _lrl_ccc, _lrl_cc_c, _lrl_c_cc, _lrlr_ccu, _lrlr_cuc,
    _lrsl, _lsrl, _lrsr, _lslr, _lrslr,
)  # fmt: skip
_FLIP = {"L": "R", "R": "L", "S": "S"}


def _end_pose(lengths: tuple[float, ...], kinds: tuple[str, ...]) -> tuple[float, float, float]:
    """End pose of a unit-radius word started at the origin with heading 0."""
    x = y = th = 0.0
    for d, k in zip(lengths, kinds, strict=True):
        x, y, th = _advance(x, y, th, d, k)
    return x, y, th


def _advance(x: float, y: float, th: float, d: float, kind: str) -> tuple[float, float, float]:
    """Pose after a signed unit-radius segment of length ``d``."""
    if kind == "S":
        return x + d * math.cos(th), y + d * math.sin(th), th
    if kind == "L":
        return x + math.sin(th + d) - math.sin(th), y - math.cos(th + d) + math.cos(th), th + d
    return x - math.sin(th - d) + math.sin(th), y + math.cos(th - d) - math.cos(th), th - d


def reeds_shepp_paths(
    start: tuple[float, float, float], goal: tuple[float, float, float], radius: float
) -> list[RSPath]:
    """All valid Reeds–Shepp candidates between two poses, shortest first.

    Args:
        start: (x [m], y [m], yaw [rad]).
        goal: (x [m], y [m], yaw [rad]).
        radius: [m] minimum turning radius, > 0.

    Returns:
        Candidates verified to end at ``goal``, sorted by length.
    """
    if not radius > 0:
        raise ValueError(f"reeds_shepp_paths: radius must be > 0, got {radius}")
    dx, dy = goal[0] - start[0], goal[1] - start[1]
    c, s = math.cos(start[2]), math.sin(start[2])
    x = (c * dx + s * dy) / radius
    y = (-s * dx + c * dy) / radius
    phi = _mod2pi(goal[2] - start[2])
    out: list[RSPath] = []
    for family in FAMILIES:
        for flip_time, reflect in ((False, False), (True, False), (False, True), (True, True)):
            qx, qy, qphi = (-x if flip_time else x), (-y if reflect else y), phi
            qphi = -qphi if flip_time != reflect else qphi
            word = family(qx, qy, qphi)
            if word is None:
                continue
            lengths, kinds = word
            if flip_time:
                lengths = tuple(-d for d in lengths)
            if reflect:
                kinds = tuple(_FLIP[k] for k in kinds)
            ex, ey, eth = _end_pose(lengths, kinds)
            if math.hypot(ex - x, ey - y) > _GOAL_TOL or abs(_mod2pi(eth - phi)) > _GOAL_TOL:
                continue  # degenerate solution of the closed form: drop it
            kept = [(d, k) for d, k in zip(lengths, kinds, strict=True) if abs(d) > 1e-10]
            out.append(
                RSPath(tuple(d * radius for d, _ in kept), tuple(k for _, k in kept), radius)
            )
    out.sort(key=lambda p: p.length)
    return out


def shortest_path(
    start: tuple[float, float, float], goal: tuple[float, float, float], radius: float
) -> RSPath | None:
    """The shortest Reeds–Shepp path, or None if no family solved (not expected)."""
    paths = reeds_shepp_paths(start, goal, radius)
    return paths[0] if paths else None


def sample(
    path: RSPath, start: tuple[float, float, float], step: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poses along a path every ``step`` metres (segment ends included).

    Args:
        path: The path.
        start: (x [m], y [m], yaw [rad]) it starts from.
        step: [m] sample spacing, > 0.

    Returns:
        poses: (N, 3) float64 x [m], y [m], yaw [rad].
        directions: (N,) int8, +1 forward, -1 reverse (of the motion reaching that sample;
            the first sample takes the first segment's).
        curvatures: (N,) float64 [1/m] signed curvature of the path geometry, left positive.
    """
    r = path.radius
    x, y, th = start
    poses = [np.array([[x, y, th]])]
    dirs: list[np.ndarray] = []
    curvs: list[np.ndarray] = []
    for d, kind in zip(path.lengths, path.kinds, strict=True):
        n = max(1, math.ceil(abs(d) / step))
        sign = 1 if d >= 0 else -1
        kappa = {"L": 1.0 / r, "R": -1.0 / r, "S": 0.0}[kind]
        if not dirs:
            dirs.append(np.array([sign]))
            curvs.append(np.array([kappa]))
        t = np.linspace(d / n, d, n) / r  # (n,) unit-radius arc parameters, end included
        if kind == "S":
            seg = np.stack([x + r * t * math.cos(th), y + r * t * math.sin(th), np.full(n, th)], 1)
        elif kind == "L":
            seg = np.stack([x + r * (np.sin(th + t) - math.sin(th)),
                            y + r * (math.cos(th) - np.cos(th + t)), th + t], 1)  # fmt: skip
        else:
            seg = np.stack([x + r * (math.sin(th) - np.sin(th - t)),
                            y + r * (np.cos(th - t) - math.cos(th)), th - t], 1)  # fmt: skip
        poses.append(seg)
        dirs.append(np.full(n, sign))
        curvs.append(np.full(n, kappa))
        x, y, th = (float(v) for v in seg[-1])
    if not dirs:  # zero-length path: start == goal
        dirs, curvs = [np.array([1])], [np.array([0.0])]
    out = np.concatenate(poses)  # (N, 3)
    out[:, 2] = (out[:, 2] + PI) % (2 * PI) - PI
    return out, np.concatenate(dirs).astype(np.int8), np.concatenate(curvs).astype(np.float64)
