"""``@asynctrace.traced``: a span around every call of a function."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, cast, overload

from ._span import NOOP_SPAN, Span, span, span_names
from ._state import CURRENT_SPAN

F = TypeVar("F", bound=Callable[..., Any])


@overload
def traced(fn: F, /) -> F: ...
@overload
def traced(
    name: str | None = None, /, *, kind: str = "span", **attrs: Any
) -> Callable[[F], F]: ...


def traced(
    name: Any = None, /, *, kind: str = "span", **attrs: Any
) -> Any:
    """Decorate a function so each call runs inside a span.

    ``@traced``, ``@traced("fetch", kind="tool")``.  Works on async
    functions, sync functions, and sync or async generators; the span name
    defaults to the function's qualified name.  For a generator the span
    covers its whole iteration, and it is current only while the generator
    body runs: between items, the consumer's own span is current again.
    """
    span_names(kind)
    if callable(name):
        return _decorate(name, None, kind, attrs)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"traced() name must be a str, got {type(name).__name__}")

    def deco(fn: F) -> F:
        return _decorate(fn, name, kind, attrs)

    return deco


def _decorate(fn: F, name: str | None, kind: str, attrs: dict[str, Any]) -> F:
    span_name = name or getattr(fn, "__qualname__", None) or repr(fn)
    if inspect.isasyncgenfunction(fn):
        return cast(F, _wrap_asyncgen(fn, span_name, kind, attrs))
    if inspect.isgeneratorfunction(fn):
        return cast(F, _wrap_gen(fn, span_name, kind, attrs))
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            async with span(span_name, kind=kind, **attrs):
                return await fn(*args, **kwargs)

        return cast(F, run_async)

    @functools.wraps(fn)
    def run_sync(*args: Any, **kwargs: Any) -> Any:
        with span(span_name, kind=kind, **attrs):
            return fn(*args, **kwargs)

    return cast(F, run_sync)


def _wrap_asyncgen(fn: Callable[..., Any], name: str, kind: str, attrs: dict[str, Any]) -> Any:
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        sp = span(name, kind=kind, **attrs)
        agen = fn(*args, **kwargs)
        if sp is NOOP_SPAN:
            async for item in _delegate_async(agen):
                yield item
            return
        assert isinstance(sp, Span)
        outer = CURRENT_SPAN.get()
        await sp.__aenter__()
        CURRENT_SPAN.set(outer)
        exc: BaseException | None = None
        try:
            async for item in _delegate_async(agen, sp):
                yield item
        except BaseException as e:
            exc = e
            raise
        finally:
            inner = CURRENT_SPAN.get()
            CURRENT_SPAN.set(sp)
            await sp.__aexit__(type(exc) if exc else None, exc, None)
            CURRENT_SPAN.set(inner)

    return run


async def _delegate_async(
    agen: AsyncGenerator[Any, Any], sp: Span | None = None
) -> AsyncGenerator[Any, Any]:
    """Forward ``asend``/``athrow``/``aclose`` to *agen*, with *sp* current inside it."""
    to_send: Any = None
    to_throw: BaseException | None = None
    try:
        while True:
            outer = CURRENT_SPAN.get()
            if sp is not None:
                CURRENT_SPAN.set(sp)
            try:
                if to_throw is not None:
                    item = await agen.athrow(to_throw)
                else:
                    item = await agen.asend(to_send)
            except StopAsyncIteration:
                return
            finally:
                CURRENT_SPAN.set(outer)
                to_throw = None
            try:
                to_send = yield item
            except GeneratorExit:
                raise
            except BaseException as e:
                to_throw = e
    finally:
        outer = CURRENT_SPAN.get()
        if sp is not None:
            CURRENT_SPAN.set(sp)
        try:
            await agen.aclose()
        finally:
            CURRENT_SPAN.set(outer)


def _wrap_gen(fn: Callable[..., Any], name: str, kind: str, attrs: dict[str, Any]) -> Any:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        sp = span(name, kind=kind, **attrs)
        gen = fn(*args, **kwargs)
        outer = CURRENT_SPAN.get()
        sp.__enter__()
        CURRENT_SPAN.set(outer)
        exc: BaseException | None = None
        try:
            to_send: Any = None
            while True:
                outer = CURRENT_SPAN.get()
                if isinstance(sp, Span):
                    CURRENT_SPAN.set(sp)
                try:
                    item = gen.send(to_send)
                except StopIteration as stop:
                    return stop.value
                finally:
                    CURRENT_SPAN.set(outer)
                to_send = yield item
        except BaseException as e:
            exc = e
            raise
        finally:
            gen.close()
            inner = CURRENT_SPAN.get()
            if isinstance(sp, Span):
                CURRENT_SPAN.set(sp)
            sp.__exit__(type(exc) if exc else None, exc, None)
            CURRENT_SPAN.set(inner)

    return run
