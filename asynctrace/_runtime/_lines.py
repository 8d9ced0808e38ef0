"""Turning batches of events into JSONL bytes: seq, agent.config, oversize."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import msgspec

from .._events._codec import ENCODER
from .._events._schema import AGENT_CONFIG, EVENT_OMITTED, Event
from .._processing._sanitize import to_jsonable

if TYPE_CHECKING:
    from ._rotate import Rotator

log = logging.getLogger("asynctrace")

_NO_CONFIG: Final = object()

# What encode_parts returns per piece: (new part's path or None, bytes,
# the lines' events, producer events).
Piece = tuple[Path | None, bytes, list[Event], int]


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
        # Set when max_file_bytes is: then encode_parts, never encode, is used.
        self.rotator: Rotator | None = None

    def own_line(self, ev: Event) -> bytes:
        """Encode one of the collector's own lines (not counted, not summarized)."""
        ev.seq = self.seq
        self.seq += 1
        ev.trace_id = self.trace_id
        line = ENCODER.encode(ev) + b"\n"
        if self.rotator is not None:
            self.rotator.size += len(line)
        return line

    def encode(
        self, batch: list[Event], held: int = -1, configs: bool = True
    ) -> tuple[bytes, list[Event], int]:
        """Encode a batch of producer events taken from the mailbox.

        Returns the bytes, the lines' events (with ``agent.config`` lines
        added) and the mailbox bytes the batch held: *held* when the mailbox
        knew it, else the sum of the estimates each queued event's ``seq``
        carries until here.  *configs*: the batch may hold an agent's config
        (the mailbox's ``CONFIG`` mark); without it, lines are only numbered.
        """
        seq = self.seq
        if held < 0:
            held = 0
            for ev in batch:
                held += ev.seq
                ev.seq = seq
                seq += 1
        else:
            for ev in batch:
                ev.seq = seq
                seq += 1
        if configs:
            out = self._with_configs(batch)  # numbered again, config lines included
        else:
            out = batch  # the common case: no line to add, no second list
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
        return blob, out, held

    def _with_configs(self, batch: list[Event]) -> list[Event]:
        """*batch* numbered from ``self.seq`` again, with an ``agent.config``
        line before the first event of each agent this file has none for."""
        out: list[Event] = []
        seq = self.seq
        for ev in batch:
            if ev.agent_id is not None and "agent_config" in ev.data:
                config = ev.data.pop("agent_config")
                if ev.agent_id not in self._agents:
                    self._agents.add(ev.agent_id)
                    cfg = self._config_event(ev, config)
                    cfg.seq = seq
                    seq += 1
                    out.append(cfg)
            ev.seq = seq
            seq += 1
            out.append(ev)
        self.seq = seq
        return out

    def encode_parts(
        self, batch: list[Event], rot: Rotator, held: int = -1
    ) -> tuple[list[Piece], int]:
        """:meth:`encode` for a rotating trace: line by line, cut into pieces.

        Each piece is ``(path, blob, lines' events, producer events)``; a
        piece with a path starts a new part there (its blob begins with
        that part's ``trace.start``; the piece before it ends with the
        rotated ``trace.stop``).  The first piece's path is ``None``: it
        continues the current part.
        """
        pieces: list[Piece] = []
        path: Path | None = None
        chunk: list[bytes] = []
        out: list[Event] = []
        n = 0
        total = 0
        for ev in batch:
            total += ev.seq
            config: Any = _NO_CONFIG
            if ev.agent_id is not None and "agent_config" in ev.data:
                config = ev.data.pop("agent_config")
            evs, lines = self._lines_of(ev, config)
            size = sum(map(len, lines))
            if rot.full(size):
                chunk.append(self.own_line(rot.stop_event(self.summary.result())))
                pieces.append((path, b"".join(chunk), out, n))
                start, path = rot.advance()
                self._agents.clear()  # agent.config is written once per agent per file
                chunk, out, n = [self.own_line(start)], [], 0
                evs, lines = self._lines_of(ev, config)  # numbered after the boundary
                size = sum(map(len, lines))
            if len(evs) == 2:
                assert ev.agent_id is not None
                self._agents.add(ev.agent_id)
            self.seq += len(evs)
            rot.size += size
            rot.lines += len(evs)
            rot.encoded += 1
            chunk.extend(lines)
            out.extend(evs)
            n += 1
            self.summary.add(ev)  # as the file has it (an oversize event renamed)
        pieces.append((path, b"".join(chunk), out, n))
        return pieces, held if held >= 0 else total

    def _lines_of(self, ev: Event, config: Any) -> tuple[list[Event], list[bytes]]:
        """The lines one producer event takes (its agent.config first, if this
        file has none for the agent yet), numbered from ``self.seq``."""
        evs = [ev]
        if config is not _NO_CONFIG and ev.agent_id not in self._agents:
            evs.insert(0, self._config_event(ev, config))
        for i, e in enumerate(evs):
            e.seq = self.seq + i
        return evs, [self._encode_one(e) for e in evs]

    def _config_event(self, ev: Event, config: Any) -> Event:
        return Event(
            ts_ns=ev.ts_ns,
            event=AGENT_CONFIG,
            trace_id=self.trace_id,
            agent_id=ev.agent_id,
            data=config if isinstance(config, dict) else {"value": config},
        )

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
