"""Runs the motion TCN on batches of track histories and returns world-frame forecasts.

:class:`MotionForecaster` is the ``Forecaster`` the tracker and the tracker node call: numpy
histories in, numpy forecasts out, one batched forward pass per call (all tracks of a frame),
on CPU or CUDA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from drivestack.tracking.motion_features import history_features, to_world
from drivestack.tracking.tcn import MotionTCN, TCNConfig, load_checkpoint

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "motion_tcn.pt"


class MotionForecaster:
    """Batched TCN inference over track histories.

    Args:
        model: trained network (evaluation mode is set here).
        device: torch device to run on.
    """

    def __init__(self, model: MotionTCN, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config: TCNConfig = model.config

    @classmethod
    def from_checkpoint(
        cls, path: Path = DEFAULT_CHECKPOINT, device: str | torch.device = "cpu"
    ) -> MotionForecaster:
        """Loads the shipped (or given) checkpoint; see :func:`tcn.load_checkpoint` for errors."""
        model, _ = load_checkpoint(path, device=device)
        return cls(model, device)

    @property
    def horizons_s(self) -> np.ndarray:
        """(T,) [s] forecast times."""
        return np.asarray(self.config.horizons_s)

    def __call__(
        self,
        xy: np.ndarray,
        yaw: np.ndarray,
        size: np.ndarray,
        groups: np.ndarray,
        valid: np.ndarray,
        ego_xy: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Forecasts B objects.

        Args:
            xy: (B, H, 2) [m] world history, oldest first; H may exceed the model's history
                (the last ``config.history`` steps are used) but not fall short of it.
            yaw: (B, H) [rad].
            size: (B, 3) [m].
            groups: (B,) motion groups.
            valid: (B, H) bool.
            ego_xy: (B, 2) [m].

        Returns:
            positions (B, T, 2) [m] and std (B, T, 2) [m], world frame.
        """
        h = self.config.history
        if xy.shape[1] < h:
            raise ValueError(f"history of {xy.shape[1]} steps, the model needs {h}")
        b = len(xy)
        if b == 0:
            t = self.config.horizon
            return np.empty((0, t, 2)), np.empty((0, t, 2))
        feats, origin, heading = history_features(
            xy[:, -h:], yaw[:, -h:], size, groups, valid[:, -h:], ego_xy
        )
        with torch.no_grad():
            x = torch.from_numpy(feats).to(self.device)  # (B, H, F)
            mean, log_std = self.model(x)  # (B, T, 2) each
        return to_world(mean.cpu().numpy(), log_std.cpu().numpy(), origin, heading)
