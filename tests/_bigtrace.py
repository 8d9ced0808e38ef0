"""A large synthetic trace (100k spans by default) for the report's load test."""

from __future__ import annotations

from pathlib import Path

from _tracegen import ROOT_TRACE, TraceFile


def big_trace(folder: Path, spans: int = 100_000) -> Path:
    """A run of turns, each an llm call followed by four concurrent tools at a
    time, one tool in 50 failing and a point event per turn: ``spans`` spans."""
    t = TraceFile(ROOT_TRACE, label="big")
    run = t.start("run", 0, name="big")
    made = 1
    at = 1.0
    turn_no = 0
    while made < spans:
        turn = t.start("turn", at, run, name="turn", turn=turn_no)
        made += 1
        llm = t.start("llm", at + 0.01, turn, name="gpt-x", model="gpt-x")
        t.stop(
            llm,
            at + 0.5,
            name="gpt-x",
            model="gpt-x",
            input_tokens=900,
            output_tokens=40,
            cost_usd=0.0011,
        )
        made += 1
        clock = at + 0.6
        k = 0
        while made < spans and k < 96:
            group = [
                t.start("tool", clock + 0.01 * g, turn, name=f"tool{(k + g) % 7}")
                for g in range(min(4, spans - made))
            ]
            for g, sid in enumerate(group):
                failed = (made + g) % 50 == 0
                t.stop(
                    sid,
                    clock + 0.2 + 0.05 * g,
                    "error" if failed else "ok",
                    name=f"tool{(k + g) % 7}",
                    **({"error_type": "TimeoutError", "error_message": "slow"} if failed else {}),
                )
            made += len(group)
            k += len(group)
            clock += 0.3
        t.emit("decision", clock, parent=turn, decision_type="next", outcome="continue")
        t.stop(turn, clock + 0.01, name="turn", turn=turn_no)
        at = clock + 0.1
        turn_no += 1
    t.stop(run, at, name="big")
    t.close(at + 1)
    return t.write(folder)
