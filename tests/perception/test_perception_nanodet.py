"""NanoDet: the torch module with imported weights reproduces the original TF.js graph."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from drivestack.perception.camera_cnn import CameraCnnConfig, make_tiles, normalise
from drivestack.perception.nanodet import NanoDet, decode_level
from drivestack.perception.tfjs_import import TfjsImportError, load_nanodet, read_graph_model
from drivestack.perception.weights import WeightsError, nanodet_json

FIXTURE = Path(__file__).parent / "fixtures" / "nanodet_reference.npz"


@pytest.fixture(scope="module")
def weights_json() -> Path:
    try:
        return nanodet_json()
    except WeightsError as err:
        pytest.skip(f"NanoDet weights not fetched ({err}); run `drive fetch-weights` once")


def test_decode_level_recovers_distances_from_one_hot_bins() -> None:
    bins = 11
    reg = torch.full((1, 4, 4 * bins), -1e4)  # 2x2 cells
    dist = torch.tensor([[1, 2, 3, 4], [0, 0, 10, 10], [5, 5, 5, 5], [2, 0, 1, 3]])
    for cell in range(4):
        for side in range(4):
            reg[0, cell, side * bins + dist[cell, side]] = 0.0
    boxes = decode_level(reg, 2, 2, 8, centre_offset=0.5)[0]
    centres = torch.tensor([[4.0, 4.0], [12.0, 4.0], [4.0, 12.0], [12.0, 12.0]])
    expect = torch.cat([centres - dist[:, :2] * 8, centres + dist[:, 2:] * 8], dim=1)
    torch.testing.assert_close(boxes, expect.float())


def test_nanodet_graph_convs_cover_every_parameter_once() -> None:
    model = NanoDet()
    convs = model.graph_convs()
    assert len(convs) == 34
    ids = {id(p) for c in convs for p in c.parameters()}
    assert ids == {id(p) for p in model.parameters()}


def test_importer_rejects_truncated_weights(tmp_path: Path, weights_json: Path) -> None:
    (tmp_path / "nanodet.json").write_bytes(weights_json.read_bytes())
    (tmp_path / "nanodet.bin").write_bytes((weights_json.parent / "nanodet.bin").read_bytes()[:-10])
    with pytest.raises(TfjsImportError, match="nanodet.bin|group 0|needs bytes"):
        read_graph_model(tmp_path / "nanodet.json")


def test_weights_checksum_mismatch_is_reported(tmp_path: Path, weights_json: Path) -> None:
    folder = tmp_path / "human-models-3.0.4"
    folder.mkdir()
    for name in ("nanodet.json", "nanodet.bin", "LICENSE"):
        (folder / name).write_bytes((weights_json.parent / name).read_bytes())
    with (folder / "nanodet.bin").open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01")
    with pytest.raises(WeightsError, match="sha256"):
        nanodet_json(tmp_path)


@pytest.mark.data
def test_nanodet_torch_matches_tfjs_graph_on_kitti_tiles(
    data_root: Path, weights_json: Path
) -> None:
    """Reference: the TF.js graph run by @tensorflow/tfjs (CPU) on the same tiles."""
    ref = np.load(FIXTURE)
    model = load_nanodet(weights_json)
    cfg = CameraCnnConfig()
    keys = sorted({k.split("/")[0] for k in ref.files})
    assert len(keys) == 6
    for frame in sorted({k.split("_")[0] for k in keys}):
        image = cv2.imread(str(data_root / "kitti_object/image_2" / f"{frame}.png"))
        tiles, _ = make_tiles(image, cfg)
        frame_keys = [k for k in keys if k.startswith(frame)]
        idx = [int(k.split("_t")[1]) for k in frame_keys]
        with torch.no_grad():
            outputs = model(normalise(tiles[idx]))  # only the tiles the fixture holds
        for b, (key, t) in enumerate(zip(frame_keys, idx, strict=True)):
            assert hashlib.sha256(tiles[t].tobytes()).hexdigest() == str(ref[f"{key}/tile_sha256"])
            for level, (cls, reg) in enumerate(outputs):
                cls, reg = cls[b].numpy(), reg[b].numpy()
                cells = ref[f"{key}/l{level}/cells"]
                np.testing.assert_allclose(cls.max(axis=1), ref[f"{key}/l{level}/max"], atol=2e-4)
                confident = ref[f"{key}/l{level}/max"] > 0.3
                assert (
                    cls.argmax(axis=1)[confident] == ref[f"{key}/l{level}/argmax"][confident]
                ).all()
                np.testing.assert_allclose(cls[cells], ref[f"{key}/l{level}/cls"], atol=2e-4)
                np.testing.assert_allclose(
                    reg[cells], ref[f"{key}/l{level}/reg"], atol=2e-3, rtol=1e-3
                )
