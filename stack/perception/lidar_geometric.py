"""Training-free LiDAR detector: ground plane, BEV clustering, L-shape boxes, size classes.

1. Crop to a region of interest and drop the ground: a RANSAC plane on a fixed subsample
   (seeded, so results repeat), refined by least squares on its inliers, then corrected per
   ``ground_cell`` by the lowest near-plane point of the cell, median-filtered over the
   neighbouring cells (roads are not flat: a 0.3 m error merges every car with the road).
   Points more than ``ground_tolerance`` above that and below ``max_height`` are obstacles.
2. Cluster in bird's-eye view: occupied cells of a ``cell`` m grid, 8-connected components
   (scipy.ndimage.label); fast and deterministic where point-wise DBSCAN is not (120k pts).
3. Fit an oriented box per cluster with the L-shape search of Zhang et al. (IV 2017,
   "Efficient L-Shape Fitting for Vehicle Detection Using Laser Scanners", closeness
   criterion), then complete partially seen vehicles to the class prior length/width, growing
   away from the sensor (the visible faces are the near ones).
4. Class and confidence from the extents against per-class size priors (Gaussian
   likelihood) and from the number of points relative to what the range allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from drivestack.msgs import Detections3D, ObjectClass, PointCloud
from drivestack.perception.object_ground import Support, ground_under, support_points


class PointCloudError(ValueError):
    """A scan that cannot be processed (NaN/inf, empty, wrong shape); never an empty result."""


Size = tuple[float, float, float]
# Class -> (mean (length, width, height) [m] from KITTI labels, rounded; std [m] of an observed
# extent above the mean; std below it). Observed extents are often smaller than the object
# (occlusion, sparse returns far away), rarely larger, so the lower tolerance is wider.
SIZE_PRIORS: dict[ObjectClass, tuple[Size, Size, Size]] = {
    ObjectClass.CAR: ((3.9, 1.6, 1.56), (0.6, 0.3, 0.3), (1.6, 0.5, 0.5)),
    ObjectClass.PEDESTRIAN: ((0.8, 0.65, 1.75), (0.3, 0.2, 0.15), (0.4, 0.3, 0.45)),
    ObjectClass.CYCLIST: ((1.76, 0.6, 1.74), (0.3, 0.2, 0.15), (0.8, 0.3, 0.45)),
}


SNAP = 1.5  # observed extents below SNAP x the prior are set to the prior (see complete_box)


@dataclass(frozen=True)
class LidarGeometricConfig:
    """Settings of the geometric detector (KITTI-like 64-beam scans, ego frame)."""

    x_range: tuple[float, float] = (-40.0, 70.0)  # [m] forward crop
    y_range: tuple[float, float] = (-40.0, 40.0)  # [m] lateral crop
    ransac_samples: int = 4000  # points the plane is fitted on
    ransac_iterations: int = 60
    ground_tolerance: float = 0.2  # [m] height above the plane still counted as ground
    ground_cell: float = 2.0  # [m] cell of the local ground correction
    ground_window: int = 5  # cells, median filter of the local correction
    ground_search: float = 0.6  # [m] |height| within which a point may be local ground
    max_height: float = 2.8  # [m] above ground: higher points (trees, signs) are ignored
    min_plane_normal_z: float = 0.9  # the ground plane must be roughly level
    cell: float = 0.25  # [m] BEV grid cell of the clustering
    min_points: int = 8  # fewer points: not an object
    max_extent: float = 8.0  # [m] clusters longer than this (walls, hedges) are dropped
    min_height: float = 0.5  # [m] clusters lower than this (kerbs, bushes) are dropped
    angle_step: float = np.deg2rad(2.0)  # [rad] L-shape search resolution over [0, pi/2)
    min_score: float = 0.05
    # Ground under each object from the returns around it (see object_ground):
    support_gap: float = 0.3  # [m] ring around the footprint: from this far out...
    support_margin: float = 1.0  # [m] ...to this far
    support_max_step: float = 0.45  # [m] highest kerb/pavement above the local ground
    support_min_depth: float = -0.3  # [m] lowest dip below it
    support_min_points: int = 3  # fewer returns in the ring: the local ground stays
    seed: int = 0  # RANSAC subsample and hypotheses


@dataclass(frozen=True)
class Ground:
    """Plane n . p + d = 0 with unit normal n pointing up (n_z > 0)."""

    normal: np.ndarray  # (3,) float64
    offset: float  # [m] d

    def height(self, xyz: np.ndarray) -> np.ndarray:
        """(N, 3) [m] -> (N,) [m] signed height above the plane."""
        return xyz @ self.normal + self.offset


def check_points(points: np.ndarray, source: str) -> np.ndarray:
    """Validates a scan: (N, >=3) finite float, N > 0. Returns the (N, 3) float64 xyz.

    Raises:
        PointCloudError: naming ``source``, the count of bad points and the first bad row.
    """
    if points.ndim != 2 or points.shape[1] < 3:
        raise PointCloudError(f"{source}: points shape {points.shape}, expected (N, >=3)")
    if len(points) == 0:
        raise PointCloudError(f"{source}: empty scan (0 points)")
    xyz = np.asarray(points[:, :3], dtype=np.float64)
    bad = ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        raise PointCloudError(
            f"{source}: {int(bad.sum())} of {len(xyz)} points hold NaN/inf "
            f"(first at row {int(np.flatnonzero(bad)[0])})"
        )
    return xyz


def fit_ground(xyz: np.ndarray, cfg: LidarGeometricConfig) -> Ground:
    """RANSAC plane over a seeded subsample, refined by least squares on the inliers.

    Args:
        xyz: (N, 3) [m] points, N >= 3.
        cfg: settings.

    Raises:
        PointCloudError: no level plane found (e.g. a scan of a wall only).
    """
    rng = np.random.default_rng(cfg.seed)
    low = xyz[xyz[:, 2] < np.percentile(xyz[:, 2], 60)]  # ground is in the lower part
    sample = low[rng.choice(len(low), min(cfg.ransac_samples, len(low)), replace=False)]
    tri = sample[rng.integers(0, len(sample), (cfg.ransac_iterations, 3))]  # (I, 3, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # (I, 3)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(norm > 1e-9, normals / np.maximum(norm, 1e-9), 0.0)
    normals *= np.sign(normals[:, 2:3] + 1e-12)  # point up
    offsets = -(normals * tri[:, 0]).sum(axis=1)  # (I,)
    level = normals[:, 2] >= cfg.min_plane_normal_z
    if not level.any():
        raise PointCloudError("ground fit: no level plane among the RANSAC hypotheses")
    dist = np.abs(sample @ normals[level].T + offsets[level])  # (S, I')
    best = int(np.argmax((dist < cfg.ground_tolerance).sum(axis=0)))
    normal, offset = normals[level][best], offsets[level][best]
    inliers = sample[np.abs(sample @ normal + offset) < cfg.ground_tolerance]
    if len(inliers) >= 3:  # least squares z = a x + b y + c on the inliers
        a = np.c_[inliers[:, :2], np.ones(len(inliers))]
        coef, *_ = np.linalg.lstsq(a, inliers[:, 2], rcond=None)
        n = np.array([-coef[0], -coef[1], 1.0])
        scale = np.linalg.norm(n)
        normal, offset = n / scale, -coef[2] / scale
    return Ground(normal=normal, offset=float(offset))


def local_height(xyz: np.ndarray, ground: Ground, cfg: LidarGeometricConfig) -> np.ndarray:
    """(N,) [m] height above the locally corrected ground.

    The correction of a ``ground_cell`` is the lowest plane height among its points within
    ``ground_search`` of the plane, median-filtered over ``ground_window`` cells so that cells
    covered by a car (no ground returns under it) take their neighbours' ground.
    """
    h = ground.height(xyz)  # (N,)
    lo = np.array([cfg.x_range[0], cfg.y_range[0]])
    shape = (
        int(np.ceil((cfg.x_range[1] - cfg.x_range[0]) / cfg.ground_cell)),
        int(np.ceil((cfg.y_range[1] - cfg.y_range[0]) / cfg.ground_cell)),
    )
    ij = np.floor((xyz[:, :2] - lo) / cfg.ground_cell).astype(np.int64)  # (N, 2)
    ij = np.clip(ij, 0, np.array(shape) - 1)
    flat = ij[:, 0] * shape[1] + ij[:, 1]  # (N,)
    near = np.abs(h) < cfg.ground_search
    lowest = np.full(shape[0] * shape[1], np.inf)
    np.minimum.at(lowest, flat[near], h[near])
    lowest[~np.isfinite(lowest)] = 0.0  # no near-plane point: trust the plane
    corr = ndimage.median_filter(lowest.reshape(shape), size=cfg.ground_window, mode="nearest")
    return h - corr.reshape(-1)[flat]


def obstacle_mask(
    xyz: np.ndarray, ground: Ground, cfg: LidarGeometricConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Obstacle points: inside the crop, above the local ground tolerance, below ``max_height``.

    Returns:
        (mask (N,) bool, height above the local ground (N,) [m]).
    """
    h = local_height(xyz, ground, cfg)
    mask = (
        (xyz[:, 0] >= cfg.x_range[0])
        & (xyz[:, 0] < cfg.x_range[1])
        & (xyz[:, 1] >= cfg.y_range[0])
        & (xyz[:, 1] < cfg.y_range[1])
        & (h > cfg.ground_tolerance)
        & (h < cfg.max_height)
    )
    return mask, h


