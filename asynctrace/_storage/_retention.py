"""Retention: delete the oldest traces of a directory beyond a count and an age.

The unit is a trace group (``_parts.group_traces``): a trace with its part
and child files, deleted together or not at all.  Only files recognised by
name and first line are considered (``_scan.recognize``); anything else in
the directory is never touched.

A group is kept, whatever its age, while any of its files may still be
written (:func:`is_open`):

* a compressed part is closed (only closed parts are compressed);
* a plain file whose last line is a final ``trace.stop`` is closed;
* a plain file that does not end with one (no stop, a torn tail, or a
  rotated stop whose next part is not there yet) is open if it was modified
  within ``open_grace_s`` (default one day), or if its ``trace.start`` names
  this host and a process with its pid is still running.  Past that it is a
  crashed trace, and ages like any other.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._age import parse_age_s
from ._header import read_start, read_stop
from ._names import PARTIAL_SUFFIX, compressed_path, parse_name, plain_path
from ._parts import TraceGroup, group_traces
from ._rotation import ROTATED
from ._scan import TraceFileInfo, recognize, scan

log = logging.getLogger("asynctrace")

ENV_VAR: Final = "ASYNCTRACE_RETENTION"
OPEN_GRACE_S: Final = 86_400.0
_NS: Final = 1_000_000_000
_warned_env = False


@dataclass(frozen=True, slots=True)
class Retention:
    """How many traces to keep in a trace directory, and for how long.

    ``max_files``: keep at most this many traces (a trace counts once with
    its part and child files); ``max_age_days``: delete traces last written
    more than this many days ago.  Either may be None (no limit), not both.
    Traces that may still be open are never deleted (docs/operations.md).
    """

    __module__ = "asynctrace"

    max_files: int | None = None
    max_age_days: float | None = None

    def __post_init__(self) -> None:
        n = self.max_files
        if n is not None and (type(n) is not int or n < 1):
            raise ValueError(f"max_files must be a positive int or None, got {n!r}")
        age = self.max_age_days
        if age is not None and (
            isinstance(age, bool) or not isinstance(age, int | float) or not age > 0
        ):
            raise ValueError(f"max_age_days must be a positive number or None, got {age!r}")
        if n is None and age is None:
            raise ValueError("Retention needs max_files, max_age_days or both")

    @classmethod
    def parse(cls, text: str) -> Retention | None:
        """``"max_files=100,max_age=30d"`` (the ``ASYNCTRACE_RETENTION`` format).

        Keys: ``max_files`` (an int) and ``max_age`` (``30d``, ``12h``, ...;
        a bare number is days; ``max_age_days`` is accepted as an alias).
        ``""``, ``off``, ``none`` and ``0`` mean no retention (None).
        Raises ``ValueError`` naming what is wrong.
        """
        text = text.strip()
        if text.lower() in ("", "off", "none", "0", "false", "no"):
            return None
        max_files: int | None = None
        max_age_days: float | None = None
        for item in text.split(","):
            key, eq, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not eq or not value:
                raise ValueError(f"expected key=value in {text!r}, got {item.strip()!r}")
            if key == "max_files":
                try:
                    max_files = int(value)
                except ValueError:
                    raise ValueError(f"max_files must be an integer, got {value!r}") from None
            elif key in ("max_age", "max_age_days"):
                max_age_days = parse_age_s(value) / 86_400
            else:
                raise ValueError(f"unknown retention key {key!r} (max_files, max_age)")
        return cls(max_files=max_files, max_age_days=max_age_days)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Retention | None:
        """The retention in ``ASYNCTRACE_RETENTION``, or None if it is unset or off."""
        env = os.environ if environ is None else environ
        value = env.get(ENV_VAR)
        if value is None:
            return None
        try:
            return cls.parse(value)
        except ValueError as exc:
            raise ValueError(f"{ENV_VAR}: {exc}") from None


def resolve_retention(value: object, environ: Mapping[str, str] | None = None) -> Retention | None:
    """The collector's ``retention`` argument: a :class:`Retention`, or None for
    whatever ``ASYNCTRACE_RETENTION`` says (off when unset).  Raises
    ``TypeError`` for any other argument.  A malformed variable is not the
    program's fault: it is logged once (logger ``asynctrace``) and means off."""
    if isinstance(value, Retention):
        return value
    if value is None:
        try:
            return Retention.from_env(environ)
        except ValueError as exc:
            global _warned_env
            if not _warned_env:
                _warned_env = True
                log.warning("asynctrace: %s; retention is off", exc)
            return None
    raise TypeError(
        f"retention must be an asynctrace.Retention or None, got {type(value).__name__}"
    )


def _pid_alive(pid: object) -> bool:
    if type(pid) is not int or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    except OSError:
        return False
    return True


