"""The message contract: frozen dataclasses with an integer stamp, a frame id and checked arrays.

Every message is a frozen dataclass deriving from :class:`Message`. Array fields are declared
with :func:`array_field`, which records shape (symbolic dimensions such as ``"N"`` must agree
across the fields of one message), dtype, unit and frame; :meth:`Message.validate` checks them.
Arrays may be numpy arrays or torch tensors (the batched simulator hands tensors through the
bus unchanged). Change a message with :func:`dataclasses.replace`, never in place.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class MessageError(ValueError):
    """A message that breaks its declared contract (shape, dtype, value range)."""


@dataclass(frozen=True)
class ArraySpec:
    """What an array field must look like.

    Attributes:
        shape: Dimensions; an ``int`` is fixed, a ``str`` is a symbol shared across fields.
        dtype: numpy dtype name (``"float32"``); torch tensors are compared by the same name.
        doc: Meaning, unit and frame, e.g. ``"[m] x, y, z in frame_id"``.
    """

    shape: tuple[int | str, ...]
    dtype: str
    doc: str = ""


def array_field(shape: tuple[int | str, ...], dtype: str, doc: str = "", **kwargs: Any) -> Any:
    """Declares an array field of a message (see :class:`ArraySpec`)."""
    return field(metadata={"array": ArraySpec(tuple(shape), dtype, doc)}, **kwargs)


def _dtype_name(value: Any) -> str:
    dtype = value.dtype
    name = getattr(dtype, "name", None)
    if name is not None:  # numpy
        return str(name)
    return str(dtype).removeprefix("torch.")  # torch.float32 -> float32


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")


@dataclass(frozen=True, kw_only=True)
class Message:
    """Base of every bus message.

    Attributes:
        stamp_ns: Time the data describes (sensor capture, or the stamp of the input a result
            was computed from), integer nanoseconds on the run's clock.
        frame_id: Coordinate frame of the spatial fields (``"world"``, ``"ego"``, ``"lidar"``,
            ``"camera_2"``, ...).
    """

    stamp_ns: int
    frame_id: str

    @classmethod
    def array_specs(cls) -> Mapping[str, ArraySpec]:
        """The declared array fields of this message type, by name (computed once)."""
        specs = cls.__dict__.get("_specs_cache")
        if specs is None:
            specs = {
                f.name: f.metadata["array"]
                for f in dataclasses.fields(cls)
                if "array" in f.metadata
            }
            setattr(cls, "_specs_cache", specs)  # noqa: B010 - a per-class cache, set once
        return specs

    def validate(self) -> None:
        """Checks stamp, frame and every array field against its spec, then :meth:`_check`.

        Raises:
            MessageError: naming the message type and the field at fault.
        """
        stamp, frame = self.stamp_ns, self.frame_id
        # Fast path for the common case; the slow path below says what is wrong.
        if type(stamp) is not int or type(frame) is not str or not frame:
            self._check_header()
        specs = type(self).__dict__.get("_specs_cache")
        if specs is None:
            specs = self.array_specs()
        if specs:
            self._check_arrays(specs)
        self._check()

    def _check_header(self) -> None:
        name = type(self).__name__
        stamp = self.stamp_ns
        if not isinstance(stamp, int | np.integer) or isinstance(stamp, bool):
            raise MessageError(f"{name}.stamp_ns: expected int nanoseconds, got {stamp!r}")
        if not isinstance(self.frame_id, str) or not self.frame_id:
            raise MessageError(f"{name}.frame_id: expected a non-empty str, got {self.frame_id!r}")

    def _check_arrays(self, specs: Mapping[str, ArraySpec]) -> None:
        name = type(self).__name__
        symbols: dict[str, tuple[int, str]] = {}
        for fname, spec in specs.items():
            value = getattr(self, fname)
            if not _is_array(value):
                raise MessageError(f"{name}.{fname}: expected an array, got {type(value).__name__}")
            if _dtype_name(value) != spec.dtype:
                raise MessageError(
                    f"{name}.{fname}: expected dtype {spec.dtype}, got {_dtype_name(value)}"
                )
            shape = tuple(value.shape)
            if len(shape) != len(spec.shape):
                raise MessageError(
                    f"{name}.{fname}: expected shape {_fmt(spec.shape)}, got {shape}"
                )
            for dim, want in zip(shape, spec.shape, strict=True):
                if isinstance(want, int):
                    if dim != want:
                        raise MessageError(
                            f"{name}.{fname}: expected shape {_fmt(spec.shape)}, got {shape}"
                        )
                elif want in symbols and symbols[want][0] != dim:
                    other_size, other_field = symbols[want]
                    raise MessageError(
                        f"{name}.{fname}: dimension {want}={dim} disagrees with "
                        f"{other_field} ({want}={other_size})"
                    )
                else:
                    symbols.setdefault(want, (dim, fname))

    def _check(self) -> None:
        """Extra per-type checks (value ranges); raise :class:`MessageError`."""


def _fmt(shape: tuple[int | str, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_finite(msg: Message, *fields: str) -> None:
    """Raises :class:`MessageError` if a named float field or array holds NaN or inf."""
    for fname in fields:
        value = getattr(msg, fname)
        if type(value) is float:
            ok = value - value == 0.0  # false for NaN and +-inf (inf - inf is NaN)
        elif _is_array(value):
            ok = bool(np.isfinite(np.asarray(value.cpu() if hasattr(value, "cpu") else value)).all())
        else:
            ok = math.isfinite(float(value))
        if not ok:
            raise MessageError(f"{type(msg).__name__}.{fname}: holds NaN or inf")
