"""Compare two recordings message by message: the regression check of log replay.

Same log, same launch file, same seed must give the same recording. ``diff_recordings``
pairs the n-th message of each topic in A with the n-th of the same topic in B and reports
the earliest (by log time) pair that differs, naming topic, stamp and field; a topic present
in one recording only, or a different message count, is a divergence too.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivestack.record.mcap_io import RecordedMessage, Recording


@dataclass(frozen=True)
class Divergence:
    """The first difference between two recordings.

    Attributes:
        topic: Where it is.
        index: Which message of the topic (0-based).
        log_time_ns: [ns] log time of the message in A (or B where A has none).
        stamp_ns: ``stamp_ns`` of that message, if it decodes.
        field: Dotted path of the differing field (``boxes[3, 2]``), or ``""`` for a missing
            message or topic.
        a, b: Short descriptions of the two values.
    """

    topic: str
    index: int
    log_time_ns: int
    stamp_ns: int | None
    field: str
    a: str
    b: str

    def describe(self) -> str:
        where = f"topic {self.topic!r}, message {self.index}"
        if self.stamp_ns is not None:
            where += f" (stamp {self.stamp_ns} ns = {self.stamp_ns / 1e9:.3f} s)"
        what = f"field {self.field}: " if self.field else ""
        return f"first divergence: {where}: {what}A={self.a} B={self.b}"


@dataclass(frozen=True)
class DiffResult:
    divergence: Divergence | None
    compared: int  # message pairs compared
    notes: tuple[str, ...] = ()  # truncation warnings

    @property
    def identical(self) -> bool:
        return self.divergence is None


def diff_recordings(a: str | Path, b: str | Path, topics: Iterable[str] | None = None) -> DiffResult:
    """Compares recordings ``a`` and ``b`` (optionally only ``topics``)."""
    ra, rb = Recording(a), Recording(b)
    by_topic_a = _group(ra.messages(topics))
    by_topic_b = _group(rb.messages(topics))
    notes = tuple(ra.notes + rb.notes)
    found: list[Divergence] = []
    compared = 0
    for topic in sorted(by_topic_a.keys() | by_topic_b.keys()):
        ma, mb = by_topic_a.get(topic, []), by_topic_b.get(topic, [])
        for i in range(max(len(ma), len(mb))):
            if i >= len(ma) or i >= len(mb):
                present = ma[i] if i < len(ma) else mb[i]
                found.append(Divergence(
                    topic, i, present.log_time_ns, _stamp(present), "",
                    "present" if i < len(ma) else f"absent ({len(ma)} messages)",
                    "present" if i < len(mb) else f"absent ({len(mb)} messages)",
                ))
                break
            compared += 1
            x, y = ma[i], mb[i]
            if x.data == y.data and x.schema == y.schema and x.log_time_ns == y.log_time_ns:
                continue
            found.append(_first_difference(topic, i, x, y))
            break
    first = min(found, key=lambda d: (d.log_time_ns, d.topic), default=None)
    return DiffResult(first, compared, notes)


def _group(messages: Iterable[RecordedMessage]) -> dict[str, list[RecordedMessage]]:
    out: dict[str, list[RecordedMessage]] = defaultdict(list)
    for m in messages:
        out[m.topic].append(m)
    return out


def _stamp(m: RecordedMessage) -> int | None:
    try:
        return m.decode().stamp_ns
    except ValueError:
        return None


def _first_difference(topic: str, i: int, x: RecordedMessage, y: RecordedMessage) -> Divergence:
    if x.schema != y.schema:
        return Divergence(topic, i, x.log_time_ns, _stamp(x), "(type)", x.schema, y.schema)
    ma, mb = x.decode(), y.decode()
    path, va, vb = _compare(ma, mb, "") or ("(log_time)", str(x.log_time_ns), str(y.log_time_ns))
    return Divergence(topic, i, x.log_time_ns, ma.stamp_ns, path, va, vb)


def _compare(a: Any, b: Any, path: str) -> tuple[str, str, str] | None:
    """The first differing leaf as (path, a, b), or ``None`` if bit-identical."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            sub = f"{path}.{f.name}" if path else f.name
            d = _compare(getattr(a, f.name), getattr(b, f.name), sub)
            if d:
                return d
        return None
    if hasattr(a, "shape") and hasattr(a, "dtype"):
        a_np, b_np = np.asarray(a), np.asarray(b)
        if a_np.dtype != b_np.dtype or a_np.shape != b_np.shape:
            return path, f"{a_np.dtype}{list(a_np.shape)}", f"{b_np.dtype}{list(b_np.shape)}"
        # Bitwise: NaN equals NaN, -0.0 differs from 0.0, as a replay must reproduce them.
        neq = a_np.view(np.uint8).reshape(a_np.shape + (-1,)) != b_np.view(np.uint8).reshape(b_np.shape + (-1,))
        if neq.any():
            idx = np.argwhere(neq.any(axis=-1))[0]
            at = ", ".join(str(int(k)) for k in idx)
            return f"{path}[{at}]", repr(a_np[tuple(idx)].item()), repr(b_np[tuple(idx)].item())
        return None
    if isinstance(a, float) and isinstance(b, float):
        same = (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
        return None if same else (path, repr(a), repr(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        for k, (u, v) in enumerate(zip(a, b, strict=True)):
            d = _compare(u, v, f"{path}[{k}]")
            if d:
                return d
        return None
    return None if (type(a) is type(b) and a == b) else (path, repr(a), repr(b))
