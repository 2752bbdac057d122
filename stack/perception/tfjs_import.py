"""Importer: a TensorFlow.js graph model (JSON topology + binary weights) -> NanoDet state dict.

A TF.js graph model is ``model.json`` (``modelTopology``: a TensorFlow GraphDef as JSON;
``weightsManifest``: groups of ``paths`` (binary shards, concatenated in order) and
``weights`` (name, shape, dtype, optional ``quantization``)) plus the shards. The values of
each weight follow one another in manifest order; a weight quantised to ``float16`` occupies
2 bytes per value and is widened to float32 (its ``original_dtype``).

:func:`nanodet_state_dict` walks the graph's ``Conv2D`` nodes in the order of their name
suffix (``convolution``, ``convolution_1``, ...), takes each kernel (HWIO) and the bias of the
``Add``/``AddV2`` that consumes the conv, checks stride and explicit padding against the torch
module and returns its state dict. Any mismatch raises :class:`TfjsImportError` naming the node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drivestack.perception.nanodet import NanoDet

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


class TfjsImportError(ValueError):
    """The TF.js files do not hold what the importer expects (names the file and node)."""


def read_graph_model(json_path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Reads a TF.js graph model.

    Args:
        json_path: the ``model.json``; its weight shards are looked up next to it.

    Returns:
        (nodes by name, from ``modelTopology.node``; weights by name as numpy arrays,
        dequantised to their original dtype).

    Raises:
        TfjsImportError: unknown dtype/quantisation, or shard sizes that do not add up.
    """
    try:
        model = json.loads(json_path.read_text())
        nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
        groups = model["weightsManifest"]
    except (KeyError, json.JSONDecodeError) as err:
        raise TfjsImportError(f"{json_path}: not a TF.js graph model ({err!r})") from err
    weights: dict[str, np.ndarray] = {}
    for g, group in enumerate(groups):
        blob = b"".join((json_path.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            name, shape = spec["name"], [int(s) for s in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant is None:
                if spec["dtype"] not in _DTYPES:
                    raise TfjsImportError(f"{json_path}: weight {name}: dtype {spec['dtype']}")
                stored = np.dtype(_DTYPES[spec["dtype"]])
            elif quant.get("dtype") in _QUANT:
                stored = np.dtype(_QUANT[quant["dtype"]])
            else:
                raise TfjsImportError(f"{json_path}: weight {name}: quantization {quant}")
            end = offset + count * stored.itemsize
            if end > len(blob):
                raise TfjsImportError(
                    f"{json_path}: weight {name} needs bytes up to {end}, group {g} has {len(blob)}"
                )
            value = np.frombuffer(blob, stored, count, offset).reshape(shape)
            if quant is not None and quant["dtype"] != "float16":  # affine uint8/uint16
                value = value.astype(np.float32) * quant["scale"] + quant["min"]
            weights[name] = value.astype(_DTYPES.get(spec["dtype"], np.float32))
            offset = end
        if offset != len(blob):
            raise TfjsImportError(
                f"{json_path}: group {g}: manifest covers {offset} bytes, shards hold {len(blob)}"
            )
    return nodes, weights


def _conv_index(name: str) -> int | None:
    m = re.fullmatch(r"(?:.*/)?convolution(?:_(\d+))?", name)
    return None if m is None else int(m.group(1) or 0)


def _strip(inp: str) -> str:
    return inp.split(":")[0].lstrip("^")


def nanodet_state_dict(json_path: Path, model: NanoDet | None = None) -> dict[str, torch.Tensor]:
    """Builds the state dict of :class:`NanoDet` from the TF.js NanoDet graph.

    Args:
        json_path: ``nanodet.json`` (with ``nanodet.bin`` beside it).
        model: the module whose state dict is filled (a fresh ``NanoDet()`` if None).

    Returns:
        State dict (float32 tensors) loadable with ``load_state_dict(strict=True)``.

    Raises:
        TfjsImportError: naming the graph node whose kernel, bias, stride or padding does
            not match the module.
    """
    model = model if model is not None else NanoDet()
    nodes, weights = read_graph_model(json_path)
    convs = sorted(
        (
            (idx, n)
            for n in nodes.values()
            if n["op"] == "Conv2D" and (idx := _conv_index(n["name"])) is not None
        ),
        key=lambda t: t[0],
    )
    targets = model.graph_convs()
    if [i for i, _ in convs] != list(range(len(targets))):
        raise TfjsImportError(
            f"{json_path}: graph has Conv2D nodes {[i for i, _ in convs]}, the module expects "
            f"convolution .. convolution_{len(targets) - 1}"
        )
    consumers: dict[str, list[dict[str, Any]]] = {}
    for n in nodes.values():
        for inp in n.get("input", []):
            consumers.setdefault(_strip(inp), []).append(n)
    state: dict[str, torch.Tensor] = {}
    names = {id(m): k for k, m in model.named_modules()}
    for (_, node), conv in zip(convs, targets, strict=True):
        where = f"{json_path}: node {node['name']}"
        kernel = weights.get(_strip(node["input"][1]))
        if kernel is None:
            raise TfjsImportError(f"{where}: kernel {node['input'][1]} is not a stored weight")
        want = tuple(conv.weight.shape)  # (O, I, kh, kw)
        got = (kernel.shape[3], kernel.shape[2], kernel.shape[0], kernel.shape[1])
        if got != want:
            raise TfjsImportError(f"{where}: kernel HWIO {kernel.shape}, module wants OIHW {want}")
        strides = [int(s) for s in node["attr"]["strides"]["list"]["i"]]
        if strides[1:3] != list(conv.stride):
            raise TfjsImportError(f"{where}: strides {strides}, module has {conv.stride}")
        _check_padding(nodes, weights, node, conv.padding, where)
        adds = [
            c for c in consumers.get(node["name"], []) if c["op"] in ("Add", "AddV2", "BiasAdd")
        ]
        if len(adds) != 1:
            raise TfjsImportError(f"{where}: expected one bias Add after the conv, got {len(adds)}")
        bias_name = [_strip(i) for i in adds[0]["input"] if _strip(i) != node["name"]][0]
        bias = weights.get(bias_name)
        if bias is None or bias.shape != (want[0],):
            raise TfjsImportError(
                f"{where}: bias {bias_name} shape "
                f"{None if bias is None else bias.shape}, want ({want[0]},)"
            )
        prefix = names[id(conv)]
        state[f"{prefix}.weight"] = torch.from_numpy(
            np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32)
        )
        state[f"{prefix}.bias"] = torch.from_numpy(bias.astype(np.float32))
    missing = set(model.state_dict()) - set(state)
    if missing:
        raise TfjsImportError(f"{json_path}: no graph weights for {sorted(missing)}")
    return state


def _check_padding(
    nodes: Mapping[str, Any],
    weights: Mapping[str, np.ndarray],
    conv: Mapping[str, Any],
    padding: Any,
    where: str,
) -> None:
    """The graph pads explicitly (Pad NCHW, Transpose to NHWC, VALID conv); compare amounts."""
    if conv["attr"]["padding"]["s"] != "VkFMSUQ=":  # base64 of b"VALID"
        raise TfjsImportError(f"{where}: only VALID convs after explicit Pad are supported")
    src = nodes[_strip(conv["input"][0])]
    if src["op"] == "Transpose":
        src = nodes[_strip(src["input"][0])]
    pad: tuple[int, ...] = (0, 0)
    if src["op"] in ("Pad", "PadV2"):
        amounts = weights.get(_strip(src["input"][1]))  # (4, 2) NCHW before/after
        if amounts is None or amounts.shape != (4, 2):
            raise TfjsImportError(f"{where}: paddings of {src['name']} unreadable")
        if (amounts[:2] != 0).any() or (amounts[2:, 0] != amounts[2:, 1]).any():
            raise TfjsImportError(f"{where}: asymmetric or batch/channel padding {amounts}")
        pad = (int(amounts[2, 0]), int(amounts[3, 0]))
    if pad != tuple(padding):
        raise TfjsImportError(f"{where}: graph pads {pad}, module pads {tuple(padding)}")


def load_nanodet(json_path: Path, device: str | torch.device = "cpu") -> NanoDet:
    """A :class:`NanoDet` in eval mode with the imported weights, on ``device``."""
    model = NanoDet()
    model.load_state_dict(nanodet_state_dict(json_path, model), strict=True)
    return model.eval().to(device)