def cluster_bev(xy: np.ndarray, cell: float) -> np.ndarray:
    """Connected components of occupied BEV cells.

    Args:
        xy: (N, 2) [m] points.
        cell: [m] grid cell side.

    Returns:
        (N,) int64 cluster id per point, 0..K-1.
    """
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    ij = np.floor((xy - xy.min(axis=0)) / cell).astype(np.int64)  # (N, 2)
    shape = tuple(ij.max(axis=0) + 1)
    grid = np.zeros(shape, dtype=bool)
    grid[ij[:, 0], ij[:, 1]] = True
    labels, _ = ndimage.label(grid, structure=np.ones((3, 3), dtype=bool))
    return labels[ij[:, 0], ij[:, 1]].astype(np.int64) - 1


def fit_l_shape(
    xy: np.ndarray, angle_step: float, floor: float = 0.1
) -> tuple[np.ndarray, float, float, float]:
    """Oriented rectangle around BEV points by the L-shape closeness criterion.

    Args:
        xy: (N, 2) [m] points of one object.
        angle_step: [rad] search resolution over [0, pi/2).
        floor: [m] distances below this count as this (Zhang et al. use 0.01; 0.1 keeps a
            curved bumper's spread from pulling the fit away from the car's axes).

    Returns:
        (centre (2,) [m], length [m] (the longer side), width [m], yaw [rad] of the long side).
    """
    angles = np.arange(0.0, np.pi / 2, angle_step)  # (A,)
    e1 = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (A, 2)
    e2 = np.stack([-np.sin(angles), np.cos(angles)], axis=1)  # (A, 2)
    c1, c2 = xy @ e1.T, xy @ e2.T  # (N, A) each
    d1 = np.minimum(c1.max(0) - c1, c1 - c1.min(0))  # (N, A) distance to nearer edge
    d2 = np.minimum(c2.max(0) - c2, c2 - c2.min(0))
    closeness = (1.0 / np.maximum(np.minimum(d1, d2), floor)).sum(axis=0)  # (A,)
    best = int(np.argmax(closeness))
    # Extents from the 1st..99th percentile: single mirror/ghost returns do not widen the box.
    lo1, hi1 = np.percentile(c1[:, best], [1, 99])
    lo2, hi2 = np.percentile(c2[:, best], [1, 99])
    centre = e1[best] * (lo1 + hi1) / 2 + e2[best] * (lo2 + hi2) / 2
    ext1, ext2, yaw = hi1 - lo1, hi2 - lo2, float(angles[best])
    if ext2 > ext1:
        ext1, ext2, yaw = ext2, ext1, yaw + np.pi / 2
    return centre, float(ext1), float(ext2), float((yaw + np.pi) % (2 * np.pi) - np.pi)


