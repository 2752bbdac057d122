"""HOTA, DetA, AssA, LocA for KITTI tracking, as TrackEval defines them.

Follows TrackEval (Luiten et al., IJCV 2020): ``metrics/hota.py`` and the KITTI preprocessing
of ``datasets/kitti_2d_box.py``:

- Ground truth of the class and its distractor class (Van for Car, Person for Pedestrian; none
  for Cyclist, which TrackEval does not evaluate on KITTI); tracker boxes of the class only.
- Per frame, Hungarian matching on similarity (values below 0.5 zeroed); tracker boxes matched
  to distractor, occluded (> 2) or truncated (> 0) ground truth are removed; unmatched tracker
  boxes with height <= 25 px or more than 50 % inside a DontCare box are removed; then only
  non-distractor, non-occluded, non-truncated ground truth is kept.
- For alpha in 0.05, 0.10, ..., 0.95: per frame, Hungarian matching on
  (global alignment score x similarity), a match counts where similarity >= alpha. DetA =
  TP / (TP + FN + FP), AssA = mean over TPs of the track-pair Jaccard, HOTA = sqrt(DetA AssA),
  LocA = mean similarity of the TPs; reported values are means over alpha.
- Sequences are combined by summing TP/FN/FP and TP-weighting AssA/AssRe/AssPr/LocA.

In 3D mode the similarity is 3D IoU (an extension; TrackEval's KITTI dataset is 2D only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from drivestack.datasets.kitti.label_file import TrackingLabels
from drivestack.eval.frame_overlaps import frame_overlaps_flat

ALPHAS = np.arange(0.05, 0.99, 0.05)  # TrackEval's array_labels
HOTA_DISTRACTOR: dict[str, str] = {"car": "van", "pedestrian": "person"}
_EPS = np.finfo("float").eps


@dataclass(frozen=True)
class HotaResult:
    """HOTA of one class; arrays are per alpha (19,), scalars their means."""

    hota: float
    deta: float
    assa: float
    loca: float
    detre: float
    detpr: float
    assre: float
    asspr: float
    hota_alpha: np.ndarray
    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray

    def as_dict(self) -> dict[str, float]:
        return {
            "HOTA": self.hota,
            "DetA": self.deta,
            "AssA": self.assa,
            "LocA": self.loca,
            "DetRe": self.detre,
            "DetPr": self.detpr,
            "AssRe": self.assre,
            "AssPr": self.asspr,
        }


def _sorted(labels: TrackingLabels, rows: np.ndarray) -> TrackingLabels:
    rows = rows[np.argsort(labels.frame[rows], kind="stable")]
    out = labels.where(rows)
    assert isinstance(out, TrackingLabels)
    return out


def _sequence_data(
    gt: TrackingLabels, res: TrackingLabels, n: int, cls: str, metric: str, match_thr: float
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """TrackEval's KITTI preprocessing of one sequence: per frame gt ids, tracker ids, sim."""
    distractor = HOTA_DISTRACTOR.get(cls, "")
    g_types = np.char.lower(gt.type.astype(str))
    g_rows = (g_types == cls) | (g_types == "dontcare")
    if distractor:
        g_rows |= g_types == distractor
    g = _sorted(gt, np.flatnonzero(g_rows))
    t = _sorted(res, np.flatnonzero(np.char.lower(res.type.astype(str)) == cls))
    ng, nd = np.bincount(g.frame, minlength=n), np.bincount(t.frame, minlength=n)
    fo = frame_overlaps_flat(g, ng, t, nd, [metric])
    g0, d0 = np.r_[0, np.cumsum(ng)], np.r_[0, np.cumsum(nd)]
    p0 = np.r_[0, np.cumsum(nd * ng)]
    is_real = fo.gt_type != "dontcare"
    g_keep_all = (g.occluded <= 2) & (g.truncated <= 0) & (fo.gt_type == cls)
    g_bad_all = (fo.gt_type == distractor) | (g.occluded > 2 + _EPS) | (g.truncated > 0 + _EPS)
    t_small = (t.bbox[:, 3] - t.bbox[:, 1] <= 25 + _EPS) | (fo.dc_cover > 0.5 + _EPS)
    gt_ids, trk_ids, sims = [], [], []
    for f in range(n):
        gs, ds = slice(g0[f], g0[f + 1]), slice(d0[f], d0[f + 1])
        real = is_real[gs]
        sim_all = fo.overlaps[metric][p0[f] : p0[f + 1]].reshape(nd[f], ng[f]).T  # (G, T)
        sim = np.clip(sim_all[real], 0.0, None)  # (G_real, T)
        remove = np.zeros(nd[f], bool)
        unmatched = np.ones(nd[f], bool)
        if sim.shape[0] and sim.shape[1]:
            scores = np.where(sim < match_thr - _EPS, 0.0, sim)
            r, c = linear_sum_assignment(-scores)
            ok = scores[r, c] > _EPS
            r, c = r[ok], c[ok]
            remove[c[g_bad_all[gs][real][r]]] = True
            unmatched[c] = False
        remove |= unmatched & t_small[ds]
        keep_g = g_keep_all[gs][real]
        gt_ids.append(g.track_id[gs][real][keep_g])
        trk_ids.append(t.track_id[ds][~remove])
        sims.append(sim[keep_g][:, ~remove])
    return gt_ids, trk_ids, sims


