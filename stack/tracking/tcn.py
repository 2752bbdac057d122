"""Temporal convolutional network (TCN) that forecasts an object's future positions.

Causal dilated 1D convolutions (Bai et al. 2018, "An Empirical Evaluation of Generic
Convolutional and Recurrent Networks for Sequence Modeling") read a fixed window of an
object's past states (features from :mod:`drivestack.tracking.motion_features`, oldest first)
and a head on the last time step outputs, for each future step, a 2D Gaussian: mean offset
and log standard deviation in the object's heading frame. Training minimises the Gaussian
negative log-likelihood, so the forecast carries its own uncertainty.

Checkpoints are versioned and embed :class:`TCNConfig`; loading one whose version or
config disagrees with what the caller expects raises :class:`CheckpointError` naming the
fields.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

CHECKPOINT_FORMAT = "drivestack.tracking.tcn"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded as asked (wrong format, version or config)."""


@dataclass(frozen=True)
class TCNConfig:
    """Architecture and horizon of the motion TCN.

    Attributes:
        in_features: features per history step (see ``motion_features.NUM_FEATURES``).
        history: past steps the model reads, including the current one.
        horizon: future steps it forecasts.
        step_s: [s] time between steps (KITTI: 10 Hz).
        channels: convolution channels.
        kernel_size: temporal kernel size.
        dilations: dilation per residual block; receptive field
            ``1 + 2 * (kernel_size - 1) * sum(dilations)`` should cover ``history``.
        dropout: dropout probability inside the blocks during training.
        min_log_std: lower bound on the predicted log standard deviation [log m].
        ls_base: add the network's output to a constant-velocity extrapolation whose velocity
            is the least-squares slope of the valid history positions, so the network learns
            a correction to a smoothed constant-velocity forecast instead of the whole motion.
        pos_channels: feature channels holding the history x, y (scaled by ``pos_scale``).
        valid_channel: feature channel flagging observed history steps.
        pos_scale: [m] per unit of the position channels.
    """

    in_features: int = 12
    history: int = 10
    horizon: int = 20
    step_s: float = 0.1  # [s]
    channels: int = 48
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4)
    dropout: float = 0.05
    min_log_std: float = -4.0  # [log m]
    ls_base: bool = True
    pos_channels: tuple[int, int] = (0, 1)
    valid_channel: int = 10
    pos_scale: float = 10.0  # [m]

    @property
    def horizons_s(self) -> list[float]:
        """[s] forecast times, ``step_s * (1 .. horizon)``."""
        return [self.step_s * (i + 1) for i in range(self.horizon)]

    def receptive_field(self) -> int:
        """Number of input steps that can influence the last output step."""
        return 1 + 2 * (self.kernel_size - 1) * sum(self.dilations)


class _CausalConv(nn.Module):
    """Conv1d that only sees the present and the past (left padding)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C', T)
        return self.conv(nn.functional.pad(x, (self.pad, 0)))


class _Block(nn.Module):
    """Two causal convolutions with a residual connection."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            _CausalConv(c_in, c_out, kernel_size, dilation),
            nn.GELU(),
            nn.Dropout(dropout),
            _CausalConv(c_out, c_out, kernel_size, dilation),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return self.net(x) + self.skip(x)


