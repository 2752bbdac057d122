"""Recording to and reading from MCAP files.

Writing: chunked (zstd); the file is flushed after every message, so each finished chunk is
handed to the operating system at once (a flush with nothing buffered costs nothing).
A run stopped by SIGINT closes the file properly; a crash (or ``kill -9``) leaves a file
without its summary that :class:`Recording` still reads up to the last complete chunk, and
says so. A chunk that does not decompress or fails its CRC (a corrupted file) is skipped with
a warning naming its byte offset; reading resumes at the next chunk, found through the chunk
indexes of the summary section where the chunk framing itself is damaged.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import zstandard
from mcap.exceptions import McapError
from mcap.records import Channel, Chunk, ChunkIndex, Schema
from mcap.records import Message as McapMessage
from mcap.stream_reader import StreamReader, breakup_chunk
from mcap.writer import CompressionType, Writer

from drivestack import __version__
from drivestack.bus.bus import Bus, Subscription
from drivestack.msgs import Message
from drivestack.record.codec import MESSAGE_ENCODING, SCHEMA_ENCODING, decode, encode, json_schema

PROFILE = "drivestack"
MCAP_MAGIC = b"\x89MCAP0\r\n"


class RecordingError(ValueError):
    """A recording that cannot be read as one: the message names the file and byte offset."""


class RecordingWarning(UserWarning):
    """Part of a recording was skipped (a corrupted chunk); the message names the byte offset."""


class NotMcapError(RecordingError):
    """A file given as a recording that is not MCAP at all (not merely cut short)."""


_READ_ERRORS = (McapError, struct.error, EOFError, ValueError, OverflowError)  # Overflow: a huge length field
# zstandard raises ZstdError, lz4 raises RuntimeError on a damaged frame.
_CHUNK_ERRORS = (*_READ_ERRORS, zstandard.ZstdError, RuntimeError)
_FOOTER_SIZE = 1 + 8 + 8 + 8 + 4  # opcode, length, summary start, summary offset start, crc


class _Bounded:
    """A file whose reads never ask for more than what is left (a damaged length field in a
    record could otherwise make one read allocate gigabytes)."""

    def __init__(self, f: IO[bytes], size: int):
        self._f, self._size = f, size

    def read(self, n: int = -1) -> bytes:
        left = max(0, self._size - self._f.tell())
        return self._f.read(left if n < 0 else min(n, left))


class Recorder:
    """Writes messages to an MCAP file.

    Args:
        path: Output file (parent folders are created).
        chunk_size: [bytes] chunk size: what a crash can lose at most.
        compression: ``"zstd"``, ``"lz4"`` or ``"none"``.
    """

    def __init__(self, path: str | Path, chunk_size: int = 256 * 1024, compression: str = "zstd"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        comp = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}
        self._writer = Writer(self._file, chunk_size=chunk_size, compression=comp[compression])
        self._writer.start(profile=PROFILE, library=f"drivestack {__version__}")
        self._schemas: dict[type, int] = {}
        self._channels: dict[str, int] = {}
        self.count = 0
        self._closed = False

    def add_topic(self, topic: str, msg_type: type[Message]) -> int:
        """Declares ``topic`` (done on first write otherwise); returns its channel id."""
        channel = self._channels.get(topic)
        if channel is None:
            schema = self._schemas.get(msg_type)
            if schema is None:
                schema = self._writer.register_schema(
                    msg_type.__name__, SCHEMA_ENCODING, json_schema(msg_type)
                )
                self._schemas[msg_type] = schema
            channel = self._writer.register_channel(topic, MESSAGE_ENCODING, schema)
            self._channels[topic] = channel
        return channel

    def write(self, topic: str, msg: Message, log_time_ns: int) -> None:
        """Appends ``msg`` on ``topic`` at ``log_time_ns`` (the run clock when published)."""
        channel = self._channels.get(topic) or self.add_topic(topic, type(msg))
        self._writer.add_message(
            channel, log_time=log_time_ns, data=encode(msg), publish_time=msg.stamp_ns,
            sequence=self.count & 0xFFFFFFFF,
        )
        self._file.flush()
        self.count += 1

    def attach(self, bus: Bus, topics: Iterable[str] | None = None) -> None:
        """Records ``topics`` of ``bus`` (all declared topics if ``None``) as they are published."""
        for name in topics if topics is not None else sorted(bus.topics):
            topic = bus.topics[name]
            self.add_topic(name, topic.type)

            def on_message(sub: Subscription, name: str = name) -> None:
                self.write(name, sub.buf.pop(), sub.topic.last_ns)

            bus.subscribe(name, depth=1, notify=on_message)

    def close(self) -> None:
        """Writes the summary and closes the file (idempotent)."""
        if not self._closed:
            self._closed = True
            self._writer.finish()
            self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass(frozen=True)
class RecordedMessage:
    """One message of a recording, decoded on demand."""

    topic: str
    schema: str
    log_time_ns: int
    data: bytes

    def decode(self) -> Message:
        return decode(self.schema, self.data)


class Recording:
    """Reads an MCAP file written by :class:`Recorder` (or any JSON-encoded drivestack file).

    Messages come in file order, which is publish order for drivestack recordings. A file cut
    short (crash, full disk) is read up to its last complete chunk; ``truncated`` then says
    where it stopped.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such recording")
        with open(self.path, "rb") as f:
            head = f.read(len(MCAP_MAGIC))
        if head != MCAP_MAGIC:
            raise NotMcapError(f"{self.path}: not an MCAP file (starts with {head!r})")
        self.truncated: str | None = None
        self.skipped: list[str] = []  # one note per corrupted chunk skipped, with its offset

    @property
    def notes(self) -> list[str]:
        """Everything the last read lost: skipped chunks, then the early end if any."""
        return self.skipped + ([self.truncated] if self.truncated else [])

    def messages(
        self,
        topics: Iterable[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> Iterator[RecordedMessage]:
        """Messages on ``topics`` (all if ``None``) with log time in [start_ns, end_ns]."""
        wanted = None if topics is None else set(topics)
        for m in self._read():
            if isinstance(m, RecordedMessage) and (wanted is None or m.topic in wanted) and (
                start_ns is None or m.log_time_ns >= start_ns) and (
                end_ns is None or m.log_time_ns <= end_ns):
                yield m

    def topics(self) -> dict[str, str]:
        """Topic -> message type name, from the channel records (read through the file)."""
        return {c[0]: c[1] for c in self._read() if isinstance(c, tuple)}

    def _summary(self, f: IO[bytes], size: int) -> tuple[list[int], list[Schema | Channel]]:
        """Chunk start offsets and schema/channel records from the summary section of the
        ``size``-byte file ``f``, if intact."""
        starts: list[int] = []
        records: list[Schema | Channel] = []
        if size < len(MCAP_MAGIC) * 2 + _FOOTER_SIZE:
            return starts, records
        f.seek(size - len(MCAP_MAGIC) - _FOOTER_SIZE)
        footer = f.read(_FOOTER_SIZE + len(MCAP_MAGIC))
        if footer[0] != 0x02 or footer[-len(MCAP_MAGIC):] != MCAP_MAGIC:
            return starts, records
        (summary_start,) = struct.unpack_from("<Q", footer, 9)
        if not len(MCAP_MAGIC) <= summary_start < size:
            return starts, records
        f.seek(summary_start)
        try:
            for record in StreamReader(cast(IO[bytes], _Bounded(f, size)), skip_magic=True, record_size_limit=size).records:
                if isinstance(record, ChunkIndex):
                    starts.append(record.chunk_start_offset)
                elif isinstance(record, Schema | Channel):
                    records.append(record)
        except _READ_ERRORS:
            pass  # a damaged summary: what was read before the damage is still right
        # A damaged index can point anywhere: only offsets inside the file are resumable.
        return sorted(c for c in starts if len(MCAP_MAGIC) <= c < size), records

    def _read(self) -> Iterator[RecordedMessage | tuple[str, str]]:
        """Channels as ``(topic, type name)`` where declared, and messages, in file order.

        A corrupted chunk is skipped (``skipped`` says where); a file cut inside a record ends
        the iteration there and sets ``truncated``. A channel whose schema the file does not
        define raises :class:`RecordingError`.
        """
        schemas: dict[int, str] = {}
        channels: dict[int, tuple[str, str]] = {}
        self.truncated = None
        self.skipped = []
        count = 0

        def take(record: object, offset: int) -> Iterator[RecordedMessage | tuple[str, str]]:
            nonlocal count
            if isinstance(record, Schema):
                schemas[record.id] = record.name
            elif isinstance(record, Channel):
                if record.schema_id != 0 and record.schema_id not in schemas:
                    raise RecordingError(
                        f"{self.path}: byte {offset}: channel {record.topic!r} refers to schema "
                        f"id {record.schema_id}, which the file does not define"
                    )
                channel = (record.topic, schemas.get(record.schema_id, ""))
                if record.id not in channels:
                    yield channel
                channels[record.id] = channel
            elif isinstance(record, McapMessage):
                if record.channel_id not in channels:
                    raise RecordingError(
                        f"{self.path}: byte {offset}: message on channel id {record.channel_id}, "
                        "which the file does not define"
                    )
                topic, schema = channels[record.channel_id]
                count += 1
                yield RecordedMessage(topic, schema, record.log_time, record.data)

        with open(self.path, "rb") as f:
            size = self.path.stat().st_size  # no record is longer than the file
            chunk_starts, summary_records = self._summary(f, size)
            for summary_record in summary_records:
                yield from take(summary_record, -1)
            f.seek(0)
            reader = StreamReader(cast(IO[bytes], _Bounded(f, size)), skip_magic=False, emit_chunks=True, record_size_limit=size)
            start = 0
            while True:
                try:
                    for record in reader.records:
                        if isinstance(record, Chunk):
                            try:
                                if record.uncompressed_size > max(1 << 20, 1000 * len(record.data)):
                                    # A damaged size field: do not let zstd allocate it.
                                    raise ValueError(f"implausible size {record.uncompressed_size}")
                                inner = breakup_chunk(record, validate_crc=True)
                            except _CHUNK_ERRORS as exc:
                                self._skip(f"{self.path}: corrupted chunk at byte {start} skipped "
                                           f"({type(exc).__name__}: {exc})")
                                inner = []
                            for r in inner:
                                yield from take(r, start)
                        else:
                            yield from take(record, start)
                        start = f.tell()
                    return
                except _READ_ERRORS as exc:
                    resume = next((c for c in chunk_starts if c > start), None)
                    if resume is None:
                        # A file cut inside a record: everything before the cut has been yielded.
                        self.truncated = (
                            f"{self.path}: recording ends early at byte {start} after {count} "
                            f"messages ({type(exc).__name__}: {exc}); later data is lost"
                        )
                        return
                    self._skip(f"{self.path}: unreadable bytes {start}..{resume} skipped "
                               f"({type(exc).__name__}: {exc}); resuming at the next indexed chunk")
                    f.seek(resume)
                    start = resume
                    reader = StreamReader(cast(IO[bytes], _Bounded(f, size)), skip_magic=True, emit_chunks=True, record_size_limit=size)

    def _skip(self, note: str) -> None:
        self.skipped.append(note)
        warnings.warn(note, RecordingWarning, stacklevel=3)
