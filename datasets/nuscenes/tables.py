"""Opening nuScenes metadata with nuscenes-devkit 1.2.0, and the missing-table work-around.

``NuScenes(version, dataroot)`` loads all 13 tables and indexes ``map.json``/``log.json``, so
an extract without some of them (the shared ``v1.0-extract`` lacks attribute, log, map and
visibility) fails inside the devkit with a bare ``FileNotFoundError``. :func:`open_nuscenes`
checks first and names the missing tables. The documented work-around, only on request
(``placeholders=True``): a temporary folder holding links to the present tables and
placeholders for the missing ones (``[]`` for attribute/visibility, one record per log token
of ``scene.json`` for log, one map record listing those logs). The devkit loads from there;
the folder is deleted as soon as it has loaded. Nothing is ever written into ``dataroot``.
The placeholders are synthetic: log metadata (vehicle, date, location), map masks,
visibility and attributes are then unavailable, and the readers here never use them.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from drivestack.datasets.errors import DataError

if TYPE_CHECKING:
    from nuscenes.nuscenes import NuScenes

TABLES = (
    "category",
    "attribute",
    "visibility",
    "instance",
    "sensor",
    "calibrated_sensor",
    "ego_pose",
    "log",
    "scene",
    "sample",
    "sample_data",
    "sample_annotation",
    "map",
)
# Tables a placeholder can stand in for: nothing this package reads comes from them.
REPLACEABLE = ("attribute", "visibility", "log", "map")
WORKAROUND = (
    "work-around: pass placeholders=True (CLI: --placeholders) to load through a temporary "
    "copy with placeholder attribute/visibility/log/map tables; the dataset folder is not touched"
)


def missing_tables(dataroot: str | Path, version: str) -> list[str]:
    """Names of the devkit's 13 tables absent from ``<dataroot>/<version>/``.

    Raises:
        FileNotFoundError: if the version folder itself is absent.
    """
    table_dir = Path(dataroot) / version
    if not table_dir.is_dir():
        raise FileNotFoundError(f"{table_dir}: nuScenes version folder not found")
    return [name for name in TABLES if not (table_dir / f"{name}.json").is_file()]


def find_versions(dataroot: str | Path) -> list[str]:
    """Version folders (``v1.0-*`` holding ``scene.json``) under a nuScenes root."""
    root = Path(dataroot)
    return sorted(p.name for p in root.glob("v*") if (p / "scene.json").is_file())


def write_placeholder_tables(dataroot: Path, version: str, target: Path) -> list[str]:
    """Fills ``target/<version>/`` with links to present tables and placeholders for missing.

    Returns:
        The tables that were replaced by placeholders.

    Raises:
        DataError: if a table that cannot be replaced is missing.
    """
    missing = missing_tables(dataroot, version)
    fatal = [name for name in missing if name not in REPLACEABLE]
    if fatal:
        raise DataError(
            f"{dataroot / version}: missing nuScenes table(s) {', '.join(fatal)}.json, "
            "which the readers need (no work-around)"
        )
    out = target / version
    out.mkdir(parents=True)
    for name in TABLES:
        if name not in missing:
            (out / f"{name}.json").symlink_to((dataroot / version / f"{name}.json").resolve())
    scene_path = dataroot / version / "scene.json"
    try:
        scenes = json.loads(scene_path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{scene_path}: not valid JSON ({err})") from None
    log_tokens = sorted({scene["log_token"] for scene in scenes})
    placeholders = {
        "attribute": [],
        "visibility": [],
        "log": [
            {"token": t, "logfile": "", "vehicle": "", "date_captured": "", "location": ""}
            for t in log_tokens
        ],
        "map": [
            {
                "token": "drivestack-placeholder-map",
                "log_tokens": log_tokens,
                "category": "semantic_prior",
                "filename": "",
            }
        ],
    }
    for name in missing:
        (out / f"{name}.json").write_text(json.dumps(placeholders[name]))
    return missing


def open_nuscenes(dataroot: str | Path, version: str, placeholders: bool = False) -> NuScenes:
    """Loads the metadata with the devkit (its progress output goes to stderr).

    Args:
        dataroot: The folder holding ``<version>/`` and ``samples/``, ``sweeps/``.
        version: ``"v1.0-mini"``, ``"v1.0-trainval"``, ``"v1.0-extract"``...
        placeholders: Allow the temporary-copy work-around for missing replaceable tables.

    Returns:
        The devkit object. Its ``dataroot`` may be a deleted temporary folder: build sensor
        file paths from the original ``dataroot`` (the readers here do).

    Raises:
        DataError: naming the missing tables and the work-around when ``placeholders`` is
            False, or tables that no placeholder can replace.
    """
    # Imported here: the devkit pulls in sklearn and matplotlib (~4 s), which the table
    # checks and `drive` start-up must not pay.
    from nuscenes.nuscenes import NuScenes

    dataroot = Path(dataroot)
    missing = missing_tables(dataroot, version)
    if missing and not placeholders:
        raise DataError(
            f"{dataroot / version}: missing nuScenes table(s) {', '.join(missing)}; the devkit "
            f"needs all 13. {WORKAROUND}"
        )
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        if not missing:
            nusc = NuScenes(version=version, dataroot=str(dataroot), verbose=False)
        else:
            temp = Path(tempfile.mkdtemp(prefix="drivestack-nuscenes-"))
            try:
                write_placeholder_tables(dataroot, version, temp)
                nusc = NuScenes(version=version, dataroot=str(temp), verbose=False)
            finally:
                shutil.rmtree(temp)
    sys.stderr.write(captured.getvalue())
    return nusc
