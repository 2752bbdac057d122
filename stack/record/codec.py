"""Messages to bytes and back, bit-exactly: JSON with arrays as base64 of their raw bytes.

The MCAP channels use message encoding ``json`` with a ``jsonschema`` schema per message type,
so Foxglove and the ``mcap`` CLI can open the files. Floats survive exactly (JSON carries the
shortest repr that round-trips); arrays carry dtype (with byte order), shape and their bytes;
torch tensors come back as torch tensors (on the CPU).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import typing
from typing import Any, get_args, get_origin

import numpy as np

from drivestack.msgs import MESSAGE_TYPES, Message

MESSAGE_ENCODING = "json"
SCHEMA_ENCODING = "jsonschema"
_ARRAY = "__array__"


class DecodeError(ValueError):
    """Bytes that do not decode into the named message type."""


def encode(msg: Message) -> bytes:
    """``msg`` as JSON bytes (see the module docstring)."""
    return json.dumps(_plain(msg), separators=(",", ":"), allow_nan=True).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _array(value, torch=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if type(value).__module__.startswith("torch"):
        return _array(value.detach().cpu().numpy(), torch=True)
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


def _array(a: np.ndarray, torch: bool) -> dict:
    a = np.ascontiguousarray(a)
    out = {_ARRAY: True, "dtype": a.dtype.str, "shape": list(a.shape),
           "data": base64.b64encode(a.tobytes()).decode()}
    if torch:
        out["torch"] = True
    return out


def decode(schema: str, data: bytes) -> Message:
    """The message of type ``schema`` (a name in ``drivestack.msgs.MESSAGE_TYPES``) in ``data``.

    Raises:
        DecodeError: unknown schema, invalid JSON, or fields that do not fit the type.
    """
    cls = MESSAGE_TYPES.get(schema)
    if cls is None:
        raise DecodeError(f"unknown message type {schema!r} (known: {sorted(MESSAGE_TYPES)})")
    try:
        plain = json.loads(data)
        return _build(cls, plain)
    except (ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"{schema}: {exc}") from exc


_HINTS: dict[type, dict[str, Any]] = {}  # resolved annotations per message class


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _build(cls: type, plain: dict) -> Any:
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in plain:
            kwargs[f.name] = _value(hints[f.name], plain[f.name])
    return cls(**kwargs)


def _value(tp: Any, v: Any) -> Any:
    if isinstance(v, dict) and v.get(_ARRAY):
        a = np.frombuffer(base64.b64decode(v["data"]), dtype=np.dtype(v["dtype"]))
        a = a.reshape(v["shape"])
        if v.get("torch"):
            import torch

            return torch.from_numpy(a.copy())
        return a
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(v)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, v)
    if get_origin(tp) is tuple and isinstance(v, list):
        args = get_args(tp)
        inner = args[0] if len(args) == 2 and args[1] is Ellipsis else Any
        return tuple(_value(inner, x) for x in v)
    return v


def json_schema(cls: type[Message]) -> bytes:
    """A JSON Schema of ``cls`` for MCAP viewers."""
    props: dict[str, Any] = {}
    hints = _hints(cls)
    specs = cls.array_specs()
    for f in dataclasses.fields(cls):
        if f.name in specs:
            spec = specs[f.name]
            props[f.name] = {
                "type": "object",
                "description": f"array {spec.shape} {spec.dtype}: {spec.doc}",
                "properties": {
                    "dtype": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "data": {"type": "string", "contentEncoding": "base64"},
                },
            }
        else:
            props[f.name] = {"type": _json_type(hints[f.name])}
    schema = {"title": cls.__name__, "type": "object", "properties": props}
    return json.dumps(schema).encode()


def _json_type(tp: Any) -> str:
    if tp is bool:
        return "boolean"
    if tp is int or (isinstance(tp, type) and issubclass(tp, enum.IntEnum)):
        return "integer"
    if tp is float:
        return "number"
    if tp is str:
        return "string"
    return "object"
