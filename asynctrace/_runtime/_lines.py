"""Turning batches of events into JSONL bytes: seq, agent.config, oversize."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final, Protocol

import msgspec

from .._events._codec import ENCODER
from .._events._schema import AGENT_CONFIG, EVENT_OMITTED, Event
from .._processing._sanitize import to_jsonable

log = logging.getLogger("asynctrace")

# Events after which the writer flushes at once: they are what a reader of a
# crashed run needs most.
_URGENT_EVENTS: Final = frozenset({"error", "checkpoint"})


class Summary(Protocol):
    """The running summary ``trace.stop`` carries (built by the agent layer)."""

    def add(self, ev: Event) -> None: ...
    def add_batch(self, events: Sequence[Event]) -> None: ...
    def result(self) -> dict[str, Any]: ...


class LineEncoder:
    """Assigns ``seq`` and encodes events, one batch at a time.

    Used by the writer task and, when the loop is gone, by the shutdown
    hooks; it holds everything that must carry over between the two.  Not
    thread-safe: exactly one of them owns it at a time.
    """

    def __init__(self, trace_id: str, max_event_bytes: int, summary: Summary) -> None:
        self.trace_id = trace_id
        self.max_event_bytes = max_event_bytes
        self.seq = 0
        self.oversize = 0
        self.unencodable = 0
        self.summary = summary
        self._agents: set[str] = set()
        self._warned_unencodable = False

    def own_line(self, ev: Event) -> bytes:
        """Encode one of the collector's own lines (not counted, not summarized)."""
        ev.seq = self.seq
        self.seq += 1
        ev.trace_id = self.trace_id
        return ENCODER.encode(ev) + b"\n"

    def encode(self, batch: list[Event]) -> tuple[bytes, list[Event], bool, int]:
        """Encode a batch of producer events taken from the mailbox.

        Returns the bytes, the lines' events (with ``agent.config`` lines
        added), whether the batch holds an event that asks for an immediate
        flush (an error or a checkpoint), and the mailbox bytes the batch
        held (each queued event's ``seq`` carries its estimate until here).
        """
        out: list[Event] = []
        urgent = False
        seq = self.seq
        held = 0
        for ev in batch:
            held += ev.seq
            if ev.agent_id is not None and "agent_config" in ev.data:
                config = ev.data.pop("agent_config")
                if ev.agent_id not in self._agents:
                    self._agents.add(ev.agent_id)
                    cfg = Event(
                        ts_ns=ev.ts_ns,
                        event=AGENT_CONFIG,
                        trace_id=self.trace_id,
                        agent_id=ev.agent_id,
                        data=config if isinstance(config, dict) else {"value": config},
                    )
                    cfg.seq = seq
                    seq += 1
                    out.append(cfg)
            ev.seq = seq
            seq += 1
            if ev.event in _URGENT_EVENTS or ev.status == "error":
                urgent = True
            out.append(ev)
        self.seq = seq
        try:
            blob = ENCODER.encode_lines(out)
        except (TypeError, ValueError, msgspec.EncodeError, UnicodeEncodeError):
            blob = b""
        # The whole batch under the cap means every line is; only otherwise
        # is it worth encoding one line at a time to find the culprits.
        if not blob or len(blob) > self.max_event_bytes:
            blob = b"".join(self._encode_one(ev) for ev in out)
        # The producer lines only (not agent.config), after any oversize
        # event was renamed in place, as the file has them.
        self.summary.add_batch(batch)
        return blob, out, urgent, held

    def _encode_one(self, ev: Event) -> bytes:
        try:
            line = ENCODER.encode(ev)
        except (TypeError, ValueError, msgspec.EncodeError, UnicodeEncodeError) as exc:
            # A user processor put something the encoder cannot take; write
            # a JSON-safe form rather than lose the event.
            self.unencodable += 1
            if not self._warned_unencodable:
                self._warned_unencodable = True
                log.warning("asynctrace: event %r was not JSON-encodable (%s); wrote a sanitized form", ev.event, exc)
            ev.data = to_jsonable(ev.data)
            line = ENCODER.encode(ev)
        if len(line) + 1 > self.max_event_bytes:
            if ev.event != AGENT_CONFIG:
                self.oversize += 1
            original = ev.event
            ev.event = EVENT_OMITTED
            ev.data = {"event": original, "bytes": len(line) + 1, "cap": self.max_event_bytes}
            line = ENCODER.encode(ev)
        return line + b"\n"


def stop_data(counts: Any, summary: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"counts": msgspec.to_builtins(counts), "summary": summary, "reason": reason}