def classify(extent: np.ndarray) -> tuple[ObjectClass, float]:
    """Class with the highest size likelihood and that likelihood in [0, 1].

    Args:
        extent: (3,) [m] length, width, height as observed.
    """
    best, best_p = ObjectClass.UNKNOWN, 0.0
    for cls, (mean, std_up, std_down) in SIZE_PRIORS.items():
        diff = extent - np.asarray(mean)
        z = diff / np.where(diff > 0, np.asarray(std_up), np.asarray(std_down))
        p = float(np.exp(-0.5 * float((z**2).mean())))
        if p > best_p:
            best, best_p = cls, p
    return best, best_p


def complete_box(
    centre: np.ndarray, length: float, width: float, yaw: float, cls: ObjectClass
) -> tuple[np.ndarray, float, float, float]:
    """Sets a box's extents to the class prior, keeping the faces nearest to the sensor.

    The near faces are what the LiDAR measured; the far extent of a partly seen object is a
    guess and clutter inflates it, so a car's extents up to ``SNAP`` times the prior become the
    prior (the centre moves along the axis, away from or towards the sensor); larger ones (a
    van, a truck) are kept. Pedestrians and cyclists are only grown, pedestrians about
    their centre. When both observed extents fit the prior width (one face seen, e.g. a
    car's rear), the length axis is taken along the viewing ray.

    Returns:
        (centre (2,) [m], length [m], width [m], yaw [rad]).
    """
    if cls not in SIZE_PRIORS:
        return centre, length, width, yaw
    prior_l, prior_w, _ = SIZE_PRIORS[cls][0]
    ray = centre / max(float(np.linalg.norm(centre)), 1e-6)
    if length <= prior_w + 0.4 and abs(np.cos(yaw) * ray[0] + np.sin(yaw) * ray[1]) < 0.7071:
        length, width, yaw = width, length, yaw + np.pi / 2
    axes = np.array([[np.cos(yaw), np.sin(yaw)], [-np.sin(yaw), np.cos(yaw)]])  # (2, 2)
    out = centre.copy()
    new = []
    for axis, have, want in zip(axes, (length, width), (prior_l, prior_w), strict=True):
        if cls == ObjectClass.CAR:
            grow = want - have if have < SNAP * want else 0.0
        else:  # people: a stride or a bag is real extent, only grow
            grow = max(want - have, 0.0)
        away = np.sign(float(axis @ centre)) or 1.0  # the far side is away from the sensor
        # A person's returns wrap around the body: their median is already its centre
        # (nuScenes key frames: 0.03 m short of it along the ray, median), so it stays.
        out = out + axis * away * grow / 2 * (cls != ObjectClass.PEDESTRIAN)
        new.append(have + grow)
    return out, new[0], new[1], float((yaw + np.pi) % (2 * np.pi) - np.pi)


