"""KITTI tracking CLEAR MOT as the KITTI devkit computes it, with AB3DMOT's extensions.

One evaluation run (``clear_mot``) reproduces ``compute3rdPartyMetrics`` of AB3DMOT's
``scripts/KITTI/evaluate.py`` (itself the KITTI tracking devkit's ``evaluate_tracking.py``
extended to Cyclist, 3D IoU and a score threshold):

- Loaded rows per class: the class, its neighbour (Van for Car, Person_sitting for Pedestrian)
  and DontCare; ground-truth rows with track id -1 that are not DontCare are dropped. (The
  tracking labels call a sitting person "Person", which the devkit does not load at all.)
- Per frame, ground truth and tracker boxes are matched by the Hungarian method on cost
  1 - overlap, pairs with overlap below ``min_overlap`` gated out.
- Ground truth with occlusion > 2, truncation > 0 or of the neighbour class is *ignored*
  (matched: an ignored TP, unmatched: an ignored FN). Unmatched tracker boxes of the neighbour
  class, of 2D height <= 25 px, or covering a DontCare box by more than 50 % of their area
  are ignored. FP = trackers - TP - ignored trackers; FN = unmatched non-ignored ground truth.
- Trajectory statistics (ID switches, fragmentations, MT/PT/ML) from each ground-truth track's
  per-frame matched tracker id, exactly as the devkit's loop (see ``_trajectory_stats``).
- Tracks whose mean score is below ``threshold`` are removed first (AB3DMOT); TP counts include
  ignored TPs (devkit), so recall = TP / (TP + FN) includes them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from drivestack.datasets.kitti.label_file import TrackingLabels
from drivestack.eval.frame_overlaps import concat_labels, frame_overlaps_flat

NEIGHBOUR_TRACKING: dict[str, str] = {"car": "van", "pedestrian": "person_sitting"}
_MAX_COST = 1e9  # the devkit's gating cost


@dataclass(frozen=True)
class TrackingEvalConfig:
    """Parameters of the KITTI tracking evaluation (defaults: devkit / AB3DMOT)."""

    metric: str = "bbox"  # "bbox" (2D IoU), "3d" (3D IoU) or "giou3d" (AB3DMOT's 3D GIoU)
    min_overlap: float = 0.5  # overlap needed for a match; AB3DMOT uses 0.25 in 3D
    max_truncation: float = 0.0  # ground truth above this truncation level is ignored
    max_occlusion: int = 2  # ground truth above this occlusion level is ignored
    min_height: float = 25.0  # [px] unmatched tracker boxes this small or smaller are ignored
    dontcare_cover: float = 0.5  # unmatched trackers covering a DontCare box more are ignored
    n_sample_pts: int = 41  # recall samples of the sAMOTA sweep (AB3DMOT)


@dataclass(frozen=True)
class ClassTracks:
    """One class of all sequences, flattened over (sequence, frame) = global frame index.

    Attributes:
        gt_frame, gt_seq, gt_id: (G,) global frame, sequence index, track id of ground truth.
        gt_ignored: (G,) ignored ground truth (occluded, truncated, neighbour class).
        trk_frame, trk_seq, trk_id: (T,) the same for tracker rows.
        trk_score: (T,) mean score of the row's track (AB3DMOT replaces scores by it).
        trk_ignorable: (T,) would be ignored when unmatched (neighbour, small, DontCare).
        pair_gt, pair_trk, pair_ov: (P,) same-frame pairs and their overlap.
        n_frames: total frames over the sequences.
    """

    gt_frame: np.ndarray
    gt_seq: np.ndarray
    gt_id: np.ndarray
    gt_ignored: np.ndarray
    trk_frame: np.ndarray
    trk_seq: np.ndarray
    trk_id: np.ndarray
    trk_score: np.ndarray
    trk_ignorable: np.ndarray
    pair_gt: np.ndarray
    pair_trk: np.ndarray
    pair_ov: np.ndarray
    n_frames: int


def _class_rows(labels: TrackingLabels, cls: str, is_gt: bool) -> TrackingLabels:
    types = np.char.lower(labels.type.astype(str))
    keep = (types == cls) | (types == "dontcare")
    if cls in NEIGHBOUR_TRACKING:
        keep |= types == NEIGHBOUR_TRACKING[cls]
    if is_gt:
        keep &= (labels.track_id != -1) | (types == "dontcare")
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(labels.frame[rows], kind="stable")]  # frame buckets, file order
    out = labels.where(rows)
    assert isinstance(out, TrackingLabels)
    return out


def flatten_sequences(
    labels: Sequence[TrackingLabels], n_frames: Sequence[int]
) -> tuple[TrackingLabels, np.ndarray, np.ndarray]:
    """Rows of all sequences (each sorted by frame) in one, on a global frame axis.

    Returns:
        The rows, (N,) sequence index of each row and (F,) rows per global frame, F = sum(n).
    """
    offsets = np.r_[0, np.cumsum(n_frames)]
    flat = concat_labels(list(labels))
    assert isinstance(flat, TrackingLabels)
    seq = np.repeat(np.arange(len(labels)), [len(x) for x in labels])
    gframe = flat.frame + offsets[seq]
    counts = np.bincount(gframe, minlength=int(offsets[-1]))
    return flat, seq, counts


def prepare_class(
    gt: Sequence[TrackingLabels],
    res: Sequence[TrackingLabels],
    n_frames: Sequence[int],
    cls: str,
    cfg: TrackingEvalConfig,
) -> ClassTracks:
    """Class filtering, ignore flags, mean track scores and all same-frame overlaps."""
    cls = cls.lower()
    g_parts = [_class_rows(g, cls, True) for g in gt]
    t_parts = [_class_rows(t, cls, False) for t in res]
    t_score: list[np.ndarray] = []
    for tc in t_parts:
        score = tc.score if tc.score is not None else np.full(len(tc), -1.0)
        # AB3DMOT: every row's score becomes the mean score of its track (per sequence).
        uniq, inv = np.unique(tc.track_id, return_inverse=True)
        total = np.bincount(inv, weights=score, minlength=len(uniq))
        mean = total / np.maximum(np.bincount(inv, minlength=len(uniq)), 1)
        t_score.append(mean[inv])
    g_all, g_seq, ng = flatten_sequences(g_parts, n_frames)
    t_all, t_seq, nd = flatten_sequences(t_parts, n_frames)
    metric = cfg.metric
    fo = frame_overlaps_flat(g_all, ng, t_all, nd, [metric])
    real_gt = fo.gt_type != "dontcare"
    neighbour = NEIGHBOUR_TRACKING.get(cls, "")
    gt_ign = (
        (g_all.occluded > cfg.max_occlusion)
        | (g_all.truncated > cfg.max_truncation)
        | (fo.gt_type == neighbour)
    )
    box = t_all.bbox
    trk_ignorable = (
        (fo.det_type == neighbour)
        | (np.abs(box[:, 1] - box[:, 3]) <= cfg.min_height)
        | (fo.dc_cover > cfg.dontcare_cover)
    )
    gt_rows = np.flatnonzero(real_gt)
    new_index = np.full(len(real_gt), -1)
    new_index[gt_rows] = np.arange(len(gt_rows))
    keep = real_gt[fo.pair_gt]
    return ClassTracks(
        gt_frame=fo.gt_frame[gt_rows],
        gt_seq=g_seq[gt_rows],
        gt_id=g_all.track_id[gt_rows].astype(np.int64),
        gt_ignored=gt_ign[gt_rows],
        trk_frame=fo.det_frame,
        trk_seq=t_seq,
        trk_id=t_all.track_id.astype(np.int64),
        trk_score=np.concatenate([np.zeros(0), *t_score]),
        trk_ignorable=trk_ignorable,
        pair_gt=new_index[fo.pair_gt[keep]],
        pair_trk=fo.pair_det[keep],
        pair_ov=fo.overlaps[metric][keep],
        n_frames=int(sum(n_frames)),
    )


def match_frames(
    ct: ClassTracks, alive: np.ndarray, min_overlap: float, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame Hungarian matching of ground truth and alive tracker rows.

    Args:
        ct: the prepared class.
        alive: (T,) tracker rows taking part.
        min_overlap: gating overlap (cost 1 - overlap <= 1 - min_overlap).
        cache: optional dict reused across calls: frames whose alive rows did not change are
            not solved again.

    Returns:
        (G,) matched tracker row of each ground-truth row (-1 if none) and (G,) the overlap of
        the match (0 if none).
    """
    gated = alive[ct.pair_trk] & ((1.0 - ct.pair_ov) <= (1.0 - min_overlap))
    pg, pt, cost = ct.pair_gt[gated], ct.pair_trk[gated], 1.0 - ct.pair_ov[gated]
    match = np.full(len(ct.gt_frame), -1)
    match_cost = np.ones(len(ct.gt_frame))
    n_g = np.bincount(pg, minlength=len(ct.gt_frame))
    n_t = np.bincount(pt, minlength=len(ct.trk_frame))
    simple = (n_g[pg] == 1) & (n_t[pt] == 1)  # an isolated edge is its own optimum
    match[pg[simple]] = pt[simple]
    match_cost[pg[simple]] = cost[simple]
    hard = ~simple
    if not hard.any():
        return match, 1.0 - match_cost
    frames = ct.gt_frame[pg[hard]]
    order = np.argsort(frames, kind="stable")
    hg, ht, hc, hf = pg[hard][order], pt[hard][order], cost[hard][order], frames[order]
    starts = np.r_[0, np.flatnonzero(np.diff(hf)) + 1, len(hf)]
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        key = (int(hf[a]), hg[a:b].tobytes(), ht[a:b].tobytes())
        if cache is not None and key in cache:
            rows, cols, costs = cache[key]
        else:
            g_u, g_inv = np.unique(hg[a:b], return_inverse=True)
            t_u, t_inv = np.unique(ht[a:b], return_inverse=True)
            mat = np.full((len(g_u), len(t_u)), _MAX_COST)
            mat[g_inv, t_inv] = hc[a:b]
            r, c = linear_sum_assignment(mat)
            ok = mat[r, c] < _MAX_COST
            rows, cols, costs = g_u[r[ok]], t_u[c[ok]], mat[r[ok], c[ok]]
            if cache is not None:
                cache[key] = (rows, cols, costs)
        match[rows] = cols
        match_cost[rows] = costs
    return match, 1.0 - match_cost


