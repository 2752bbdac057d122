"""PointPillars-class LiDAR detector in torch: pillar scatter, 2D backbone, centre head.

Pillars (Lang et al., CVPR 2019): points are grouped into vertical columns of a BEV grid
(all in torch: ``torch.unique`` + a stable sort, so it runs on GPU unchanged), each point is
augmented with its offset from the pillar's mean and centre, a shared linear layer + max over
the pillar's points gives one feature vector, scattered back into a (C, H, W) canvas. A
three-stage 2D CNN with upsampling to stride 2 follows; the head is centre-based
(CenterPoint, Yin et al. CVPR 2021): per-class heatmap, sub-cell offset, height, log-size and
(sin, cos) yaw at each cell. Decoding takes local heatmap maxima, then rotated NMS with the
exact BEV IoU of :mod:`drivestack.eval.box_iou`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drivestack.eval.box_iou import bev_iou
from drivestack.msgs import ObjectClass


@dataclass(frozen=True)
class PillarsConfig:
    """Grid, network and decoding settings (KITTI front-camera region by default)."""

    x_range: tuple[float, float] = (0.0, 69.12)  # [m]
    y_range: tuple[float, float] = (-39.68, 39.68)  # [m]
    z_range: tuple[float, float] = (-3.0, 1.0)  # [m]
    pillar: float = 0.32  # [m] BEV pillar side
    max_points: int = 32  # per pillar (the rest are dropped)
    max_pillars: int = 16000
    features: int = 64  # pillar feature channels
    channels: tuple[int, int, int] = (64, 128, 128)  # backbone stages (strides 2, 4, 8)
    layers: int = 3  # extra 3x3 convs per backbone stage
    up_channels: int = 64  # per upsampled stage; the head sees 3x this
    classes: tuple[int, ...] = (
        int(ObjectClass.CAR),
        int(ObjectClass.PEDESTRIAN),
        int(ObjectClass.CYCLIST),
    )
    mean_sizes: tuple[tuple[float, float, float], ...] = (
        (3.9, 1.6, 1.56),
        (0.8, 0.6, 1.73),
        (1.76, 0.6, 1.73),
    )  # [m] per class: dx, dy, dz (log-size targets are relative to these)
    score_threshold: float = 0.1
    nms_iou: float = 0.1  # BEV IoU; objects on the ground do not overlap
    max_detections: int = 100

    @property
    def grid(self) -> tuple[int, int]:
        """(H, W) cells: rows along y, columns along x."""
        return (
            round((self.y_range[1] - self.y_range[0]) / self.pillar),
            round((self.x_range[1] - self.x_range[0]) / self.pillar),
        )


def pillarize(
    points: torch.Tensor, cfg: PillarsConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Groups one scan into pillars.

    Args:
        points: (N, 4) x, y, z [m], intensity.
        cfg: grid settings.

    Returns:
        (features (P, M, 9): x, y, z, r, offsets to the pillar mean (3) and centre (2);
        mask (P, M) bool of real points; cell (P,) int64 flat index row * W + col).
    """
    h, w = cfg.grid
    lo = torch.tensor([cfg.x_range[0], cfg.y_range[0], cfg.z_range[0]], device=points.device)
    hi = torch.tensor([cfg.x_range[1], cfg.y_range[1], cfg.z_range[1]], device=points.device)
    inside = ((points[:, :3] >= lo) & (points[:, :3] < hi)).all(dim=1)
    pts = points[inside]  # (N', 4)
    col = ((pts[:, 0] - lo[0]) / cfg.pillar).long().clamp(0, w - 1)
    row = ((pts[:, 1] - lo[1]) / cfg.pillar).long().clamp(0, h - 1)
    flat = row * w + col  # (N',)
    cells, inverse, counts = torch.unique(flat, return_inverse=True, return_counts=True)
    if len(cells) > cfg.max_pillars:  # keep the densest pillars
        keep_cells = counts.argsort(descending=True)[: cfg.max_pillars]
        remap = torch.full((len(cells),), -1, dtype=torch.long, device=points.device)
        remap[keep_cells] = torch.arange(len(keep_cells), device=points.device)
        sel = remap[inverse] >= 0
        pts, inverse = pts[sel], remap[inverse][sel]
        cells = cells[keep_cells]
    order = torch.argsort(inverse, stable=True)
    pts, inverse = pts[order], inverse[order]
    counts = torch.bincount(inverse, minlength=len(cells))
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(pts), device=points.device) - starts[inverse]  # (N',) slot in pillar
    keep = rank < cfg.max_points
    p, r, pts = inverse[keep], rank[keep], pts[keep]
    grid = torch.zeros(len(cells), cfg.max_points, 4, device=points.device)
    grid[p, r] = pts
    mask = torch.zeros(len(cells), cfg.max_points, dtype=torch.bool, device=points.device)
    mask[p, r] = True
    n = mask.sum(dim=1, keepdim=True).clamp(min=1)  # (P, 1)
    mean = grid[..., :3].sum(dim=1) / n  # (P, 3)
    cx = (cells % w).float() * cfg.pillar + lo[0] + cfg.pillar / 2  # (P,)
    cy = (cells // w).float() * cfg.pillar + lo[1] + cfg.pillar / 2
    centre = torch.stack([cx, cy], dim=1)  # (P, 2)
    feats = torch.cat([grid, grid[..., :3] - mean[:, None], grid[..., :2] - centre[:, None]], 2)
    return feats * mask[..., None], mask, cells


class PointPillars(nn.Module):
    """Pillar feature net, BEV scatter, 2D backbone, centre head."""

    def __init__(self, cfg: PillarsConfig):
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.channels
        self.pfn = nn.Sequential(
            nn.Linear(9, cfg.features, bias=False), nn.BatchNorm1d(cfg.features), nn.ReLU()
        )
        u = cfg.up_channels
        self.block1 = _block(cfg.features, c1, 2, cfg.layers)
        self.block2 = _block(c1, c2, 2, cfg.layers)
        self.block3 = _block(c2, c3, 2, cfg.layers)
        self.up1 = _up(c1, u, 1)
        self.up2 = _up(c2, u, 2)
        self.up3 = _up(c3, u, 4)
        k = len(cfg.classes)
        self.heatmap = nn.Sequential(_conv(3 * u, u), nn.Conv2d(u, k, 1))
        self.regress = nn.Sequential(_conv(3 * u, u), nn.Conv2d(u, 8, 1))  # dx dy z l w h sin cos
        last = self.heatmap[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        last.bias.data.fill_(-2.19)  # prior probability 0.1 (focal-loss init)

    def forward(self, scans: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: scans, B tensors (N_b, 4). Returns heatmap logits (B, K, H/2, W/2) and
        regression (B, 8, H/2, W/2)."""
        h, w = self.cfg.grid
        canvases = []
        for pts in scans:
            feats, mask, cells = pillarize(pts, self.cfg)  # (P, M, 9), (P, M), (P,)
            p, m, _ = feats.shape
            x = self.pfn[0](feats.reshape(p * m, 9))  # (P*M, C)
            x = self.pfn[2](self.pfn[1](x)).reshape(p, m, -1)
            x = x.masked_fill(~mask[..., None], float("-inf")).max(dim=1).values  # (P, C)
            canvas = torch.zeros(self.cfg.features, h * w, device=pts.device, dtype=x.dtype)
            canvas[:, cells] = x.t()
            canvases.append(canvas.view(self.cfg.features, h, w))
        x = torch.stack(canvases)  # (B, C, H, W)
        x1 = self.block1(x)  # (B, c1, H/2, W/2)
        x2 = self.block2(x1)  # (B, c2, H/4, W/4)
        x3 = self.block3(x2)  # (B, c3, H/8, W/8)
        size = x1.shape[-2:]
        feat = torch.cat([self.up1(x1), _fit(self.up2(x2), size), _fit(self.up3(x3), size)], 1)
        return self.heatmap(feat), self.regress(feat)  # (B, K, H/2, W/2), (B, 8, H/2, W/2)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


def _block(cin: int, cout: int, stride: int, layers: int) -> nn.Sequential:
    return nn.Sequential(_conv(cin, cout, stride), *(_conv(cout, cout) for _ in range(layers)))


def _up(cin: int, cout: int, factor: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, factor, factor, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


def _fit(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """Crops/pads a map to ``size`` (odd grid sizes lose a cell when halved)."""
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    return F.pad(x, (0, dw, 0, dh))


def output_cell(cfg: PillarsConfig) -> float:
    """[m] side of one head cell (stride 2 over the pillar grid)."""
    return 2 * cfg.pillar


def targets(
    boxes: np.ndarray,
    classes: np.ndarray,
    cfg: PillarsConfig,
    shape: tuple[int, int],
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training targets of one scan.

    Args:
        boxes: (G, 7) ground-truth boxes, ego frame. classes: (G,) ObjectClass ids.
        shape: (h, w) of the head output.

    Returns:
        (heatmap (K, h, w) in [0, 1] with Gaussian peaks, regression (8, h, w),
        regression mask (h, w) bool at the centre cells).
    """
    k = len(cfg.classes)
    h, w = shape
    cell = output_cell(cfg)
    heat = np.zeros((k, h, w), np.float32)
    reg = np.zeros((8, h, w), np.float32)
    mask = np.zeros((h, w), bool)
    ys, xs = np.mgrid[0:h, 0:w]
    for box, cls in zip(boxes, classes, strict=True):
        if int(cls) not in cfg.classes:
            continue
        c = cfg.classes.index(int(cls))
        fx = (box[0] - cfg.x_range[0]) / cell
        fy = (box[1] - cfg.y_range[0]) / cell
        ix, iy = int(fx), int(fy)
        if not (0 <= ix < w and 0 <= iy < h):
            continue
        sigma = max(0.8, min(box[3], box[4]) / cell / 3)
        g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
        heat[c] = np.maximum(heat[c], g)
        size = np.log(box[3:6] / np.asarray(cfg.mean_sizes[c]))
        reg[:, iy, ix] = [fx - ix, fy - iy, box[2], *size, math.sin(box[6]), math.cos(box[6])]
        mask[iy, ix] = True
    return (
        torch.from_numpy(heat).to(device),
        torch.from_numpy(reg).to(device),
        torch.from_numpy(mask).to(device),
    )


def loss(
    heat_logits: torch.Tensor,
    reg: torch.Tensor,
    heat_t: torch.Tensor,
    reg_t: torch.Tensor,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CenterNet focal loss on the heatmap + L1 on the regression at centre cells."""
    p = heat_logits.sigmoid().clamp(1e-4, 1 - 1e-4)  # (B, K, h, w)
    pos = heat_t.eq(1.0).float()
    neg_w = (1 - heat_t) ** 4
    pos_loss = (torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = (torch.log(1 - p) * p**2 * neg_w * (1 - pos)).sum()
    n_pos = pos.sum().clamp(min=1)
    focal = -(pos_loss + neg_loss) / n_pos
    m = mask[:, None].expand_as(reg)  # (B, 8, h, w)
    l1 = (F.l1_loss(reg[m], reg_t[m], reduction="sum") / n_pos) if m.any() else reg.sum() * 0
    return focal + 2.0 * l1, {"focal": float(focal.detach()), "l1": float(l1.detach())}


@torch.no_grad()
def decode(
    heat_logits: torch.Tensor, reg: torch.Tensor, cfg: PillarsConfig
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Boxes per scan: local heatmap maxima above the threshold, then rotated NMS.

    Returns:
        Per scan (boxes (K, 7) float32 ego frame, scores (K,) float32, class ids (K,) int32).
    """
    heat = heat_logits.sigmoid()  # (B, K, h, w)
    peaks = heat == F.max_pool2d(heat, 3, 1, 1)
    cell = output_cell(cfg)
    out = []
    for b in range(heat.shape[0]):
        c, iy, ix = torch.nonzero(peaks[b] & (heat[b] > cfg.score_threshold), as_tuple=True)
        score = heat[b, c, iy, ix]
        r = reg[b][:, iy, ix].t()  # (K, 8)
        x = (ix.float() + r[:, 0]) * cell + cfg.x_range[0]
        y = (iy.float() + r[:, 1]) * cell + cfg.y_range[0]
        sizes = torch.tensor(cfg.mean_sizes, device=reg.device)[c] * r[:, 3:6].clamp(-3, 3).exp()
        yaw = torch.atan2(r[:, 6], r[:, 7])
        boxes = torch.cat([x[:, None], y[:, None], r[:, 2:3], sizes, yaw[:, None]], 1)
        boxes_np = boxes.cpu().numpy().astype(np.float64)
        score_np = score.cpu().numpy()
        cls_np = np.asarray(cfg.classes, np.int32)[c.cpu().numpy()]
        keep = rotated_nms(boxes_np, score_np, cfg.nms_iou)[: cfg.max_detections]
        out.append(
            (boxes_np[keep].astype(np.float32), score_np[keep].astype(np.float32), cls_np[keep])
        )
    return out


def rotated_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS by exact rotated BEV IoU; returns kept indices in descending score order."""
    order = np.argsort(-scores)
    if len(order) == 0:
        return order
    overlap = bev_iou(boxes[order], boxes[order])  # (K, K)
    keep = np.ones(len(order), bool)
    for i in range(len(order)):
        if keep[i]:
            keep[i + 1 :] &= overlap[i, i + 1 :] <= iou
    return order[keep]
