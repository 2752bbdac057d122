"""The stack's 3D multi-object tracker: a pure function ``step(state, detections) -> state, output``.

Per frame, in the world frame (ego motion already removed by the caller):

1. **Predict** every track with its class's Kalman model (CV or CTRV, ``kalman.py``). With a
   motion TCN (``tcn_mode``), the TCN's 0.1 s forecast from the track's history replaces the
   predicted centre for association only (``"associate"``) or also as the filter prior
   (``"predict"``).
2. **Associate** tracks and detections of the same class: cost ``1 - GIoU_3D`` or centre
   distance, class gate, Hungarian or greedy matching (``association.py``).
   Classes with ``reid_gate > 0`` then run a second stage on what is left: BEV Mahalanobis
   distance under each track's innovation covariance (it widens while a track coasts),
   Hungarian, so a drifted track is re-identified instead of a new identity being born;
   tracks missed ``max_age`` frames stay ``reid_age`` frames longer for this stage only.
3. **Update** matched tracks; **birth** a track per unmatched detection scoring at least
   ``birth_score``; **death** after ``max_age`` (+ ``reid_age``) frames without a detection.
4. **Report** tracks updated in this frame (or coasting fewer than ``max_age`` frames when
   ``report_coasting``) that are confirmed (``min_hits`` detections), or all of them in the
   first ``min_hits`` frames of a run (as AB3DMOT, so a sequence's first frames are not lost).

All state is in :class:`TrackState` (arrays over tracks); nothing is kept elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drivestack.eval.box_giou_compiled import giou_3d_pairs
from drivestack.tracking import association, kalman
from drivestack.tracking.motion_features import motion_group
from drivestack.tracking.tracker_config import (  # noqa: F401 - re-exported
    TCN_MODES,
    ClassParams,
    TrackerConfig,
    _default_classes,
    _Tables,
)

# (hist_xy (N,H,2), hist_yaw (N,H), size (N,3), groups (N,), valid (N,H), ego_xy (N,2))
#   -> (mean (N,T,2), std (N,T,2)) world-frame forecasts at step_s, 2*step_s, ...
Forecaster = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    tuple[np.ndarray, np.ndarray],
]


@dataclass(frozen=True)
class TrackState:
    """All tracks of a run. Arrays have one row per live track (N).

    Attributes:
        ids: (N,) int64 track ids, unique per run.
        class_ids: (N,) int32 ObjectClass.
        slots: (N,) int64 index into ``TrackerConfig.classes``.
        mean: (N, 10) Kalman states (layout in ``kalman.py``), world frame.
        cov: (N, 10, 10) covariances.
        hits: (N,) int64 detections associated so far.
        misses: (N,) int64 frames since the last detection.
        age: (N,) int64 frames since birth.
        score: (N,) float64 score of the last associated detection.
        hist_xy: (N, H, 2) [m] past centres (posterior, or prediction when missed), oldest first.
        hist_yaw: (N, H) [rad] past yaw.
        hist_valid: (N, H) bool.
        next_id: id the next new track gets.
        frame_count: frames processed.
    """

    ids: np.ndarray
    class_ids: np.ndarray
    slots: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    hits: np.ndarray
    misses: np.ndarray
    age: np.ndarray
    score: np.ndarray
    hist_xy: np.ndarray
    hist_yaw: np.ndarray
    hist_valid: np.ndarray
    next_id: int = 1
    frame_count: int = 0

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class TrackerOutput:
    """Reported tracks of one frame (world frame). Arrays have one row per reported track.

    Attributes:
        ids: (K,) int64.
        class_ids: (K,) int32.
        boxes: (K, 7) float64 ``(x, y, z, dx, dy, dz, yaw)``.
        velocities: (K, 3) [m/s].
        covariance: (K, 6, 6) of (x, y, z, vx, vy, vz).
        scores: (K,) track confidence (score of the last associated detection).
        ages: (K,) int64 frames since birth.
        rows: (K,) int64 rows of the reported tracks in the new TrackState.
    """

    ids: np.ndarray
    class_ids: np.ndarray
    boxes: np.ndarray
    velocities: np.ndarray
    covariance: np.ndarray
    scores: np.ndarray
    ages: np.ndarray
    rows: np.ndarray


def empty_state(config: TrackerConfig) -> TrackState:
    """A state with no tracks."""
    h = config.history
    return TrackState(
        ids=np.empty(0, np.int64),
        class_ids=np.empty(0, np.int32),
        slots=np.empty(0, np.int64),
        mean=np.empty((0, kalman.STATE_DIM)),
        cov=np.empty((0, kalman.STATE_DIM, kalman.STATE_DIM)),
        hits=np.empty(0, np.int64),
        misses=np.empty(0, np.int64),
        age=np.empty(0, np.int64),
        score=np.empty(0),
        hist_xy=np.empty((0, h, 2)),
        hist_yaw=np.empty((0, h)),
        hist_valid=np.empty((0, h), bool),
    )


def step(
    state: TrackState,
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    config: TrackerConfig,
    dt: float = 0.1,
    ego_xy: np.ndarray | None = None,
    forecaster: Forecaster | None = None,
) -> tuple[TrackState, TrackerOutput]:
    """Advances the tracker by one frame.

    Args:
        state: tracks before this frame.
        boxes: (M, 7) detections ``(x, y, z, dx, dy, dz, yaw)`` in the world frame [m]/[rad].
        scores: (M,) detection scores, higher is better.
        class_ids: (M,) ObjectClass ids.
        config: tracker configuration.
        dt: [s] time since the previous frame.
        ego_xy: (2,) [m] ego position in the world (TCN feature); required with a TCN.
        forecaster: motion TCN wrapper; required unless ``config.tcn_mode == "off"``.

    Returns:
        The new state and the tracks reported for this frame.
    """
    if config.tcn_mode != "off" and (forecaster is None or ego_xy is None):
        raise ValueError(f"tcn_mode={config.tcn_mode!r} needs a forecaster and ego_xy")
    tb = config.tables
    if len(class_ids) and (class_ids.min() < 0 or class_ids.max() >= len(tb.slot_of_class)):
        raise ValueError(f"class ids must be ObjectClass values, got {np.unique(class_ids)}")
    det_slots = tb.slot_of_class[class_ids]  # (M,) -1 where untracked

    # 1. Predict.
    mean, cov = _predict(state, tb, dt)
    assoc_boxes = kalman.meas_to_box(mean)  # (N, 7) boxes used for association
    if config.tcn_mode != "off" and len(state):
        use = state.hist_valid.sum(axis=1) >= config.tcn_min_history
        if use.any():
            assert forecaster is not None and ego_xy is not None
            fc, _ = forecaster(
                state.hist_xy[use],
                state.hist_yaw[use],
                assoc_boxes[use, 3:6],
                motion_group(state.class_ids[use]),
                state.hist_valid[use],
                np.broadcast_to(ego_xy, (int(use.sum()), 2)),
            )
            assoc_boxes[use, :2] = fc[:, 0]
            if config.tcn_mode == "predict":
                mean[use, :2] = fc[:, 0]

    # 2. Associate (all classes in one cost matrix; other-class pairs are never allowed).
    # Dormant tracks (missed max_age frames or more, kept for re-identification) only take
    # part in the second stage.
    active = np.flatnonzero(state.misses < tb.max_age[state.slots]) if tb.any_dormant else None
    if active is None or len(active) == len(state):
        mt, md = _associate(state.slots, assoc_boxes, cov, det_slots, boxes, tb, config.giou_reach)
    else:
        mt, md = _associate(
            state.slots[active],
            assoc_boxes[active],
            cov[active],
            det_slots,
            boxes,
            tb,
            config.giou_reach,
        )
        mt = active[mt]
    if tb.any_reid:
        mt2, md2 = _reidentify(state.slots, mean, cov, mt, det_slots, boxes, md, tb)
        mt, md = np.concatenate([mt, mt2]), np.concatenate([md, md2])

    # 3. Update matched tracks.
    if len(mt):
        r = tb.meas_cov[state.slots[mt]]  # (K, 7, 7)
        mean[mt], cov[mt] = kalman.update(mean[mt], cov[mt], boxes[md].astype(np.float64), r)
    hits = state.hits.copy()
    misses = state.misses + 1
    score = state.score.copy()
    hits[mt] += 1
    misses[mt] = 0
    score[mt] = scores[md]
    hist_xy = np.concatenate([state.hist_xy[:, 1:], mean[:, None, :2]], axis=1)
    hist_yaw = np.concatenate([state.hist_yaw[:, 1:], mean[:, None, kalman.YAW]], axis=1)
    hist_valid = np.concatenate([state.hist_valid[:, 1:], np.ones((len(state), 1), bool)], axis=1)

    # Births from unmatched detections of tracked classes.
    free = np.ones(len(boxes), bool)
    free[md] = False
    born = np.flatnonzero(free & (scores >= tb.birth_score[det_slots]))  # slot -1 -> +inf
    b_mean, b_cov = _init(boxes[born], det_slots[born], tb)
    nb = len(born)
    h = config.history
    b_hist_xy = np.zeros((nb, h, 2))
    b_hist_xy[:, -1] = boxes[born, :2]
    b_hist_yaw = np.zeros((nb, h))
    b_hist_yaw[:, -1] = boxes[born, 6]
    b_valid = np.zeros((nb, h), bool)
    b_valid[:, -1] = True

    # Death (after max_age frames missed, or reid_age frames later for re-identification).
    keep = misses < tb.keep_age[state.slots]
    new = TrackState(
        ids=np.concatenate([state.ids[keep], state.next_id + np.arange(nb, dtype=np.int64)]),
        class_ids=np.concatenate([state.class_ids[keep], class_ids[born].astype(np.int32)]),
        slots=np.concatenate([state.slots[keep], det_slots[born]]),
        mean=np.concatenate([mean[keep], b_mean]),
        cov=np.concatenate([cov[keep], b_cov]),
        hits=np.concatenate([hits[keep], np.ones(nb, np.int64)]),
        misses=np.concatenate([misses[keep], np.zeros(nb, np.int64)]),
        age=np.concatenate([state.age[keep] + 1, np.zeros(nb, np.int64)]),
        score=np.concatenate([score[keep], scores[born].astype(np.float64)]),
        hist_xy=np.concatenate([hist_xy[keep], b_hist_xy]),
        hist_yaw=np.concatenate([hist_yaw[keep], b_hist_yaw]),
        hist_valid=np.concatenate([hist_valid[keep], b_valid]),
        next_id=state.next_id + nb,
        frame_count=state.frame_count + 1,
    )
    return new, report(new, config)


def _predict(state: TrackState, tb: _Tables, dt: float) -> tuple[np.ndarray, np.ndarray]:
    if len(state) == 0:
        return state.mean.copy(), state.cov.copy()
    mean, cov = state.mean.copy(), state.cov.copy()
    for model in tb.models:
        rows = np.flatnonzero(tb.model_of_slot[state.slots] == model)
        if len(rows) == 0:
            continue
        if model == "cv":
            # Same result as kalman.predict, with F and Q precomputed per class (hot path).
            f, q = tb.cv_step(dt)
            mean[rows] = mean[rows] @ f.T
            cov[rows] = f @ cov[rows] @ f.T + q[state.slots[rows]]
            mean[rows, kalman.YAW] = kalman.wrap_angle(mean[rows, kalman.YAW])
        else:
            noise = tb.noise(state.slots[rows])
            mean[rows], cov[rows] = kalman.predict(mean[rows], cov[rows], dt, noise, model)
    return mean, cov


def _init(boxes: np.ndarray, slots: np.ndarray, tb: _Tables) -> tuple[np.ndarray, np.ndarray]:
    boxes = boxes.astype(np.float64)
    if len(boxes) == 0:  # most frames: nothing is born
        return np.empty((0, kalman.STATE_DIM)), np.empty((0, kalman.STATE_DIM, kalman.STATE_DIM))
    if tb.models == ("cv",):
        # kalman.init_state with its per-class covariance precomputed (hot path).
        mean = np.zeros((len(boxes), kalman.STATE_DIM))
        mean[:, : kalman.MEAS_DIM] = kalman.box_to_meas(boxes)
        return mean, tb.cv_init_cov[slots]
    if len(tb.models) == 1:
        return kalman.init_state(boxes, tb.noise(slots), tb.models[0])
    mean = np.empty((len(boxes), kalman.STATE_DIM))
    cov = np.empty((len(boxes), kalman.STATE_DIM, kalman.STATE_DIM))
    for model in tb.models:
        rows = np.flatnonzero(tb.model_of_slot[slots] == model)
        if len(rows):
            noise = tb.noise(slots[rows])
            mean[rows], cov[rows] = kalman.init_state(boxes[rows], noise, model)
    return mean, cov


def _associate(
    t_slots: np.ndarray,
    t_boxes: np.ndarray,
    t_cov: np.ndarray,
    d_slots: np.ndarray,
    d_boxes: np.ndarray,
    tb: _Tables,
    giou_reach: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Matched (track rows, detection rows) over all classes at once.

    Centre distances are computed for every pair; GIoU only for same-class pairs of GIoU
    classes whose BEV circumcircles come within ``giou_reach`` [m] of each other. Pairs farther
    apart have GIoU near -1 (the convex hull dwarfs the union) and count as gated.
    """
    n, m = len(t_slots), len(d_slots)
    if n == 0 or m == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    same = t_slots[:, None] == d_slots[None, :]  # (N, M)
    cost = association.cost_matrix(t_boxes, d_boxes, "dist")  # (N, M) [m]
    giou_rows = tb.giou[t_slots]  # (N,)
    if giou_rows.any():
        radius_t = 0.5 * np.hypot(t_boxes[:, 3], t_boxes[:, 4])
        radius_d = 0.5 * np.hypot(d_boxes[:, 3], d_boxes[:, 4])
        bev = np.hypot(*(t_boxes[:, None, :2] - d_boxes[None, :, :2]).transpose(2, 0, 1))
        near = bev <= radius_t[:, None] + radius_d[None, :] + giou_reach  # (N, M)
        want = same & giou_rows[:, None]
        r, c = np.nonzero(want & near)
        cost[giou_rows] = np.inf
        if len(r):
            cost[r, c] = 1.0 - giou_3d_pairs(t_boxes[r], d_boxes[c].astype(np.float64))
    maha_rows = np.flatnonzero(tb.maha[t_slots])
    if len(maha_rows):
        innov = t_cov[maha_rows, :2, :2] + tb.meas_cov[t_slots[maha_rows], :2, :2]  # (K, 2, 2)
        cost[maha_rows] = association.mahalanobis_xy(t_boxes[maha_rows, :2], innov, d_boxes[:, :2])
    cost = np.where(same, cost, np.inf)
    gate = tb.gate[t_slots][:, None]  # (N, 1)
    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    for greedy in (False, True):
        rows = np.flatnonzero(tb.greedy[t_slots] == greedy)
        cols = np.flatnonzero((d_slots >= 0) & (tb.greedy[np.maximum(d_slots, 0)] == greedy))
        if len(rows) == 0 or len(cols) == 0:
            continue
        sub = cost[np.ix_(rows, cols)]
        sub = np.where(sub <= gate[rows], sub, np.inf)
        pairs, _, _ = association.match(sub, np.inf, "greedy" if greedy else "hungarian")
        rows_out.append(rows[pairs[:, 0]])
        cols_out.append(cols[pairs[:, 1]])
    if not rows_out:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows_out), np.concatenate(cols_out)