@dataclass(frozen=True)
class ClearMot:
    """CLEAR MOT numbers of one run (fractions in [0, 1], counts as integers)."""

    threshold: float
    mota: float
    motp: float
    moda: float
    smota: float
    recall: float
    precision: float
    f1: float
    far: float
    mt: float
    pt: float
    ml: float
    tp: int
    fp: int
    fn: int
    ids: int
    frag: int
    ignored_tp: int
    ignored_fn: int
    ignored_trk: int
    n_gt: int
    n_gt_trajectories: int
    n_trk: int

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def _trajectory_stats(
    ct: ClassTracks, match: np.ndarray
) -> tuple[int, int, int, int, int, int, int]:
    """ID switches, fragmentations, MT, PT, ML counts, ignored and all trajectories.

    The devkit walks each ground-truth trajectory (its frames in order) with ``g`` the matched
    tracker id (-1 if none) and ``ign`` the ignore flag; replicated literally, including that the
    first frame counts as tracked even when ignored.
    """
    trk_id = np.where(match >= 0, ct.trk_id[np.maximum(match, 0)], -1)
    order = np.lexsort((ct.gt_frame, ct.gt_id, ct.gt_seq))
    seq, gid = ct.gt_seq[order], ct.gt_id[order]
    g_all, ign_all = trk_id[order].tolist(), ct.gt_ignored[order].tolist()
    cut = np.r_[0, np.flatnonzero((np.diff(seq) != 0) | (np.diff(gid) != 0)) + 1, len(order)]
    ids = frag = mt = pt = ml = n_ign = 0
    for a, b in zip(cut[:-1].tolist(), cut[1:].tolist(), strict=True):
        g, ign = g_all[a:b], ign_all[a:b]
        if all(ign):
            n_ign += 1
            continue
        if all(x == -1 for x in g):
            ml += 1
            continue
        last = g[0]
        tracked = 1 if g[0] >= 0 else 0
        n = len(g)
        f = 0
        for f in range(1, n):
            if ign[f]:
                last = -1
                continue
            if last != g[f] and last != -1 and g[f] != -1 and g[f - 1] != -1:
                ids += 1
            if f < n - 1 and g[f - 1] != g[f] and last != -1 and g[f] != -1 and g[f + 1] != -1:
                frag += 1
            if g[f] != -1:
                tracked += 1
                last = g[f]
        if n > 1 and g[f - 1] != g[f] and last != -1 and g[f] != -1 and not ign[f]:
            frag += 1
        ratio = tracked / (n - sum(ign))
        if ratio > 0.8:
            mt += 1
        elif ratio < 0.2:
            ml += 1
        else:
            pt += 1
    return ids, frag, mt, pt, ml, n_ign, len(cut) - 1