def is_open(info: TraceFileInfo, *, now_ns: int, open_grace_s: float = OPEN_GRACE_S) -> bool:
    """Whether ``info``'s file may still be written (the rule in the module doc)."""
    if info.compressed:
        return False
    stop = read_stop(info.path)
    if stop is not None and stop.data.get("reason") != ROTATED:
        return False
    # No final stop (a rotated stop means the next part may not be there yet):
    # open while fresh, or while its writer is alive.
    if now_ns - info.mtime_ns < open_grace_s * _NS:
        return True
    return info.data.get("host") == socket.gethostname() and _pid_alive(info.data.get("pid"))


def _group_open(group: TraceGroup, now_ns: int, open_grace_s: float) -> bool:
    # Only the last part of each chain can still be written.
    return any(is_open(c[-1], now_ns=now_ns, open_grace_s=open_grace_s) for c in group.chains)


def select_expired(
    groups: list[TraceGroup],
    retention: Retention,
    *,
    now_ns: int,
    open_grace_s: float = OPEN_GRACE_S,
) -> list[TraceGroup]:
    """The groups ``retention`` deletes: beyond ``max_files`` (newest kept) or
    older than ``max_age_days``, never an open one.  Open groups count
    towards ``max_files``."""
    newest_first = sorted(groups, key=lambda g: g.last_mtime_ns, reverse=True)
    cutoff_ns = (
        now_ns - round(retention.max_age_days * 86_400 * _NS)
        if retention.max_age_days is not None
        else None
    )
    expired: list[TraceGroup] = []
    for rank, group in enumerate(newest_first):
        too_many = retention.max_files is not None and rank >= retention.max_files
        too_old = cutoff_ns is not None and group.last_mtime_ns < cutoff_ns
        if (too_many or too_old) and not _group_open(group, now_ns, open_grace_s):
            expired.append(group)
    return expired


def cleanup(
    directory: str | os.PathLike[str],
    retention: Retention,
    *,
    dry_run: bool = False,
    now_ns: int | None = None,
    open_grace_s: float = OPEN_GRACE_S,
) -> list[Path]:
    """Delete the traces of ``directory`` that ``retention`` expires; return the
    files deleted (or, with ``dry_run``, that would be), oldest trace first.

    Blocking (it reads headers and stats files): from async code use
    :func:`cleanup_in_thread`.  A file that cannot be deleted is left and not
    listed; a file that vanished meanwhile (another cleanup) is listed.
    Never raises for a missing directory (nothing to do).
    """
    if not isinstance(retention, Retention):
        raise TypeError(
            f"retention must be an asynctrace.Retention, got {type(retention).__name__}"
        )
    folder = Path(directory)
    now = time.time_ns() if now_ns is None else now_ns
    groups = group_traces(scan(folder))
    expired = select_expired(groups, retention, now_ns=now, open_grace_s=open_grace_s)
    expired.sort(key=lambda g: g.last_mtime_ns)
    removed: list[Path] = []
    for path in _stale_partials(folder, now, open_grace_s):
        if not dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                continue
        removed.append(path)
    for group in expired:
        # Every copy of every part: both twins when a compression was cut short.
        paths = sorted({f.path for f in group.files} | _twins(group))
        for path in paths:
            if dry_run:
                removed.append(path)
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                removed.append(path)
            except OSError:
                continue
            else:
                removed.append(path)
    return removed


def _stale_partials(folder: Path, now_ns: int, open_grace_s: float) -> list[Path]:
    """Temp files of compressions cut short by a crash (``.{name}.gz.partial``),
    untouched for ``open_grace_s``; the plain part they came from is intact.
    Recognised like traces: the name, and the first line of what was written."""
    out: list[Path] = []
    try:
        with os.scandir(folder) as it:
            entries = sorted(
                e.name for e in it if e.name.startswith(".") and e.name.endswith(PARTIAL_SUFFIX)
            )
    except OSError:
        return out
    for entry in entries:
        name = parse_name(entry[1 : -len(PARTIAL_SUFFIX)])
        path = folder / entry
        if name is None or not name.compressed:
            continue
        try:
            fresh = now_ns - path.stat().st_mtime_ns < open_grace_s * _NS
        except OSError:
            continue
        start = None if fresh else read_start(path, compressed=True)
        if start is not None and start.trace_id == name.trace_id:
            out.append(path)
    return out


def _twins(group: TraceGroup) -> set[Path]:
    """The plain or compressed copy of each file, when both exist (each
    recognised by name and first line in its own right)."""
    out: set[Path] = set()
    for f in group.files:
        twin = plain_path(f.path) if f.compressed else compressed_path(f.path)
        other = recognize(twin) if twin.is_file() else None
        if other is not None and other.trace_id == f.trace_id:
            out.add(twin)
    return out


async def cleanup_in_thread(
    directory: str | os.PathLike[str], retention: Retention, *, dry_run: bool = False
) -> list[Path]:
    """:func:`cleanup` on a worker thread (what a collector calls at open)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(
        lambda: cleanup(directory, retention, dry_run=dry_run), abandon_on_cancel=True
    )
