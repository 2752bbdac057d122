"""The in-process bus: typed topics, bounded subscriptions, per-topic statistics.

Messages are handed over by reference: a subscriber gets the very object that was published
(numpy arrays and torch tensors are neither copied nor serialised). Messages are frozen, so
sharing is safe. Executors (``deterministic.py``, ``realtime.py``) drive nodes over a bus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivestack.msgs import Message


class BusTypeError(TypeError):
    """A message of the wrong type was published on a topic, or a topic was redeclared."""


class Subscription:
    """A bounded queue of messages for one subscriber of one topic (single-threaded use).

    Args:
        topic: The topic.
        depth: Queue bound.
        overflow: ``"keep_last"`` drops the oldest when full, ``"drop_new"`` the newcomer.
        notify: Called (with this subscription) after each accepted delivery: executors use
            it to wake the subscriber. ``None`` for polled queues.
    """

    __slots__ = ("topic", "depth", "keep_last", "notify", "buf", "drops", "latencies", "lock")

    def __init__(
        self,
        topic: Topic,
        depth: int = 1,
        overflow: str = "keep_last",
        notify: Callable[[Subscription], None] | None = None,
    ):
        self.topic = topic
        self.depth = depth
        self.keep_last = overflow == "keep_last"
        self.notify = notify
        self.buf: list[Message] = []
        self.drops = 0
        self.latencies: list[int] = []  # [ns] stamp-to-consumption, one per consumed message
        self.lock: threading.Lock | None = None

    def deliver(self, msg: Message) -> None:
        buf = self.buf
        if len(buf) < self.depth:
            buf.append(msg)
        else:
            self.drops += 1
            self.topic.drops += 1
            if not self.keep_last:
                return
            del buf[0]
            buf.append(msg)
        if self.notify is not None:
            self.notify(self)



class LockedSubscription(Subscription):
    """A :class:`Subscription` whose publisher and subscriber run on different threads."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()

    def deliver(self, msg: Message) -> None:
        assert self.lock is not None
        with self.lock:  # notify runs under the lock too: it only sets the subscriber's event
            Subscription.deliver(self, msg)

    def take_locked(self) -> list[Message]:
        """Empties the queue under its lock (latencies are the caller's to record)."""
        assert self.lock is not None
        with self.lock:
            buf, self.buf = self.buf, []
        return buf



class Topic:
    """A named channel carrying one message type (and its subclasses)."""

    __slots__ = ("name", "type", "subscriptions", "count", "first_ns", "last_ns", "drops")

    def __init__(self, name: str, msg_type: type[Message]):
        self.name = name
        self.type = msg_type
        self.subscriptions: list[Subscription] = []
        self.count = 0
        self.first_ns: int | None = None
        self.last_ns = 0
        self.drops = 0

    def check(self, msg: object) -> None:
        if not isinstance(msg, self.type):
            raise BusTypeError(
                f"topic {self.name!r} carries {self.type.__name__}, "
                f"got {type(msg).__name__}"
            )


@dataclass(frozen=True)
class TopicStats:
    """Per-topic statistics of a run.

    Attributes:
        count: Messages published.
        rate_hz: [Hz] (count - 1) / time between first and last publish, on the run's clock.
        latency_p50_ms, latency_p99_ms: [ms] stamp-to-consumption latency over all
            subscribers (on the simulated clock in the deterministic executor).
        drops: Messages dropped by full subscriber queues.
    """

    topic: str
    type: str
    count: int
    rate_hz: float
    latency_p50_ms: float
    latency_p99_ms: float
    drops: int


class Bus:
    """Topics by name. ``publish`` type-checks and hands the message to every subscriber."""

    def __init__(self, *, threadsafe: bool = False):
        self.topics: dict[str, Topic] = {}
        self._threadsafe = threadsafe

    def declare(self, name: str, msg_type: type[Message]) -> Topic:
        """The topic ``name`` carrying ``msg_type``; declaring it again with another type raises."""
        topic = self.topics.get(name)
        if topic is None:
            topic = self.topics[name] = Topic(name, msg_type)
        elif topic.type is not msg_type:
            raise BusTypeError(
                f"topic {name!r} already carries {topic.type.__name__}, "
                f"cannot also carry {msg_type.__name__}"
            )
        return topic

    def subscribe(
        self,
        name: str,
        depth: int = 1,
        overflow: str = "keep_last",
        notify: Callable[[Subscription], None] | None = None,
    ) -> Subscription:
        """A new queue on the declared topic ``name``."""
        try:
            topic = self.topics[name]
        except KeyError:
            raise KeyError(f"no topic {name!r} (declared: {sorted(self.topics)})") from None
        cls = LockedSubscription if self._threadsafe else Subscription
        sub = cls(topic, depth, overflow, notify)
        topic.subscriptions.append(sub)
        return sub

    def publish(self, name: str, msg: Message, now_ns: int) -> None:
        """Hands ``msg`` to every subscriber of ``name``.

        Raises:
            BusTypeError: ``msg`` is not of the topic's type (names topic and both types).
            KeyError: the topic was never declared.
        """
        self.publish_on(self.topics[name], msg, now_ns)

    @staticmethod
    def publish_on(topic: Topic, msg: Message, now_ns: int) -> None:
        """``publish`` for a topic already looked up (the executors' hot path)."""
        if type(msg) is not topic.type and not isinstance(msg, topic.type):
            topic.check(msg)
        if topic.first_ns is None:
            topic.first_ns = now_ns
        topic.count += 1
        topic.last_ns = now_ns
        for sub in topic.subscriptions:
            # Inline the common case (room in an unlocked queue): one call fewer per delivery.
            buf = sub.buf
            if sub.lock is None and len(buf) < sub.depth:
                buf.append(msg)
                notify = sub.notify
                if notify is not None:
                    notify(sub)
            else:
                sub.deliver(msg)

    def stats(self) -> list[TopicStats]:
        """Statistics of every topic, sorted by name."""
        out = []
        for name in sorted(self.topics):
            t = self.topics[name]
            lat = np.concatenate(
                [np.asarray(s.latencies, dtype=np.int64) for s in t.subscriptions]
                or [np.zeros(0, np.int64)]
            )
            span = (t.last_ns - t.first_ns) if t.first_ns is not None else 0
            rate = (t.count - 1) * 1e9 / span if span > 0 else 0.0
            p50, p99 = (np.percentile(lat, [50, 99]) / 1e6) if lat.size else (0.0, 0.0)
            out.append(
                TopicStats(name, t.type.__name__, t.count, rate, float(p50), float(p99), t.drops)
            )
        return out
