"""The in-process message bus: typed topics, nodes, deterministic and real-time executors."""

from drivestack.bus.bus import Bus, BusTypeError, Subscription, Topic, TopicStats
from drivestack.bus.deterministic import DeterministicExecutor
from drivestack.bus.executor import NodeFailure, NodeStats, RunStopped, RunSummary
from drivestack.bus.graph import NodeSpec, WiringError, resolve_topics
from drivestack.bus.harness import HarnessResult, run_node
from drivestack.bus.node import In, Inputs, NoConfig, Node, Out
from drivestack.bus.realtime import RealtimeExecutor
from drivestack.bus.registry import NODES, Registry

__all__ = [
    "NODES",
    "Bus",
    "BusTypeError",
    "DeterministicExecutor",
    "HarnessResult",
    "In",
    "Inputs",
    "NoConfig",
    "Node",
    "NodeFailure",
    "NodeSpec",
    "NodeStats",
    "Out",
    "RealtimeExecutor",
    "Registry",
    "RunStopped",
    "RunSummary",
    "Subscription",
    "Topic",
    "TopicStats",
    "WiringError",
    "resolve_topics",
    "run_node",
]
