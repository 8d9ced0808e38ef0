"""A real OTLP/HTTP (and gRPC) trace receiver on 127.0.0.1, for the export tests.

Bodies are decoded with opentelemetry-proto's ``ExportTraceServiceRequest``.
The receiver can answer with a scripted list of statuses first (503 with
``Retry-After: 0`` for retry tests), and can be held on a gate so a test can
show that the traced program goes on while the endpoint is stuck.
"""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class Received:
    headers: dict[str, str]
    request: ExportTraceServiceRequest


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    """Answer the next requests with these statuses (then 200)."""
    gate: threading.Event | None = None
    """When set to an Event, each request waits for it before answering."""
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def spans(self) -> list[tuple[Any, Any, Span]]:
        """(resource, scope, span) of every accepted span, in arrival order."""
        out: list[tuple[Any, Any, Span]] = []
        for r in self.received:
            for rs in r.request.resource_spans:
                for ss in rs.scope_spans:
                    out.extend((rs.resource, ss.scope, s) for s in ss.spans)
        return out

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: predicate(self), timeout)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.arrived:
                receiver.attempts += 1
                receiver.arrived.notify_all()
            if receiver.gate is not None:
                receiver.gate.wait(60)
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            if status != 200:
                self.send_response(status)
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with receiver.arrived:
                receiver.received.append(Received(dict(self.headers.items()), request))
                receiver.arrived.notify_all()
            payload = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def otlp_http_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.gate is not None:
            receiver.gate.set()
        server.shutdown()
        server.server_close()


@contextmanager
def otlp_grpc_receiver() -> Iterator[Receiver]:
    import concurrent.futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    receiver = Receiver()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: ExportTraceServiceRequest, context: Any) -> ExportTraceServiceResponse:
            with receiver.arrived:
                receiver.attempts += 1
                receiver.received.append(Received(dict(context.invocation_metadata()), request))
                receiver.arrived.notify_all()
            return ExportTraceServiceResponse()

    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.stop(None)


def closed_port_url() -> str:
    """An OTLP url on 127.0.0.1 where nothing listens (an endpoint that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"
