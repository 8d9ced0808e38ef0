"""``asynctrace export --format otlp | otlp-json``: finished traces to OpenTelemetry."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._output import Output


class OtlpCliError(Exception):
    """A message for stderr and exit code 2 (bad input), as the CLI's own errors."""


def _load() -> Any:
    try:
        from ..export import _otlp
    except ImportError as exc:
        raise OtlpCliError(
            f"--format otlp needs the otlp extra: pip install 'asynctrace[otlp]' ({exc})"
        ) from None
    return _otlp


def _count_files(otlp: Any, path: str) -> int:
    return len(otlp.trace_files(path))


def cmd_export_otlp(args: argparse.Namespace, out: Output) -> int:
    """Ship (``otlp``) or write (``otlp-json``) a trace, its child files, or a directory."""
    otlp = _load()
    path = Path(args.path)
    if not path.exists():
        raise OtlpCliError(f"no such file or directory: {path}")
    files = _count_files(otlp, args.path)
    plural = "s" if files != 1 else ""
    if args.format == "otlp-json":
        if args.endpoint:
            raise OtlpCliError("--endpoint is for --format otlp; otlp-json writes a file (-o)")
        if not args.output or args.output == "-":
            n = otlp.write_otlp_json(args.path, out.out)
            out.out.flush()
            sys.stderr.write(f"wrote {n} spans from {files} file{plural} as OTLP JSON\n")
            return 0
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                n = otlp.write_otlp_json(args.path, f)
        except OSError as exc:
            raise OtlpCliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        sys.stderr.write(f"wrote {args.output} ({n} spans from {files} file{plural}, OTLP JSON)\n")
        return 0
    if args.output:
        raise OtlpCliError("-o is for --format otlp-json; --format otlp sends to --endpoint")
    # No --endpoint: OpenTelemetry's OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, as usual.
    sent, failed = otlp.export_otlp(args.path, endpoint=args.endpoint)
    where = args.endpoint or "the OTEL_EXPORTER_OTLP endpoint"
    if failed:
        sys.stderr.write(
            f"asynctrace: {failed} of {sent + failed} spans were not delivered to {where}\n"
        )
        return 1
    sys.stderr.write(f"sent {sent} spans from {files} file{plural} to {where}\n")
    return 0