def clear_mot(
    ct: ClassTracks,
    cfg: TrackingEvalConfig,
    threshold: float = -10000.0,
    recall_thres: float = 1.0,
    sticky: np.ndarray | None = None,
    cache: dict | None = None,
) -> tuple[ClearMot, np.ndarray, np.ndarray]:
    """One evaluation run at a track-score threshold.

    Args:
        ct: the prepared class.
        cfg: parameters.
        threshold: tracks with mean score below it are removed (AB3DMOT).
        recall_thres: recall r of sMOTA = clip(1 - (FN + FP + IDS - (1 - r) n_gt) / (r n_gt)).
        sticky: (T,) tracker rows matched in earlier runs. AB3DMOT keeps its per-box "valid"
            flag across the runs of its sweep, so such rows are never ignored again.
        cache: matching cache shared across runs (see :func:`match_frames`).

    Returns:
        The numbers, (T,) rows matched in this run, and (M,) scores of the matched rows.
    """
    alive = ct.trk_score >= threshold
    match, ov = match_frames(ct, alive, cfg.min_overlap, cache)
    hit = match >= 0
    matched_trk = np.zeros(len(ct.trk_frame), bool)
    matched_trk[match[hit]] = True
    valid = matched_trk if sticky is None else (matched_trk | sticky)
    ign_trk = int((alive & ~valid & ct.trk_ignorable).sum())
    tp = int(hit.sum())
    ignored_tp = int((hit & ct.gt_ignored).sum())
    ignored_fn = int((~hit & ct.gt_ignored).sum())
    fn = int((~hit & ~ct.gt_ignored).sum())
    n_trk = int(alive.sum())
    fp = n_trk - tp - ign_trk
    n_gt = len(ct.gt_frame) - ignored_fn - ignored_tp
    ids, frag, mt, pt, ml, n_ign_traj, n_traj = _trajectory_stats(ct, match)
    denom_traj = n_traj - n_ign_traj
    total_cost = float(ov[hit].sum())  # the devkit sums 1 - cost
    recall = tp / (tp + fn) if (tp + fp) and (tp + fn) else 0.0
    precision = tp / (tp + fp) if (tp + fp) and (tp + fn) else 0.0
    if n_gt:
        mota = 1 - (fn + fp + ids) / n_gt
        moda = 1 - (fn + fp) / n_gt
        smota = min(
            1.0, max(0.0, 1 - (fn + fp + ids - (1 - recall_thres) * n_gt) / (recall_thres * n_gt))
        )
    else:
        mota = moda = smota = -float("inf")
    result = ClearMot(
        threshold=threshold,
        mota=mota,
        motp=total_cost / tp if tp else 0.0,
        moda=moda,
        smota=smota,
        recall=recall,
        precision=precision,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        far=fp / ct.n_frames if ct.n_frames else 0.0,
        mt=mt / denom_traj if denom_traj else 0.0,
        pt=pt / denom_traj if denom_traj else 0.0,
        ml=ml / denom_traj if denom_traj else 0.0,
        tp=tp,
        fp=fp,
        fn=fn,
        ids=ids,
        frag=frag,
        ignored_tp=ignored_tp,
        ignored_fn=ignored_fn,
        ignored_trk=ign_trk,
        n_gt=n_gt,
        n_gt_trajectories=n_traj,
        n_trk=n_trk,
    )
    return result, matched_trk, ct.trk_score[match[hit]]