def _relabel(ids: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    uniq = np.unique(np.concatenate(ids)) if ids else np.zeros(0, int)
    return [np.searchsorted(uniq, x) for x in ids], len(uniq)


def _sequence_hota(
    gt_ids: list[np.ndarray], trk_ids: list[np.ndarray], sims: list[np.ndarray]
) -> dict:
    """TrackEval ``HOTA.eval_sequence`` on one sequence, vectorised over alpha."""
    gt_ids, n_gid = _relabel(gt_ids)
    trk_ids, n_tid = _relabel(trk_ids)
    a = len(ALPHAS)
    res = {k: np.zeros(a) for k in ("TP", "FN", "FP", "LocA", "AssA", "AssRe", "AssPr")}
    n_gt = sum(len(x) for x in gt_ids)
    n_trk = sum(len(x) for x in trk_ids)
    if n_trk == 0 or n_gt == 0:
        res["FN"][:] = n_gt
        res["FP"][:] = n_trk
        res["LocA"][:] = 1.0
        return res
    potential = np.zeros((n_gid, n_tid))
    gt_count = np.bincount(np.concatenate(gt_ids), minlength=n_gid).astype(float)
    trk_count = np.bincount(np.concatenate(trk_ids), minlength=n_tid).astype(float)
    for g, t, s in zip(gt_ids, trk_ids, sims, strict=True):
        if not (len(g) and len(t)):
            continue
        denom = s.sum(0)[None, :] + s.sum(1)[:, None] - s
        sim_iou = np.zeros_like(s)
        mask = denom > _EPS
        sim_iou[mask] = s[mask] / denom[mask]
        potential[g[:, None], t[None, :]] += sim_iou
    global_score = potential / (gt_count[:, None] + trk_count[None, :] - potential)
    mg, mt, ms = [], [], []
    for g, t, s in zip(gt_ids, trk_ids, sims, strict=True):
        if len(g) and len(t):
            r, c = linear_sum_assignment(-(global_score[g[:, None], t[None, :]] * s))
            mg.append(g[r])
            mt.append(t[c])
            ms.append(s[r, c])
    m_g, m_t, m_s = np.concatenate(mg), np.concatenate(mt), np.concatenate(ms)  # (M,)
    ok = m_s[None, :] >= ALPHAS[:, None] - _EPS  # (A, M)
    res["TP"] = ok.sum(1).astype(float)
    res["FN"] = n_gt - res["TP"]
    res["FP"] = n_trk - res["TP"]
    res["LocA"] = np.maximum(1e-10, (ok * m_s[None, :]).sum(1)) / np.maximum(1e-10, res["TP"])
    # Matches per (alpha, gt id, tracker id), sparse: only pairs that matched at least once.
    k_idx, m_idx = np.nonzero(ok)
    key = (k_idx * n_gid + m_g[m_idx]) * n_tid + m_t[m_idx]
    uniq, count = np.unique(key, return_counts=True)
    k, rest = np.divmod(uniq, n_gid * n_tid)
    gi, ti = np.divmod(rest, n_tid)
    m = count.astype(float)
    tp = np.maximum(1.0, res["TP"])
    for name, den in (
        ("AssA", np.maximum(1, gt_count[gi] + trk_count[ti] - m)),
        ("AssRe", np.maximum(1, gt_count[gi])),
        ("AssPr", np.maximum(1, trk_count[ti])),
    ):
        res[name] = np.bincount(k, weights=m * m / den, minlength=a) / tp
    return res


def hota_class(
    gt: Sequence[TrackingLabels],
    res: Sequence[TrackingLabels],
    n_frames: Sequence[int],
    cls: str,
    metric: str = "bbox",
    match_thr: float = 0.5,
) -> HotaResult:
    """HOTA of one class over all sequences (TrackEval's combination).

    Args:
        gt, res: per sequence ground truth and tracker output.
        n_frames: frames per sequence.
        cls: "car", "pedestrian" or "cyclist".
        metric: similarity, "bbox" (2D IoU) or "3d" (3D IoU).
        match_thr: preprocessing match threshold (TrackEval: 0.5).

    Returns:
        The HOTA family of metrics in [0, 1].
    """
    seqs = [
        _sequence_hota(*_sequence_data(g, r, n, cls, metric, match_thr))
        for g, r, n in zip(gt, res, n_frames, strict=True)
    ]
    tp = sum(s["TP"] for s in seqs)
    fn = sum(s["FN"] for s in seqs)
    fp = sum(s["FP"] for s in seqs)
    weighted = {
        k: sum(s[k] * s["TP"] for s in seqs) / np.maximum(1.0, tp)
        for k in ("AssA", "AssRe", "AssPr")
    }
    loca = np.maximum(1e-10, sum(s["LocA"] * s["TP"] for s in seqs)) / np.maximum(1e-10, tp)
    detre = tp / np.maximum(1, tp + fn)
    detpr = tp / np.maximum(1, tp + fp)
    deta = tp / np.maximum(1, tp + fn + fp)
    hota = np.sqrt(deta * weighted["AssA"])
    return HotaResult(
        hota=float(hota.mean()),
        deta=float(deta.mean()),
        assa=float(weighted["AssA"].mean()),
        loca=float(loca.mean()),
        detre=float(detre.mean()),
        detpr=float(detpr.mean()),
        assre=float(weighted["AssRe"].mean()),
        asspr=float(weighted["AssPr"].mean()),
        hota_alpha=hota,
        tp=tp,
        fn=fn,
        fp=fp,
    )
