"""Every way a traced process can end leaves a complete file with trace.stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asynctrace.testing import assert_valid_trace, load_events

RUNNING_COLLECTOR = """
import asyncio, sys
import asynctrace

async def main(path):
    async with asynctrace.collector(path) as trace:
        for i in range(500):
            trace.sink.emit_nowait({"event": "work", "i": i})
        async with asynctrace.span("forever", kind="run"):
            await trace.flush()  # something is on disk before anyone signals us
            print("ready", flush=True)
            while True:
                await trace.sink.emit({"event": "tick"})
                await asyncio.sleep(0.001)

asyncio.run(main(sys.argv[1]))
"""


def start(script: str, path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    return proc


def test_sigterm_leaves_a_complete_file_and_still_terminates(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    proc = start(RUNNING_COLLECTOR, path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM
    events = load_events(path)
    assert_valid_trace(events)
    stop = events[-1]
    assert stop.data["reason"] == "signal"
    assert stop.status == "aborted"
    assert [e.data["i"] for e in events if e.event == "work"] == list(range(500))
    # The span that was open when the signal came is closed in the file.
    (run_stop,) = [e for e in events if e.event == "run.stop"]
    assert run_stop.status == "cancelled"


def test_sigint_under_asyncio_run_cancels_gracefully_and_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    proc = start(RUNNING_COLLECTOR, path)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    events = load_events(path)
    assert_valid_trace(events)
    assert events[-1].data["reason"] == "cancelled"
    (run_stop,) = [e for e in events if e.event == "run.stop"]
    assert run_stop.status == "cancelled"


def test_a_program_sigterm_handler_still_runs_after_the_trace_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = textwrap.dedent(
        """
        import signal, sys
        def bye(signum, frame):
            print("handler ran", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, bye)
        """
    ) + RUNNING_COLLECTOR
    proc = start(script, path)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert "handler ran" in out
    assert proc.returncode == 3
    events = load_events(path)
    assert_valid_trace(events)
    assert events[-1].data["reason"] == "signal"


def test_interpreter_exit_with_a_collector_still_open_writes_trace_stop(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = """
    import asyncio, sys
    import asynctrace

    async def leave_it_open(path):
        cm = asynctrace.collector(path)
        trace = await cm.__aenter__()
        for i in range(100):
            trace.sink.emit_nowait({"event": "work", "i": i})
        await trace.flush()
        for i in range(100, 300):
            trace.sink.emit_nowait({"event": "work", "i": i})

    loop = asyncio.new_event_loop()
    loop.run_until_complete(leave_it_open(sys.argv[1]))
    print("ready", flush=True)
    # no close: the interpreter exits with the collector open
    """
    proc = start(script, path)
    proc.communicate(timeout=20)
    assert proc.returncode == 0
    events = load_events(path)
    assert_valid_trace(events)
    assert events[-1].data["reason"] == "atexit"
    assert [e.data["i"] for e in events if e.event == "work"] == list(range(300))


def test_sigkill_leaves_valid_jsonl_up_to_the_last_complete_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    proc = start(RUNNING_COLLECTOR, path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=20)
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    events = load_events_bytes(complete)
    assert events[0].event == "trace.start"
    assert [e.seq for e in events] == list(range(len(events)))


def load_events_bytes(data: bytes) -> list:  # type: ignore[type-arg]
    from asynctrace._events._codec import EVENT_DECODER

    return [EVENT_DECODER.decode(line) for line in data.splitlines() if line]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_handler_is_removed_once_the_last_collector_closes() -> None:
    script = """
    import asyncio, signal, tempfile
    import asynctrace

    async def main():
        before = signal.getsignal(signal.SIGTERM)
        async with asynctrace.collector(tempfile.mkdtemp() + "/t.jsonl"):
            pass
        after = signal.getsignal(signal.SIGTERM)
        print(before == after)

    asyncio.run(main())
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=20
    )
    assert out.stdout.strip() == "True", out.stderr
