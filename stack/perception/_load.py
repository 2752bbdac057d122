"""Typed access to a frame's stream: the message, narrowed to the class the stream carries."""

from __future__ import annotations

from typing import TypeVar

from drivestack.datasets.log import Frame
from drivestack.msgs.base import Message

M = TypeVar("M", bound=Message)


def load_as(frame: Frame, stream: str, cls: type[M]) -> M:
    """``frame.load(stream)``, checked to be a ``cls``.

    Raises:
        TypeError: naming the stream if its message is not a ``cls``.
    """
    msg = frame.load(stream)
    if not isinstance(msg, cls):
        raise TypeError(f"stream {stream!r}: expected {cls.__name__}, got {type(msg).__name__}")
    return msg
