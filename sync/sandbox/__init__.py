"""The sandbox carrier: a local HTTP service that moves made-up parcels through
realistic lives on an accelerated clock, with knobs for every fault a real
carrier API shows. ``orderdeck sandbox`` runs it; :class:`SandboxServer` starts it
in-process. See ``docs/sandbox.md``."""

from sync.sandbox.clock import SandboxClock
from sync.sandbox.faults import Faults
from sync.sandbox.server import SandboxError, SandboxServer

__all__ = ["Faults", "SandboxClock", "SandboxError", "SandboxServer"]