def _reidentify(
    t_slots: np.ndarray,
    t_mean: np.ndarray,
    t_cov: np.ndarray,
    t_matched: np.ndarray,
    d_slots: np.ndarray,
    d_boxes: np.ndarray,
    d_matched: np.ndarray,
    tb: _Tables,
) -> tuple[np.ndarray, np.ndarray]:
    """Second stage: matched (track rows, detection rows) among those the first stage left.

    Cost: BEV Mahalanobis distance of the detection centre under the track's innovation
    covariance (predicted, so it widens with every frame the track coasted); per-class gate
    ``reid_gate`` [sigma]; Hungarian matching. Only classes with ``reid_gate > 0`` take part.
    """
    t_free = tb.reid_gate[t_slots] > 0  # (N,)
    t_free[t_matched] = False
    d_free = tb.reid_gate[d_slots] > 0  # (M,) slot -1 -> the extra entry 0
    d_free[d_matched] = False
    rows, cols = np.flatnonzero(t_free), np.flatnonzero(d_free)
    if len(rows) == 0 or len(cols) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    innov = t_cov[rows, :2, :2] + tb.meas_cov[t_slots[rows], :2, :2]  # (K, 2, 2)
    cost = association.mahalanobis_xy(t_mean[rows, :2], innov, d_boxes[cols, :2])  # (K, L) [sigma]
    ok = (t_slots[rows][:, None] == d_slots[cols][None, :]) & (
        cost <= tb.reid_gate[t_slots[rows]][:, None]
    )
    pairs, _, _ = association.match(np.where(ok, cost, np.inf), np.inf, "hungarian")
    return rows[pairs[:, 0]], cols[pairs[:, 1]]


