"""Sensor files shared by the readers: float32 point ``.bin`` files and images."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from drivestack.datasets.errors import DataError
from drivestack.msgs import Image, PointCloud

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_points_bin(path: str | Path, columns: int) -> np.ndarray:
    """Reads a raw little-endian float32 point file (KITTI: 4 columns, nuScenes: 5).

    Returns:
        (N, columns) float32.

    Raises:
        FileNotFoundError: if absent.
        DataError: if the size is not a whole number of points (a truncated file), or a
            value is NaN/inf.
    """
    path = Path(path)
    size = path.stat().st_size  # [bytes]; np.fromfile would silently drop a partial float
    if size % (4 * columns):
        raise DataError(
            f"{path}: {size} bytes is not a whole number of {columns}-float32 points "
            f"({columns * 4} bytes each): truncated or not a point file"
        )
    points = np.fromfile(path, dtype="<f4").reshape(-1, columns)
    if not np.isfinite(points).all():
        row = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        raise DataError(f"{path}: point {row} holds NaN or inf")
    return points


def point_cloud(points: np.ndarray, stamp_ns: int, frame_id: str = "ego") -> PointCloud:
    """A :class:`PointCloud` from (N, >=4) points: x, y, z [m] and intensity."""
    return PointCloud(
        stamp_ns=stamp_ns, frame_id=frame_id, points=np.ascontiguousarray(points[:, :4])
    )


def read_image(path: str | Path, stamp_ns: int, frame_id: str) -> Image:
    """Reads a colour image as ``bgr8``.

    Raises:
        FileNotFoundError: if absent.
        DataError: if OpenCV cannot decode it (truncated or not an image).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image not found")
    import cv2  # OpenCV loads in ~0.1 s: only when an image is read

    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if data is None:
        raise DataError(f"{path}: cannot decode image (truncated or not an image)")
    return Image(stamp_ns=stamp_ns, frame_id=frame_id, data=data, encoding="bgr8")


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) [px] of a PNG from its header, or of any image by decoding it."""
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(24)
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise DataError(f"{path}: cannot decode image (truncated or not an image)")
    return int(data.shape[1]), int(data.shape[0])
