"""Recording to and reading from MCAP files.

Writing: chunked (zstd); the file is flushed after every message, so each finished chunk is
handed to the operating system at once (a flush with nothing buffered costs nothing).
A run stopped by SIGINT closes the file properly; a crash (or ``kill -9``) leaves a file
without its summary that :class:`Recording` still reads up to the last complete chunk, and
says so.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mcap.exceptions import McapError
from mcap.records import Channel, Schema
from mcap.records import Message as McapMessage
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer

from drivestack import __version__
from drivestack.bus.bus import Bus, Subscription
from drivestack.msgs import Message
from drivestack.record.codec import MESSAGE_ENCODING, SCHEMA_ENCODING, decode, encode, json_schema

PROFILE = "drivestack"
MCAP_MAGIC = b"\x89MCAP0\r\n"


class NotMcapError(ValueError):
    """A file given as a recording that is not MCAP at all (not merely cut short)."""


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

    def _read(self) -> Iterator[RecordedMessage | tuple[str, str]]:
        """Channels as ``(topic, type name)`` where declared, and messages, in file order.

        A file cut inside a record ends the iteration there and sets ``truncated``.
        """
        schemas: dict[int, str] = {}
        channels: dict[int, tuple[str, str]] = {}
        self.truncated = None
        count = 0
        with open(self.path, "rb") as f:
            try:
                for record in StreamReader(f, skip_magic=False).records:
                    if isinstance(record, Schema):
                        schemas[record.id] = record.name
                    elif isinstance(record, Channel):
                        channel = (record.topic, schemas.get(record.schema_id, ""))
                        if record.id not in channels:
                            yield channel
                        channels[record.id] = channel
                    elif isinstance(record, McapMessage):
                        topic, schema = channels[record.channel_id]
                        count += 1
                        yield RecordedMessage(topic, schema, record.log_time, record.data)
            except (McapError, struct.error, EOFError, ValueError) as exc:
                # A file cut inside a record: everything before the cut has been yielded.
                self.truncated = (
                    f"{self.path}: recording ends early after {count} messages "
                    f"({type(exc).__name__}: {exc}); later data is lost"
                )
