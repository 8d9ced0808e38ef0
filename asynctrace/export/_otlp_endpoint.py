"""OpenTelemetry's own OTLP span exporter, built from asynctrace's options and OTEL_* variables.

Shared by the live exporter and the export of finished files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from opentelemetry.sdk.trace.export import SpanExporter

PROTOCOLS: Final = ("http/protobuf", "grpc")
_ENV_PROTOCOL: Final = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def resolve_protocol(protocol: str | None) -> str:
    """*protocol*, else ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL``, else ``http/protobuf``."""
    if protocol is None:
        for name in _ENV_PROTOCOL:
            value = os.environ.get(name, "").strip()
            if value:
                protocol = value
                break
        else:
            protocol = "http/protobuf"
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    return protocol


def otlp_span_exporter(
    endpoint: str | None = None,
    *,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    compression: str | None = None,
) -> SpanExporter:
    """OpenTelemetry's own OTLP span exporter for these options.

    Whatever is ``None`` comes from the ``OTEL_EXPORTER_OTLP_*`` environment
    variables, as OpenTelemetry reads them.
    """
    if compression not in (None, "gzip", "deflate", "none"):
        raise ValueError(f"compression must be gzip, deflate or none, got {compression!r}")
    if timeout is not None and timeout <= 0:
        raise ValueError("timeout must be > 0")
    if resolve_protocol(protocol) == "grpc":
        try:
            import grpc
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError as exc:
            raise ImportError(
                "OTLP over gRPC needs the otlp-grpc extra: pip install 'asynctrace[otlp-grpc]'"
            ) from exc
        grpc_compression = {
            None: None,
            "none": grpc.Compression.NoCompression,
            "gzip": grpc.Compression.Gzip,
            "deflate": grpc.Compression.Deflate,
        }[compression]
        return GrpcExporter(
            endpoint=endpoint,
            headers=dict(headers) if headers is not None else None,
            timeout=timeout,
            compression=grpc_compression,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(
        endpoint=endpoint,
        headers=dict(headers) if headers is not None else None,
        timeout=timeout,
        compression=Compression(compression) if compression is not None else None,
    )
