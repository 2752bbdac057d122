"""Textbook AB3DMOT (Weng et al., IROS 2020) as a reference for accuracy and speed.

One Kalman filter object per track (10-D constant-velocity state, filterpy-style
matrices: P0 = 10 I with velocity variance 1e4, Q = I with velocity block 0.01, R = I),
one tracker per class, association per class with the parameters AB3DMOT tunes for
PointRCNN on KITTI (Car: Hungarian on GIoU_3D >= -0.2, max_age 2; Pedestrian: greedy on
GIoU_3D >= -0.4, min_hits 1, max_age 4; Cyclist: Hungarian on centre distance <= 2 m,
max_age 4; min_hits 3 otherwise), tracks reported while ``time_since_update < max_age``
and ``hits >= min_hits`` (or in the first ``min_hits`` frames).

It differs from the original only where the stack's interfaces require: boxes in the stack
convention and the world frame, and the cost matrix from the shared ``box_iou.giou_3d``.
Its loops over tracks are deliberate: this is the per-object structure that
``tracker.py`` batches, and ``drive bench tracking`` compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.msgs import ObjectClass
from drivestack.tracking import association
from drivestack.tracking.kalman import align_yaw, box_to_meas, meas_to_box, wrap_angle


@dataclass(frozen=True)
class AB3DMOTParams:
    """Per-class parameters (AB3DMOT's names in comments)."""

    metric: str  # "giou" or "dist"
    gate: float  # cost gate: 1 - thres for GIoU, thres [m] for distance
    matcher: str  # algm: "hungarian" / "greedy"
    min_hits: int
    max_age: int  # [frames]


POINTRCNN_KITTI: dict[int, AB3DMOTParams] = {
    int(ObjectClass.CAR): AB3DMOTParams("giou", 1.2, "hungarian", 3, 2),
    int(ObjectClass.PEDESTRIAN): AB3DMOTParams("giou", 1.4, "greedy", 1, 4),
    int(ObjectClass.CYCLIST): AB3DMOTParams("dist", 2.0, "hungarian", 3, 4),
}

_F = np.eye(10)
_F[0, 7] = _F[1, 8] = _F[2, 9] = 1.0  # one frame per step, as AB3DMOT
_H = np.eye(7, 10)


class KalmanBoxTracker:
    """One track: its own 10-D constant-velocity Kalman filter (AB3DMOT's class of this name)."""

    def __init__(self, meas: np.ndarray, score: float, track_id: int) -> None:
        self.x = np.zeros(10)
        self.x[:7] = meas
        self.P = np.eye(10) * 10.0
        self.P[7:, 7:] *= 1000.0
        self.Q = np.eye(10)
        self.Q[7:, 7:] *= 0.01
        self.R = np.eye(7)
        self.id = track_id
        self.score = score
        self.hits = 1
        self.time_since_update = 0

    def predict(self) -> np.ndarray:
        self.x = _F @ self.x
        self.P = _F @ self.P @ _F.T + self.Q
        self.x[3] = wrap_angle(self.x[3])
        self.time_since_update += 1
        return self.x[:7]

    def update(self, meas: np.ndarray, score: float) -> None:
        z = meas.copy()
        z[3] = align_yaw(np.array([z[3]]), np.array([self.x[3]]))[0]
        s = _H @ self.P @ _H.T + self.R
        k = self.P @ _H.T @ np.linalg.inv(s)
        self.x = self.x + k @ (z - _H @ self.x)
        self.P = (np.eye(10) - k @ _H) @ self.P
        self.x[3] = wrap_angle(self.x[3])
        self.time_since_update = 0
        self.hits += 1
        self.score = score


class AB3DMOT:
    """Single-class AB3DMOT tracker (stateful, as the original)."""

    def __init__(self, params: AB3DMOTParams, first_id: int = 1) -> None:
        self.params = params
        self.trackers: list[KalmanBoxTracker] = []
        self.frame_count = 0
        self.next_id = first_id

    def update(self, boxes: np.ndarray, scores: np.ndarray) -> list[tuple[int, np.ndarray, float]]:
        """One frame of detections (M, 7) world boxes -> reported ``(id, box (7,), score)``."""
        self.frame_count += 1
        preds = np.array([trk.predict() for trk in self.trackers]).reshape(-1, 7)
        meas = box_to_meas(boxes.astype(np.float64))
        cost = association.cost_matrix(
            meas_to_box(preds), boxes.astype(np.float64), self.params.metric
        )
        matches, _, free_dets = association.match(cost, self.params.gate, self.params.matcher)
        for t, d in matches.tolist():
            self.trackers[t].update(meas[d], float(scores[d]))
        for d in free_dets.tolist():
            self.trackers.append(KalmanBoxTracker(meas[d], float(scores[d]), self.next_id))
            self.next_id += 1
        out: list[tuple[int, np.ndarray, float]] = []
        p = self.params
        for trk in self.trackers:
            if trk.time_since_update < p.max_age and (
                trk.hits >= p.min_hits or self.frame_count <= p.min_hits
            ):
                out.append((trk.id, meas_to_box(trk.x[None, :7])[0], trk.score))
        self.trackers = [t for t in self.trackers if t.time_since_update < p.max_age]
        return out


class MultiClassAB3DMOT:
    """One AB3DMOT per class, ids unique across classes (offset by 10^6 per class)."""

    def __init__(self, params: dict[int, AB3DMOTParams] | None = None) -> None:
        self.params = dict(POINTRCNN_KITTI if params is None else params)
        self.trackers = {
            c: AB3DMOT(p, first_id=1 + i * 1_000_000)
            for i, (c, p) in enumerate(self.params.items())
        }

    def update(
        self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One frame -> reported ids (K,), class ids (K,), boxes (K, 7), scores (K,)."""
        ids: list[int] = []
        cls: list[int] = []
        out_boxes: list[np.ndarray] = []
        out_scores: list[float] = []
        for c, trk in self.trackers.items():
            sel = class_ids == c
            for tid, box, score in trk.update(boxes[sel], scores[sel]):
                ids.append(tid)
                cls.append(c)
                out_boxes.append(box)
                out_scores.append(score)
        return (
            np.asarray(ids, np.int64),
            np.asarray(cls, np.int32),
            np.asarray(out_boxes, np.float64).reshape(-1, 7),
            np.asarray(out_scores, np.float64),
        )
