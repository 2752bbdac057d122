"""A pipeline: node instances wired to topic names, checked before anything runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from drivestack.bus.node import In, Node, Out
from drivestack.msgs import Message


class WiringError(ValueError):
    """A pipeline that cannot run: names the node and the key at fault.

    Attributes:
        node: The node's name.
        key: The port or setting at fault (``inputs.detections``), or ``""``.
    """

    def __init__(self, node: str, key: str, message: str):
        self.node = node
        self.key = key
        where = f"node {node!r}" + (f", {key}" if key else "")
        super().__init__(f"{where}: {message}")


@dataclass
class NodeSpec:
    """One node of a pipeline.

    Attributes:
        name: Unique within the pipeline.
        node: The instance.
        inputs: Input key -> topic name.
        outputs: Output key -> topic name; unwired outputs publish on ``/<name>/<key>``.
        rate_hz: [Hz] overrides the class's rate (``None``: keep it).
        deadline_s: [s] overrides the class's deadline.
    """

    name: str
    node: Node
    inputs: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    rate_hz: float | None = None
    deadline_s: float | None = None

    def ports(self) -> tuple[Mapping[str, In], Mapping[str, Out]]:
        return type(self.node).ports(self.node.config)

    @property
    def period_ns(self) -> int | None:
        rate = self.rate_hz if self.rate_hz is not None else type(self.node).rate_hz
        return None if rate is None else max(1, round(1e9 / rate))

    @property
    def deadline_ns(self) -> int | None:
        d = self.deadline_s if self.deadline_s is not None else type(self.node).deadline_s
        return None if d is None else round(d * 1e9)

    def output_topic(self, key: str) -> str:
        """Where output ``key`` publishes: the wiring, else the port's default topic, else
        ``/<name>/<key>``."""
        wired = self.outputs.get(key)
        if wired:
            return wired
        port = self.ports()[1].get(key)
        return (port.topic if port is not None else None) or f"/{self.name}/{key}"


def resolve_topics(
    specs: Sequence[NodeSpec], external: Mapping[str, type[Message]] | None = None
) -> dict[str, type[Message]]:
    """Checks the wiring and returns every topic with its message type.

    Args:
        specs: The pipeline's nodes.
        external: Topics published from outside the pipeline (by user code), with types.

    Raises:
        WiringError: duplicate node name, unknown port key, required input unconnected,
            input on a topic nobody publishes, publishers disagreeing on a topic's type, or an
            input whose type does not accept the topic's type.
    """
    topics: dict[str, type[Message]] = dict(external or {})
    publisher: dict[str, str] = {t: "(external)" for t in topics}
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise WiringError(spec.name, "", "duplicate node name")
        seen.add(spec.name)
        if spec.rate_hz is not None and not spec.rate_hz > 0:
            raise WiringError(spec.name, "rate_hz", f"must be > 0, got {spec.rate_hz}")
        ins, outs = spec.ports()
        for key in spec.inputs:
            if key not in ins:
                raise WiringError(spec.name, f"inputs.{key}", f"unknown input (has: {sorted(ins)})")
        for key in spec.outputs:
            if key not in outs:
                raise WiringError(
                    spec.name, f"outputs.{key}", f"unknown output (has: {sorted(outs)})"
                )
        for key, port in outs.items():
            topic = spec.output_topic(key)
            have = topics.get(topic)
            if have is not None and have is not port.type:
                raise WiringError(
                    spec.name,
                    f"outputs.{key}",
                    f"publishes {port.type.__name__} on {topic!r}, which {publisher[topic]} "
                    f"publishes as {have.__name__}",
                )
            topics[topic] = port.type
            publisher.setdefault(topic, f"node {spec.name!r}")
    for spec in specs:
        ins, _ = spec.ports()
        for key, in_port in ins.items():
            wired = spec.inputs.get(key)
            if wired is None:
                if in_port.required:
                    raise WiringError(
                        spec.name, f"inputs.{key}",
                        f"required input ({in_port.type.__name__}) is not connected",
                    )
                continue
            topic = wired
            have = topics.get(topic)
            if have is None:
                raise WiringError(
                    spec.name, f"inputs.{key}", f"nobody publishes topic {topic!r}"
                )
            if not issubclass(have, in_port.type):
                raise WiringError(
                    spec.name,
                    f"inputs.{key}",
                    f"expects {in_port.type.__name__} but {topic!r} carries {have.__name__} "
                    f"(from {publisher[topic]})",
                )
    return topics
