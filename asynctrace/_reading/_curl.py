"""A captured model call as a runnable ``curl`` command.

The body is piped in with ``printf '%s'`` (a shell builtin, so there is no
argument size limit and no trailing newline is added) to
``curl --data-binary @-``, which sends it byte for byte.  The API key comes
from the environment (``$OPENAI_API_KEY``, ``$ANTHROPIC_API_KEY``); it was
never recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Final

from ._requests import LLMRequest, requests

__all__ = ["curl_commands", "to_curl"]

# Headers the SDK adds about itself; the server does not need them.
_SKIP_PREFIXES: Final = ("x-stainless-",)
_SKIP: Final = frozenset({"user-agent"})
_KEY_ENV: Final = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def _quote(s: str) -> str:
    """Single-quoted for a POSIX shell: the text exactly, with no expansion."""
    return "'" + s.replace("'", "'\\''") + "'"


def key_env(req: LLMRequest) -> str:
    if req.key_in == "api-key":
        return "AZURE_OPENAI_API_KEY"
    return _KEY_ENV.get(req.provider or "", "API_KEY")


def _key_header(req: LLMRequest) -> str | None:
    env = key_env(req)
    if req.key_in in ("authorization", "bearer"):
        return f'"Authorization: Bearer ${env}"'
    if req.key_in in ("x-api-key", "api-key"):
        return f'"{req.key_in}: ${env}"'
    return None


def to_curl(
    req: LLMRequest | str | os.PathLike[str], *, index: int | None = None, base_url: str | None = None
) -> str:
    """A runnable command for *req* (from ``asynctrace.requests()``); ``base_url``
    replaces the recorded one.

    Given a trace path instead, the commands for all its captured calls (or
    the one at *index*), separated by blank lines, as ``asynctrace curl`` prints.
    Raises ``ValueError`` when a single request's recorded body is not exactly
    what was sent (truncated, redacted, not recorded): such a command would
    send something else.
    """
    if isinstance(req, str | os.PathLike):
        return "\n\n".join(curl_commands(req, index=index, base_url=base_url))
    if not isinstance(req, LLMRequest):
        raise TypeError(f"to_curl() takes an LLMRequest or a trace path, got {type(req).__name__}")
    if index is not None:
        raise TypeError("index= goes with a trace path, not with one LLMRequest")
    if req.body_problem is not None and req.method != "GET":
        raise ValueError(f"request {req.index} cannot be reproduced: {req.body_problem}")
    url = (base_url.rstrip("/") if base_url else req.base_url) + req.path
    parts = ["curl", "-sS"]
    if req.stream:
        parts.append("-N")
    parts += ["-X", req.method, _quote(url)]
    key = _key_header(req)
    if key:
        parts += ["-H", key]
    for name, value in req.headers.items():
        if name in _SKIP or name.startswith(_SKIP_PREFIXES):
            continue
        parts += ["-H", _quote(f"{name}: {value}")]
    if req.body is not None:
        parts += ["--data-binary", "@-"]
    lines = " \\\n  ".join(_pairs(parts))
    if req.body is None:
        return lines
    return f"printf '%s' {_quote(req.body.decode('utf-8'))} |\n{lines}"


def _pairs(parts: list[str]) -> Iterable[str]:
    """Options with their values on one line each, for reading."""
    i = 0
    head: list[str] = []
    while i < len(parts) and not parts[i].startswith("-H") and parts[i] != "--data-binary":
        head.append(parts[i])
        i += 1
    yield " ".join(head)
    while i < len(parts):
        yield f"{parts[i]} {parts[i + 1]}"
        i += 2


def curl_commands(
    path: str | os.PathLike[str], *, index: int | None = None, base_url: str | None = None
) -> list[str]:
    """Every captured call of a trace (or the one at *index*) as a command, in call order.

    A call that cannot be reproduced becomes a ``#`` comment saying why.
    """
    reqs = requests(path)
    if index is not None:
        if not 0 <= index < len(reqs):
            raise IndexError(f"no request {index}: the trace has {len(reqs)} captured calls")
        reqs = [reqs[index]]
    out = []
    for r in reqs:
        head = f"# request {r.index}: {r.provider} {r.endpoint} {r.model}"
        try:
            out.append(f"{head}\n{to_curl(r, base_url=base_url)}")
        except ValueError as exc:
            out.append(f"{head}\n# {exc}")
    return out
