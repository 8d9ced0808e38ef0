"""The streaming trace reader: typed events in file order, constant memory.

The file is read in large binary chunks; each chunk's complete lines are
decoded in one ``decode_lines`` call, and only a chunk that fails is decoded
again line by line to find and report the bad lines.  Nothing here raises
once the file is open: bad lines become :class:`Problem` entries.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import msgspec

from .._events._codec import EVENT_DECODER
from .._events._schema import AGENT_CONFIG, TRACE_START, TRACE_STOP, Event
from .._storage._header import read_stop
from .._storage._parts import find_parts
from .._storage._rotation import ROTATED
from . import _problems as P
from ._open import is_plain, opener_for
from ._problems import Problem

CHUNK_BYTES: Final = 1 << 20
# The first line is read on open to check the file is a trace; a first
# "line" longer than this is not a trace.start.
_MAX_HEADER_BYTES: Final = 16 << 20
# Problems kept per iteration; a binary file read as a trace would otherwise
# grow the list with its size.
MAX_PROBLEMS: Final = 1000
_MAX_REASON_CHARS: Final = 200

COLLECTOR_LINES: Final = frozenset({TRACE_START, AGENT_CONFIG, TRACE_STOP})
"""Lines the collector writes itself; they are not producer events."""

PathLike = str | os.PathLike[str]


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"


class TraceReader:
    """A trace, read lazily.  Iterate it for its events in file order.

    A rotated trace is several part files; with ``parts`` (the default) the
    reader finds them all (:attr:`parts`) and reads them as one trace:
    :attr:`path` and :attr:`start` are the first part's, :attr:`stop` the
    last part's, and iteration goes through every part in order, the
    ``trace.stop`` (reason ``rotated``) and ``trace.start`` lines at each
    boundary included, so ``seq`` runs on without a gap.  With
    ``parts=False`` only the given file is read.

    Each iteration re-reads the files and refreshes :attr:`problems`,
    :attr:`torn_tail` and :attr:`line_count`.  :attr:`start` is read when the
    reader is created; :attr:`stop` is known after a full iteration, and
    before that is looked up at the end of the (last) file.
    """

    def __init__(self, path: PathLike, *, parts: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(2, "no such trace file", str(self.path))
        if self.path.is_dir():
            raise IsADirectoryError(21, "is a directory, not a trace file", str(self.path))
        self._opener = opener_for(self.path)
        self.start: Event | None = None
        """The ``trace.start`` event, or None when the file is not a trace."""
        self._header_problems: list[Problem] = []
        self._parts: list[Path] | None = None if parts else [self.path]
        self._follow_parts = parts
        self._read_header()
        if parts and self.start is not None and self.start.data.get("prev_file_id"):
            # A later part: the trace begins in an earlier file.
            head = self.parts[0]
            if head != self.path:
                self.path = head
                self._opener = opener_for(head)
                self._header_problems = []
                self._read_header()
        self.problems: list[Problem] = list(self._header_problems)
        """What the last iteration found wrong (at most :data:`MAX_PROBLEMS`)."""
        self.problem_count = len(self.problems)
        """All problems found, including those beyond the kept list."""
        self.torn_tail = False
        """The final line was incomplete (a crash mid-write) and was skipped."""
        self.line_count = 0
        """Lines in the file, as of the last full iteration."""
        self.complete = False
        """A full iteration has finished."""
        self._stop: Event | None = None
        self._peeked_stop: tuple[Event | None] | None = None

    # -- what the file is -------------------------------------------------

    @property
    def parts(self) -> list[Path]:
        """The files of this trace in part order (one unless it was rotated)."""
        if self._parts is None:
            self._parts = find_parts(self.path) if self.start is not None else [self.path]
        return self._parts

    @property
    def trace_id(self) -> str:
        return self.start.trace_id if self.start is not None else ""

    @property
    def is_trace(self) -> bool:
        """The first line is a ``trace.start``."""
        return self.start is not None

    @property
    def stop(self) -> Event | None:
        """The final ``trace.stop`` event, or None if the trace was not closed."""
        if self.complete:
            return self._stop
        if self._peeked_stop is None:
            self._peeked_stop = (self._peek_stop(),)
        return self._peeked_stop[0]

    def _read_header(self) -> None:
        with self._opener(self.path) as f:
            parts: list[bytes] = []
            size = 0
            while size <= _MAX_HEADER_BYTES:
                chunk = f.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                cut = chunk.find(b"\n")
                if cut >= 0:
                    parts.append(chunk[:cut])
                    break
                parts.append(chunk)
        if size == 0:
            self._header_problems.append(Problem(0, P.EMPTY, "the file is empty"))
            return
        first = b"".join(parts)
        if not first.strip():
            self._header_problems.append(
                Problem(1, P.NOT_A_TRACE, "the first line is blank, not trace.start")
            )
            return
        try:
            ev = EVENT_DECODER.decode(first)
        except msgspec.MsgspecError as exc:
            self._header_problems.append(
                Problem(1, P.NOT_A_TRACE, f"the first line is not a trace event ({_reason(exc)})")
            )
            return
        if ev.event != TRACE_START:
            self._header_problems.append(
                Problem(1, P.NOT_A_TRACE, f"the first line is {ev.event!r}, not trace.start")
            )
            return
        self.start = ev

    def _peek_stop(self) -> Event | None:
        if len(self.parts) > 1:
            return TraceReader(self.parts[-1], parts=False).stop
        if not is_plain(self.path):
            for _ in self:
                pass
            return self._stop
        return read_stop(self.path)

    # -- iteration --------------------------------------------------------

    def _problem(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def __iter__(self) -> Iterator[Event]:
        for batch, _ in self._chunks():
            yield from batch

    def batches(self) -> Iterator[list[Event]]:
        """The events in file order, one list per chunk read (the fast path)."""
        for batch, _ in self._chunks():
            yield batch

    def numbered(self) -> Iterator[tuple[int, Event]]:
        """``(line number, event)`` pairs in file order (1-based line numbers)."""
        for batch, numbers in self._chunks():
            yield from zip(numbers, batch, strict=True)

    def _chunks(self) -> Iterator[tuple[list[Event], Sequence[int]]]:
        if len(self.parts) > 1:
            yield from self._part_chunks()
        else:
            yield from self._file_chunks()
        start = self.start
        if self._follow_parts and start is not None and start.data.get("prev_file_id"):
            self._problem(
                Problem(
                    0,
                    P.MISSING_PART,
                    f"{self.path.name} continues part {start.data['prev_file_id']!r},"
                    " not found beside it",
                )
            )

    def _part_chunks(self) -> Iterator[tuple[list[Event], Sequence[int]]]:
        """Every part in order; line numbers and problems are per file, the
        problems of later parts prefixed with their file name."""
        lines = 0
        last: TraceReader | None = None
        for i, part in enumerate(self.parts):
            sub = self if i == 0 else TraceReader(part, parts=False)
            yield from sub._file_chunks()
            if i == 0:
                self.complete = False
            else:
                for problem in sub.problems:
                    self._problem(
                        Problem(problem.line, problem.kind, f"{part.name}: {problem.message}")
                    )
                self.problem_count += sub.problem_count - len(sub.problems)
            lines += sub.line_count
            last = sub
        assert last is not None
        self.torn_tail = last.torn_tail
        self.line_count = lines
        self._stop = last._stop
        if self._stop is not None and self._stop.data.get("reason") == ROTATED:
            nxt = self._stop.data.get("next_file_id")
            self._problem(
                Problem(
                    0,
                    P.MISSING_PART,
                    f"{last.path.name} was rotated into part {nxt!r}, not found beside it",
                )
            )
        self._peeked_stop = None
        self.complete = True

    def _file_chunks(self) -> Iterator[tuple[list[Event], Sequence[int]]]:
        self.problems = list(self._header_problems)
        self.problem_count = len(self.problems)
        self.torn_tail = False
        self.complete = False
        decode_lines = EVENT_DECODER.decode_lines
        line_no = 0  # complete lines before the current body
        last_ok_line = 0
        last_bad: Problem | None = None
        last: Event | None = None
        pending: list[bytes] = []
        with self._opener(self.path) as f:
            while True:
                chunk = f.read(CHUNK_BYTES)
                if not chunk:
                    break
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    pending.append(chunk)
                    continue
                if pending:
                    pending.append(chunk[: cut + 1])
                    body = b"".join(pending)
                    pending = []
                else:
                    body = chunk[: cut + 1]
                if cut + 1 < len(chunk):
                    pending.append(chunk[cut + 1 :])
                n_lines = body.count(b"\n")
                numbers: Sequence[int]
                try:
                    events = decode_lines(body)
                except msgspec.MsgspecError:
                    events, numbers, bad = self._decode_slowly(body, line_no)
                    if bad is not None:
                        last_bad = bad
                    if numbers:
                        last_ok_line = numbers[-1]
                else:
                    if len(events) == n_lines:
                        numbers = range(line_no + 1, line_no + n_lines + 1)
                    else:
                        # Blank lines, which decode_lines skips.
                        numbers = _non_blank_lines(body, line_no)
                    if events:
                        last_ok_line = line_no + n_lines
                line_no += n_lines
                if events:
                    last = events[-1]
                    yield events, numbers

        tail = b"".join(pending)
        if tail.strip():
            line_no += 1
            try:
                ev = EVENT_DECODER.decode(tail)
            except msgspec.MsgspecError:
                self.torn_tail = True
                self._problem(
                    Problem(line_no, P.TORN_TAIL, "the final line is incomplete and was skipped")
                )
            else:
                self._problem(Problem(line_no, P.NO_FINAL_NEWLINE, "the final line has no newline"))
                last = ev
                yield [ev], [line_no]
        elif last_bad is not None and last_bad.line > last_ok_line:
            # The last non-blank line did not decode: that is how a crash
            # mid-write leaves a file, not corruption in the middle.
            self.torn_tail = True
            self._retag_torn(last_bad)
        self.line_count = line_no
        self._stop = last if last is not None and last.event == TRACE_STOP else None
        self._peeked_stop = None
        self.complete = True

    def _retag_torn(self, bad: Problem) -> None:
        torn = Problem(bad.line, P.TORN_TAIL, "the final line is incomplete and was skipped")
        for i in range(len(self.problems) - 1, -1, -1):
            if self.problems[i] is bad:
                self.problems[i] = torn
                return

    def _decode_slowly(
        self, body: bytes, first_line: int
    ) -> tuple[list[Event], list[int], Problem | None]:
        """Decode line by line; return the events, their line numbers and the
        last bad line's problem."""
        decode = EVENT_DECODER.decode
        events: list[Event] = []
        numbers: list[int] = []
        bad: Problem | None = None
        for i, raw in enumerate(body.split(b"\n")[:-1], start=first_line + 1):
            if not raw.strip():
                continue
            try:
                events.append(decode(raw))
            except msgspec.MsgspecError as exc:
                bad = Problem(i, P.MALFORMED, f"skipped a malformed line ({_reason(exc)})")
                self._problem(bad)
            else:
                numbers.append(i)
        return events, numbers, bad


def _non_blank_lines(body: bytes, line_no: int) -> list[int]:
    return [i for i, raw in enumerate(body.split(b"\n")[:-1], start=line_no + 1) if raw.strip()]


def read(path: PathLike, *, parts: bool = True) -> TraceReader:
    """Open a trace file for streaming, typed reading.

    A rotated trace is read as one, from its first part to its last,
    whichever part ``path`` names; ``parts=False`` reads ``path`` alone
    (see :class:`TraceReader`).

    Raises ``FileNotFoundError`` (or ``IsADirectoryError``) if there is no
    such file; everything else wrong with the file is reported in
    ``reader.problems`` (an empty file, a file that is not a trace, malformed
    lines, a torn final line), never raised.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return TraceReader(path, parts=parts)


def producer_events(reader: TraceReader) -> Iterator[list[Event]]:
    """Batches of producer events: the collector's own lines left out."""
    skip = COLLECTOR_LINES
    for batch in reader.batches():
        yield [ev for ev in batch if ev.event not in skip]
