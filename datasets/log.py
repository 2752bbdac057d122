"""The ``Log`` contract: a time-ordered sequence of frames that replay and sim consume.

A :class:`Log` is a list of :class:`Frame` objects ordered by ``stamp_ns``. A frame holds
lazy loaders, one per stream it has; :meth:`Frame.load` reads a stream on first use and caches
it in that ``Frame`` object (``log[i]`` builds a fresh frame each call, so iterating a long log
does not pile scans up in memory). :meth:`Log.iter_messages` streams frames with a background
read-ahead thread so that replay is not I/O-bound.

Stream names and message types (every reader uses these and states which it has):

* ``"ego"``: :class:`EgoState`, ``frame_id="world"``.
* ``"lidar"``: :class:`PointCloud` in ``"ego"``.
* ``"camera_<name>"``: :class:`Image`; ``"calib_<name>"``: :class:`CameraCalibration`.
* ``"annotations"``: :class:`TrackedObjects` in ``"ego"`` (datasets with track ids).
* ``"detections"``: :class:`Detections3D` in ``"ego"``; ``"detections_2d"``: :class:`Detections2D`.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from drivestack.datasets.errors import DataError
from drivestack.msgs import Message

Loader = Callable[[], Message]
OnError = Literal["strict", "lenient"]
_LOG = logging.getLogger(__name__)
_POLL_S = 0.1  # [s] how often a blocked read-ahead thread checks whether to stop


class Frame:
    """One instant of a log: a stamp and lazily loaded messages by stream name.

    Attributes:
        index: Position in the log, 0-based.
        stamp_ns: [ns] time of the frame on the log's clock.
    """

    def __init__(self, index: int, stamp_ns: int, loaders: Mapping[str, Loader], log_name: str = ""):
        self.index = int(index)
        self.stamp_ns = int(stamp_ns)
        self._loaders = dict(loaders)
        self._log_name = log_name
        self._cache: dict[str, Message] = {}
        self._lock = threading.Lock()

    def streams(self) -> tuple[str, ...]:
        """Names of the streams this frame has (a subset of the log's)."""
        return tuple(self._loaders)

    def load(self, stream: str) -> Message:
        """The message of ``stream`` (read on first call, then cached).

        Raises:
            KeyError: naming the stream and the frame if this frame has no such stream.
            DataError / OSError: from the reader, naming the file at fault.
        """
        loader = self._loaders.get(stream)
        if loader is None:
            raise KeyError(
                f"log {self._log_name!r} frame {self.index}: no stream {stream!r} "
                f"(has: {', '.join(self._loaders) or 'none'})"
            )
        with self._lock:
            if stream not in self._cache:
                self._cache[stream] = loader()
            return self._cache[stream]

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, stamp_ns={self.stamp_ns}, streams={self.streams()})"


@dataclass(frozen=True)
class SkippedFrame:
    """A frame left out by lenient reading, and why."""

    index: int
    stamp_ns: int
    error: str


class Log(ABC):
    """A time-ordered sequence of frames from one recording.

    Attributes:
        name: Identifies the recording (``"kitti_tracking/0000"``, ``"scene-0916"``).
    """

    name: str

    @abstractmethod
    def streams(self) -> Mapping[str, type[Message]]:
        """The streams present in this log (in at least one frame), with their message types."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of frames."""

    @abstractmethod
    def __getitem__(self, index: int) -> Frame:
        """Frame ``index`` (negative counts from the end); raises IndexError out of range."""

    def __iter__(self) -> Iterator[Frame]:
        for index in range(len(self)):
            yield self[index]

    def iter_messages(
        self,
        streams: Sequence[str] | None = None,
        read_ahead: int = 8,
        *,
        on_error: OnError = "strict",
        skipped: list[SkippedFrame] | None = None,
    ) -> Iterator[tuple[Frame, dict[str, Message]]]:
        """Yields ``(frame, {stream: message})`` in time order, loading ahead in a thread.

        Each dict holds the requested streams that the frame has. Errors in the loading
        thread are re-raised in the caller, at the frame where they happened.

        Args:
            streams: Streams to load; ``None`` loads every stream of each frame.
            read_ahead: Frames loaded ahead of the consumer (0: load in the caller's thread).
            on_error: ``"strict"`` raises on the first bad frame; ``"lenient"`` skips frames
                whose files are bad (:class:`DataError`, ``OSError``), logs a warning for
                each and records it in ``skipped``.
            skipped: Where lenient reading appends a :class:`SkippedFrame` per skipped frame.

        Raises:
            KeyError: if a requested stream is not in :meth:`streams`.
        """
        if on_error not in ("strict", "lenient"):
            raise ValueError(f"on_error must be 'strict' or 'lenient', got {on_error!r}")
        if streams is not None:
            available = self.streams()
            unknown = [s for s in streams if s not in available]
            if unknown:
                raise KeyError(
                    f"log {self.name!r}: no stream(s) {unknown} (has: {', '.join(available)})"
                )
        # Checked above, before the generator starts: bad arguments fail at the call.
        load = _FrameLoader(self, streams, on_error, skipped)
        if read_ahead <= 0:
            return _in_caller(load, len(self))
        return _read_ahead(load, len(self), read_ahead)


class _FrameLoader:
    """Loads one frame's requested messages, applying the error policy."""

    def __init__(
        self,
        log: Log,
        streams: Sequence[str] | None,
        on_error: OnError,
        skipped: list[SkippedFrame] | None,
    ):
        self.log, self.streams, self.on_error, self.skipped = log, streams, on_error, skipped

    def __call__(self, index: int) -> tuple[Frame, dict[str, Message]] | None:
        frame = self.log[index]
        names = frame.streams() if self.streams is None else self.streams
        try:
            return frame, {s: frame.load(s) for s in names if s in frame.streams()}
        except (DataError, OSError) as err:
            if self.on_error == "strict":
                raise
            _LOG.warning("log %s: skipping frame %d: %s", self.log.name, index, err)
            if self.skipped is not None:
                self.skipped.append(SkippedFrame(index, frame.stamp_ns, str(err)))
            return None


def _in_caller(
    load: Callable[[int], tuple[Frame, dict[str, Message]] | None], count: int
) -> Iterator[tuple[Frame, dict[str, Message]]]:
    for index in range(count):
        item = load(index)
        if item is not None:
            yield item


_END = object()


def _read_ahead(
    load: Callable[[int], tuple[Frame, dict[str, Message]] | None], count: int, depth: int
) -> Iterator[tuple[Frame, dict[str, Message]]]:
    """Runs ``load(0..count-1)`` in a thread, ``depth`` results ahead of the consumer."""
    results: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for index in range(count):
                if stop.is_set():
                    return
                item = load(index)
                if item is not None and not put(item):
                    return
            put(_END)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer and re-raised there
            put(_Failure(err))

    thread = threading.Thread(target=work, name="log-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = results.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class _Failure:
    error: BaseException


def check_index(index: int, length: int, name: str) -> int:
    """Normalises a possibly negative frame index; raises IndexError naming the log."""
    if not -length <= index < length:
        raise IndexError(f"log {name!r}: frame {index} out of range (0..{length - 1})")
    return index % length


def check_time_order(stamps_ns: Sequence[int], source: str) -> None:
    """Raises :class:`DataError` naming ``source`` if stamps are not strictly increasing."""
    for i in range(1, len(stamps_ns)):
        if stamps_ns[i] <= stamps_ns[i - 1]:
            raise DataError(
                f"{source}: stamps not increasing at frame {i} "
                f"({stamps_ns[i - 1]} ns then {stamps_ns[i]} ns)"
            )
