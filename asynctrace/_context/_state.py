"""The context asynctrace keeps in ContextVars: open collectors and the current span.

Both are immutable values (a tuple, a span object), so a copied context --
what every new task, ``to_thread`` call and ``capture()`` gets -- can never
be changed by its parent afterwards, and leaving a span or collector never
needs the ``Token`` of the context it was entered in.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .._runtime._collector import Collector
    from ._span import Span
    from ._w3c import TraceParent

COLLECTORS: ContextVar[tuple[Collector, ...]] = ContextVar("asynctrace.collectors", default=())
CURRENT_SPAN: ContextVar[Span | None] = ContextVar("asynctrace.span", default=None)

# The same, bound once: looking a method up on a ContextVar global costs more
# than the call itself, and these run on every span and event.
get_collectors: Final = COLLECTORS.get
get_current_span: Final = CURRENT_SPAN.get
set_current_span: Final = CURRENT_SPAN.set


def push_collector(collector: Collector) -> None:
    COLLECTORS.set((*COLLECTORS.get(), collector))


def pop_collector(collector: Collector) -> None:
    """Remove *collector* from this context's stack, wherever it is.

    Not ``ContextVar.reset``: the block may be exited in another context
    than it was entered in, and the stack may have changed above it.
    """
    stack = COLLECTORS.get()
    if collector in stack:
        COLLECTORS.set(tuple(c for c in stack if c is not collector))

# The context of an enclosing trace that head sampling dropped: nothing is
# recorded under it, but capture() and inject() still send its trace id,
# flags (sampled off) and tracestate on.
UNSAMPLED: ContextVar[TraceParent | None] = ContextVar("asynctrace.unsampled", default=None)