def object_box(
    pts: np.ndarray,
    heights: np.ndarray,
    cls: ObjectClass,
    fit: tuple[np.ndarray, float, float, float],
    support: Support | None = None,
    cfg: LidarGeometricConfig | None = None,
) -> np.ndarray:
    """Box of one object's points, completed to its class prior.

    Args:
        pts: (n, 3) [m] obstacle points of the object, ego frame.
        heights: (n,) [m] their heights above the local ground.
        cls: class deciding the prior.
        fit: :func:`fit_l_shape` of the points.
        support: the scan's candidate ground returns (:attr:`Scan.support`); None: the
            bottom stays on the local ground.
        cfg: settings of the support ring (default :class:`LidarGeometricConfig`).

    Returns:
        (7,) float64 box; bottom on the ground around a person (else the local ground),
        top at the highest point or at the prior height when the points reach less than
        80 % of it above that bottom (occluded or sparse top).
    """
    centre, length, width, yaw = fit
    if cls == ObjectClass.PEDESTRIAN:  # too few faces for an L: centre of the points
        centre = np.median(pts[:, :2], axis=0)
    centre, length, width, yaw = complete_box(centre, length, width, yaw, cls)
    ground_z, top = float(np.median(pts[:, 2] - heights)), float(heights.max())
    # People stand on pavements the smoothed local ground flattens; vehicles are on the road
    # it follows (on KITTI the ring moved a 34 m car's bottom 0.1-0.2 m off).
    if support is not None and cls in (ObjectClass.PEDESTRIAN, ObjectClass.CYCLIST):
        cfg = cfg or LidarGeometricConfig()
        footprint = np.array([centre[0], centre[1], 0.0, length, width, 0.0, yaw])
        seen = ground_under(
            footprint, support, cfg.support_gap, cfg.support_margin, cfg.support_min_points
        )
        if seen is not None:  # never above the object's lowest return
            ground_z = min(seen, float(pts[:, 2].min()))
            top = float(pts[:, 2].max()) - ground_z
    prior_h = SIZE_PRIORS[cls][0][2] if cls in SIZE_PRIORS else top
    height = top if top >= 0.8 * prior_h else prior_h
    return np.array([centre[0], centre[1], ground_z + height / 2, length, width, height, yaw])


@dataclass(frozen=True)
class Scan:
    """A checked scan with its ground and obstacle clusters, shared by detector and fusion.

    Attributes:
        xyz: (N, 3) float64 [m] all points, ego frame.
        ground: the fitted plane.
        obstacles: (M, 3) float64 [m] obstacle points, grouped by cluster (sorted by label).
        heights: (M,) [m] their heights above the local ground.
        labels: (M,) int64 BEV cluster id, non-decreasing.
        support: candidate ground returns for the ground under each object.
    """

    xyz: np.ndarray
    ground: Ground
    obstacles: np.ndarray
    heights: np.ndarray
    labels: np.ndarray
    support: Support