def report(state: TrackState, config: TrackerConfig) -> TrackerOutput:
    """Selects and describes the tracks to report after a step (see module docstring)."""
    tb = config.tables
    slots = state.slots
    alive = state.misses < tb.max_age[slots] if config.report_coasting else state.misses == 0
    min_hits = tb.min_hits[slots]
    confirmed = (state.hits >= min_hits) | (state.frame_count <= min_hits)
    rows = np.flatnonzero(alive & confirmed)
    mean, cov = state.mean[rows], state.cov[rows]
    models = tb.model_of_slot[slots[rows]]
    vel = np.empty((len(rows), 3))
    cov6 = np.empty((len(rows), 6, 6))
    for model in tb.models:
        sel = np.flatnonzero(models == model)
        if len(sel):
            vel[sel] = kalman.velocity_xyz(mean[sel], model)
            cov6[sel] = _pos_vel_cov(mean[sel], cov[sel], model)
    return TrackerOutput(
        ids=state.ids[rows],
        class_ids=state.class_ids[rows],
        boxes=kalman.meas_to_box(mean),
        velocities=vel,
        covariance=cov6,
        scores=state.score[rows],
        ages=state.age[rows],
        rows=rows,
    )


def _pos_vel_cov(mean: np.ndarray, cov: np.ndarray, model: str) -> np.ndarray:
    """Covariance (N, 6, 6) of (x, y, z, vx, vy, vz) by linearising the velocity of the state."""
    if model == "cv":  # the velocity is part of the state: select rows and columns
        idx = np.array([0, 1, 2, 7, 8, 9])
        return cov[:, idx[:, None], idx[None, :]]
    n = len(mean)
    jac = np.zeros((n, 6, kalman.STATE_DIM))
    jac[:, 0, 0] = jac[:, 1, 1] = jac[:, 2, 2] = 1.0
    jac[:, 5, 9] = 1.0
    if model == "cv":
        jac[:, 3, 7] = jac[:, 4, 8] = 1.0
    else:
        th, v = mean[:, kalman.YAW], mean[:, 7]
        jac[:, 3, 7], jac[:, 3, kalman.YAW] = np.cos(th), -v * np.sin(th)
        jac[:, 4, 7], jac[:, 4, kalman.YAW] = np.sin(th), v * np.cos(th)
    return jac @ cov @ np.swapaxes(jac, 1, 2)
