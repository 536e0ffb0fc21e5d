"""The trainer side of the OpenTelemetry SDK test: a stand-alone script that
logs through the real OpenTelemetry Python SDK (stdlib `logging` →
`LoggingHandler` → `LoggerProvider` with a `Resource` → `BatchLogRecordProcessor`
→ the OTLP/gRPC or OTLP/HTTP `OTLPLogExporter`) to diagd, then flushes and
shuts the provider down.

The tests (test_otel_sdk.py) run it in a fresh interpreter per flow, so the two
exporters and their global state never meet. It owns nothing else: what diagd
stored is read back by the tests.

Usage:
  python emit_logs.py --protocol grpc --endpoint 127.0.0.1:50051 --run-id r1 \
      --tag t1 --records info,warning,exception [--token T --token-via env|param]

Records, emitted in the order given (the tests give info first, so that once the
later records are stored the info record's export has certainly been answered):
  info       logger.info(f"{tag}: epoch 1 started, lr=0.0003")
  warning    logger.warning(f"{tag}: gradient overflow, loss scale lowered to 32768")
  exception  logger.exception(f"{tag}: training step 3 failed") inside the except of
             a torch-style chained error: RuntimeError("CUDA out of memory. …")
             raised `from` a MemoryError, three calls deep.

Prints one JSON line on stdout: {"pid", "flushed", "exports": [[batch size, result]]}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

# What the tests expect back (they import these names).
SERVICE_NAME = "trainer-otel"
HOST_NAME = "gpu-node-otel-07"
POD_NAME = "trainer-0"
OOM_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB "
    "of which 1.02 GiB is free. Of the allocated memory 76.10 GiB is allocated by PyTorch."
)
INNER_MESSAGE = "cudaMalloc(2147483648) failed: out of memory"


def info_text(tag: str) -> str:
    return f"{tag}: epoch 1 started, lr=0.0003"


def warning_text(tag: str) -> str:
    return f"{tag}: gradient overflow, loss scale lowered to 32768"


def exception_body(tag: str) -> str:
    return f"{tag}: training step 3 failed"


# A torch-style failure, a few frames deep, chained `from` the allocator's error.
def _cuda_malloc(nbytes: int) -> None:
    raise MemoryError(INNER_MESSAGE.replace("2147483648", str(nbytes)))


def allocate_activations(batch_size: int) -> None:
    try:
        _cuda_malloc(batch_size * 32 * 1024 * 1024)
    except MemoryError as inner:
        raise RuntimeError(OOM_MESSAGE) from inner


def forward(batch_size: int) -> None:
    allocate_activations(batch_size)


def training_step(step: int) -> None:
    forward(64)


def make_exporter(protocol: str, endpoint: str, token: str | None, token_via: str):
    """The real SDK exporter, recording what each export answered."""
    headers = {"authorization": f"Bearer {token}"} if token and token_via == "param" else None
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        kwargs = dict(endpoint=endpoint, insecure=True, timeout=5)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        kwargs = dict(endpoint=endpoint, timeout=5)
    if headers:
        kwargs["headers"] = headers
    # With token_via == "env" the exporter reads OTEL_EXPORTER_OTLP_HEADERS itself.

    class RecordingExporter(OTLPLogExporter):
        results: list = []

        def export(self, batch):
            result = super().export(batch)
            self.results.append([len(batch), getattr(result, "name", str(result))])
            return result

    return RecordingExporter(**kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--records", required=True, help="comma-separated: info, warning, exception")
    parser.add_argument("--token")
    parser.add_argument("--token-via", choices=["env", "param"], default="param")
    args = parser.parse_args()

    if args.token and args.token_via == "env":
        # Spec format: key=value pairs, values percent-encoded.
        os.environ["OTEL_EXPORTER_OTLP_HEADERS"] = f"authorization=Bearer%20{args.token}"

    # The SDK's own warnings (failed exports) go to stderr for the test's failure message.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")

    resource = Resource.create(
        {
            "service.name": SERVICE_NAME,
            "host.name": HOST_NAME,
            "diagd.run_id": args.run_id,
            "process.pid": os.getpid(),
            "k8s.pod.name": POD_NAME,
        }
    )
    provider = LoggerProvider(resource=resource)
    exporter = make_exporter(args.protocol, args.endpoint, args.token, args.token_via)
    # Nothing is exported before force_flush: all records travel in one export.
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=60_000))

    with warnings.catch_warnings():
        # The SDK's LoggingHandler is deprecated in favour of opentelemetry-instrumentation-logging's;
        # it is still what most trainers use.
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=logging.NOTSET, logger_provider=provider)
    logger = logging.getLogger("trainer")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # only to OpenTelemetry, not to stderr
    logger.addHandler(handler)

    for record in args.records.split(","):
        if record == "info":
            logger.info(info_text(args.tag))
        elif record == "warning":
            logger.warning(warning_text(args.tag))
        elif record == "exception":
            try:
                training_step(3)
            except RuntimeError:
                logger.exception(exception_body(args.tag))
        else:
            parser.error(f"unknown record {record!r}")

    flushed = provider.force_flush(timeout_millis=15_000)
    logger.removeHandler(handler)
    provider.shutdown()
    print(json.dumps({"pid": os.getpid(), "flushed": flushed, "exports": exporter.results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