def prepare_scan(points: np.ndarray, cfg: LidarGeometricConfig, source: str = "scan") -> Scan:
    """Checks a scan, fits the ground, keeps obstacles and clusters them (sorted by cluster).

    Raises:
        PointCloudError: empty scan, NaN/inf points, no ground plane.
    """
    xyz = check_points(points, source)
    ground = fit_ground(xyz, cfg)
    keep, h = obstacle_mask(xyz, ground, cfg)  # (N,), (N,) [m]
    obs, obs_h = xyz[keep], h[keep]  # (M, 3), (M,)
    labels = cluster_bev(obs[:, :2], cfg.cell)
    order = np.argsort(labels, kind="stable")
    support = support_points(xyz, h, cfg.support_min_depth, cfg.support_max_step)
    return Scan(xyz, ground, obs[order], obs_h[order], labels[order], support)


def detect_points(
    points: np.ndarray, cfg: LidarGeometricConfig, source: str = "scan"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detects objects in one scan: :func:`detect_scan` of :func:`prepare_scan`.

    Args:
        points: (N, >=3) [m] x, y, z in the ego frame (sensor near the origin).
        cfg: settings.
        source: name for error messages (file, topic).

    Returns:
        (boxes (K, 7) float32 stack convention, scores (K,) float32, class ids (K,) int32).

    Raises:
        PointCloudError: empty scan, NaN/inf points, no ground plane.
    """
    return detect_scan(prepare_scan(points, cfg, source), cfg)


def detect_scan(scan: Scan, cfg: LidarGeometricConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, scores and classes of the plausible clusters of a prepared scan."""
    obs, obs_h, labels = scan.obstacles, scan.heights, scan.labels
    counts = np.bincount(labels, minlength=int(labels.max(initial=-1)) + 1)
    starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
    if len(counts) == 0:
        return _empty()
    # Per-cluster extents in one pass, so the Python loop only visits plausible objects.
    lo = np.minimum.reduceat(obs[:, :2], starts, axis=0)  # (K, 2)
    hi = np.maximum.reduceat(obs[:, :2], starts, axis=0)  # (K, 2)
    heights = np.maximum.reduceat(obs_h, starts)  # (K,) [m] top above the local ground
    diag = np.hypot(*(hi - lo).T)  # (K,)
    plausible = (counts >= cfg.min_points) & (diag <= cfg.max_extent) & (heights >= cfg.min_height)
    boxes, scores, classes = [], [], []
    for k in np.flatnonzero(plausible):
        pts = obs[starts[k] : starts[k] + counts[k]]  # (n, 3)
        height = float(heights[k])
        pts_h = obs_h[starts[k] : starts[k] + counts[k]]  # (n,)
        fit = fit_l_shape(pts[:, :2], cfg.angle_step)
        cls, likelihood = classify(np.array([fit[1], fit[2], height]))
        if cls == ObjectClass.UNKNOWN:
            continue
        box = object_box(pts, pts_h, cls, fit, scan.support, cfg)
        dist = float(np.hypot(box[0], box[1]))
        # 64-beam density: a car at 20 m returns roughly 200+ points; fewer -> less certain.
        expected = 4000.0 * box[3] * box[5] / max(dist, 1.0) ** 2
        density = min(1.0, len(pts) / max(expected, 1.0))
        score = likelihood * (0.5 + 0.5 * density)
        if score < cfg.min_score:
            continue
        boxes.append(box)
        scores.append(score)
        classes.append(int(cls))
    boxes_out = np.asarray(boxes, np.float32).reshape(-1, 7)
    return boxes_out, np.asarray(scores, np.float32), np.asarray(classes, np.int32)


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((0, 7), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32)


def detect_cloud(cloud: PointCloud, cfg: LidarGeometricConfig) -> Detections3D:
    """:func:`detect_points` on a :class:`PointCloud`; keeps its stamp and frame."""
    boxes, scores, classes = detect_points(
        np.asarray(cloud.points), cfg, f"PointCloud(frame {cloud.frame_id}, {cloud.stamp_ns} ns)"
    )
    det = Detections3D(
        stamp_ns=cloud.stamp_ns, frame_id=cloud.frame_id, boxes=boxes, scores=scores,
        class_ids=classes,
    )
    det.validate()
    return det