class MotionTCN(nn.Module):
    """History ``(B, history, in_features)`` -> forecast mean and log-std ``(B, horizon, 2)``."""

    def __init__(self, config: TCNConfig) -> None:
        super().__init__()
        self.config = config
        blocks: list[nn.Module] = []
        c_in = config.in_features
        for d in config.dilations:
            blocks.append(_Block(c_in, config.channels, config.kernel_size, d, config.dropout))
            c_in = config.channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(config.channels, config.horizon * 4)

    def forward(self, history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forecasts offsets in the heading frame of the last history step.

        Args:
            history: (B, history, in_features) features, oldest first.

        Returns:
            mean (B, horizon, 2) [m] and log_std (B, horizon, 2) [log m].
        """
        b = history.shape[0]
        h = self.blocks(history.transpose(1, 2))  # (B, C, T)
        out = self.head(h[:, :, -1]).view(b, self.config.horizon, 4)  # (B, H, 4)
        mean = out[..., :2]
        if self.config.ls_base:
            mean = mean + self.ls_forecast(history)
        log_std = self.config.min_log_std + nn.functional.softplus(
            out[..., 2:] - self.config.min_log_std
        )
        return mean, log_std

    def ls_forecast(self, history: torch.Tensor) -> torch.Tensor:
        """Constant-velocity forecast with the least-squares velocity of the valid history.

        Args:
            history: (B, H, F) features.

        Returns:
            (B, horizon, 2) [m] offsets from the last position (heading frame); zero motion
            where fewer than two steps are valid.
        """
        cfg = self.config
        pos = history[..., list(cfg.pos_channels)] * cfg.pos_scale  # (B, H, 2) [m]
        w = history[..., cfg.valid_channel]  # (B, H)
        steps = history.shape[1]
        t = torch.arange(steps, dtype=history.dtype, device=history.device) - (steps - 1)  # (H,)
        n = w.sum(1, keepdim=True).clamp(min=1.0)  # (B, 1)
        t_bar = (w * t).sum(1, keepdim=True) / n  # (B, 1)
        p_bar = (w[..., None] * pos).sum(1) / n  # (B, 2)
        dt = (t - t_bar) * w  # (B, H)
        den = (dt * (t - t_bar)).sum(1)  # (B,)
        num = (dt[..., None] * (pos - p_bar[:, None])).sum(1)  # (B, 2)
        vel = num / den.clamp(min=1e-6)[:, None]  # (B, 2) [m/step]
        k = torch.arange(1, cfg.horizon + 1, dtype=history.dtype, device=history.device)  # (T,)
        return vel[:, None, :] * k[None, :, None]  # (B, T, 2)


def gaussian_nll(mean: torch.Tensor, log_std: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``target`` under independent Gaussians per axis.

    Args:
        mean: (B, H, 2) [m].
        log_std: (B, H, 2) [log m].
        target: (B, H, 2) [m].

    Returns:
        Scalar loss [nats per coordinate].
    """
    z = (target - mean) * torch.exp(-log_std)  # (B, H, 2)
    return (0.5 * z**2 + log_std + 0.5 * math.log(2.0 * math.pi)).mean()


def save_checkpoint(path: Path, model: MotionTCN, meta: dict[str, Any]) -> None:
    """Writes weights, the embedded config and free-form metadata (e.g. metrics, data).

    Args:
        path: output ``.pt`` file; parent folders are created.
        model: trained network.
        meta: JSON-like metadata stored alongside (training data, epochs, metrics).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Half precision halves the shipped file; the forecasts change by < 1 mm.
    state = {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": dataclasses.asdict(model.config),
            "state_dict": state,
            "meta": meta,
        },
        path,
    )


def load_checkpoint(
    path: Path, expected: TCNConfig | None = None, device: str | torch.device = "cpu"
) -> tuple[MotionTCN, dict[str, Any]]:
    """Loads a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: ``.pt`` file.
        expected: if given, the config the caller was built for; any differing field raises.
        device: torch device for the model.

    Returns:
        The model in eval mode on ``device`` and the stored metadata.

    Raises:
        CheckpointError: unreadable file, foreign format, other version, or config mismatch
            (each names the file and the fields).
    """
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as err:
        raise CheckpointError(f"{path}: cannot read checkpoint ({err})") from err
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a {CHECKPOINT_FORMAT} checkpoint")
    if blob.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {blob.get('version')} but this code reads version "
            f"{CHECKPOINT_VERSION}; retrain with `drive train motion`"
        )
    raw = dict(blob["config"])
    known = {f.name for f in dataclasses.fields(TCNConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CheckpointError(f"{path}: config has unknown fields {unknown}")
    raw["dilations"] = tuple(raw["dilations"])
    raw["pos_channels"] = tuple(raw["pos_channels"])
    config = TCNConfig(**raw)
    if expected is not None and expected != config:
        diffs = [
            f"{name}: checkpoint {getattr(config, name)!r} != expected {getattr(expected, name)!r}"
            for name in sorted(known)
            if getattr(config, name) != getattr(expected, name)
        ]
        raise CheckpointError(f"{path}: config mismatch: " + "; ".join(diffs))
    model = MotionTCN(config)
    state = {k: v.float() for k, v in blob["state_dict"].items()}
    model.load_state_dict(state)
    return model.to(device).eval(), dict(blob.get("meta", {}))
