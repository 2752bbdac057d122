"""Camera CNN checkpoints (``drive train camera-det``) and the one loader of camera weights.

A checkpoint is a ``torch.save`` dict::

    {"format": "drivestack.camera-det", "version": 1,
     "config": CameraModelConfig fields, "train": training settings and data,
     "state_dict": NanoDet state, "loss": [per-step loss]}

:func:`load_camera_model` is what the camera node, ``drive detect`` and ``drive train
camera-det --init`` call: no path -> the pretrained COCO weights (``drive fetch-weights``),
a folder -> the pretrained files in that folder, a file -> a checkpoint. A checkpoint that
does not fit (another format or version, another architecture, input size or cell-centre
convention than the detector runs with, missing or mis-shaped tensors) raises
:class:`CheckpointError` naming the file and the mismatch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from drivestack.perception.nanodet import NUM_CLASSES, REG_BINS, NanoDet

FORMAT = "drivestack.camera-det"
VERSION = 1


class CheckpointError(ValueError):
    """A camera checkpoint that cannot be loaded; the message names the file and field."""


@dataclass(frozen=True)
class CameraModelConfig:
    """What a camera checkpoint must agree on with the detector that loads it."""

    arch: str = "nanodet-t"  # network (nanodet.NanoDet)
    num_classes: int = NUM_CLASSES  # head channels (COCO-80 kept, see camera_data)
    reg_bins: int = REG_BINS  # distance bins per side
    input_size: int = 416  # [px] network input side it was trained at
    centre_offset: float = 0.5  # [cells] GFL cell centre used in training


def save_checkpoint(
    path: Path,
    model: NanoDet,
    config: CameraModelConfig,
    train: dict[str, Any],
    loss: list[float],
) -> None:
    """Writes a versioned checkpoint with its config embedded.

    Args:
        path: output file (parents created).
        model: the trained network.
        config: its model config.
        train: training settings and data description (JSON-like values).
        loss: total loss per step.
    """
    if model.num_classes != config.num_classes or model.reg_bins != config.reg_bins:
        raise ValueError(
            f"save_checkpoint: model has {model.num_classes} classes / {model.reg_bins} bins, "
            f"config {config.num_classes} / {config.reg_bins}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": FORMAT,
            "version": VERSION,
            "config": dataclasses.asdict(config),
            "train": train,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "loss": loss,
        },
        path,
    )


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict, with format and version checked.

    Raises:
        CheckpointError: not a torch file, not a camera-det checkpoint, or another version.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as err:  # torch reports bad files as RuntimeError
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({err})") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path}: format {got!r}, expected {FORMAT!r} (a `drive train camera-det` checkpoint;"
            " LiDAR checkpoints do not load here)"
        )
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{path}: version {ckpt.get('version')!r}, this code reads {VERSION}")
    return ckpt


def load_checkpoint(
    path: Path,
    device: str | torch.device = "cpu",
    expect: CameraModelConfig | None = None,
) -> NanoDet:
    """Rebuilds the network of a checkpoint.

    Args:
        path: checkpoint file.
        device: torch device of the model.
        expect: the config the caller runs with; None = :class:`CameraModelConfig` defaults.

    Raises:
        CheckpointError: format, version, a config field or the state dict does not match.
    """
    ckpt = read_checkpoint(path)
    expect = expect or CameraModelConfig()
    stored = ckpt.get("config")
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: no 'config' dict")
    fields = {f.name for f in dataclasses.fields(CameraModelConfig)}
    unknown = sorted(set(stored) - fields)
    missing = sorted(fields - set(stored))
    if unknown or missing:
        raise CheckpointError(f"{path}: config fields unknown {unknown}, missing {missing}")
    for name in sorted(fields):
        want = getattr(expect, name)
        if stored[name] != want:
            raise CheckpointError(
                f"{path}: config {name} = {stored[name]!r}, the detector runs with {want!r}"
            )
    model = NanoDet(expect.num_classes, expect.reg_bins)
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: no 'state_dict'")
    own = model.state_dict()
    absent = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if absent or extra:
        raise CheckpointError(f"{path}: state_dict lacks {absent[:3]}, has unknown {extra[:3]}")
    for key, value in own.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{path}: state_dict[{key!r}] has shape {tuple(state[key].shape)}, "
                f"expected {tuple(value.shape)}"
            )
    model.load_state_dict(state)
    return model.to(device).eval()


def load_camera_model(
    weights: str | Path | None,
    device: str | torch.device = "cpu",
    expect: CameraModelConfig | None = None,
) -> NanoDet:
    """The camera network: pretrained (None, "" or a weights folder) or a checkpoint file.

    Raises:
        WeightsError: pretrained files missing or corrupt. CheckpointError: bad checkpoint.
        FileNotFoundError: ``weights`` names nothing.
    """
    from drivestack.perception.tfjs_import import load_nanodet
    from drivestack.perception.weights import nanodet_json

    if weights is None or str(weights) == "":
        return load_nanodet(nanodet_json(), device).eval()
    path = Path(weights)
    if path.is_dir():
        return load_nanodet(nanodet_json(path), device).eval()
    if path.is_file():
        return load_checkpoint(path, device, expect)
    raise FileNotFoundError(f"{path}: no such camera weights folder or checkpoint file")
