"""Log lines an operator can keep (config/*.yaml LOGGING uses these):

- `JsonLines`: one JSON object a line, with the request id of the call being
  handled (the id nameko gave the call that started the chain, so a call's
  lines in every service share it).
- `Refusals`: a call refused for the caller's fault (unauthenticated, not
  allowed, bad input, not found, not now, over a limit) is one INFO line naming
  the entrypoint, the status and the field, never a traceback and never the
  reason's text (it may quote what the caller sent, a client reference).
- A password in a URL (a broker URI with one alternate per cluster node, whose
  every password but the first kombu leaves in its messages) is masked.
- `handler`: rotation by size into a file (`make run` sets LOG_FILE to
  var/log/<process>.log), else the standard error stream.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import logging.handlers
import re

from grpc import StatusCode
from nameko.extensions import DependencyProvider
from nameko_grpc.errors import GrpcError

from tiaki.core import errors
from tiaki.plumbing.grpc_errors import STATUS

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("tiaki_request_id", default="")

# Statuses that say the caller asked for something it cannot have, not that we failed.
REFUSALS = {StatusCode.INVALID_ARGUMENT, StatusCode.NOT_FOUND, StatusCode.FAILED_PRECONDITION,
            StatusCode.PERMISSION_DENIED, StatusCode.UNAUTHENTICATED, StatusCode.ABORTED,
            StatusCode.RESOURCE_EXHAUSTED, StatusCode.ALREADY_EXISTS, StatusCode.OUT_OF_RANGE,
            StatusCode.CANCELLED, StatusCode.DEADLINE_EXCEEDED, StatusCode.UNIMPLEMENTED}


URL_PASSWORD = re.compile(r"(://[^:/@\s;]+:)[^@\s;]+@")


def without_passwords(text: str) -> str:
    """`text` with every password in a URL ("scheme://user:password@") masked."""
    return URL_PASSWORD.sub(r"\1********@", text)


class RequestIds(DependencyProvider):
    """Puts each worker's request id where `JsonLines` finds it. Each worker
    runs in a green thread of its own, with its own context."""

    def worker_setup(self, worker_ctx):
        request_id.set(worker_ctx.call_id_stack[0] if worker_ctx.call_id_stack else "")

    def worker_teardown(self, worker_ctx):
        request_id.set("")


class JsonLines(logging.Formatter):
    def __init__(self, service: str = ""):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
                .isoformat(timespec="milliseconds"),
                "level": record.levelname, "service": self.service, "logger": record.name,
                "message": without_passwords(record.getMessage())}
        if rid := request_id.get():
            line["request_id"] = rid
        if record.exc_info:
            line["error"] = without_passwords(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def refusal(exc) -> StatusCode | None:
    """The status of `exc` when it is the caller's fault, else None."""
    if isinstance(exc, errors.Refused) and not isinstance(exc, errors.Unavailable):
        return STATUS.get(type(exc), StatusCode.INVALID_ARGUMENT)
    if isinstance(exc, GrpcError) and exc.code in REFUSALS:
        return exc.code
    return None


class Refusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        code = refusal(record.exc_info[1]) if record.exc_info else None
        if code is None:
            return True
        worker = record.args[0] if isinstance(record.args, tuple) and record.args else None
        entrypoint = getattr(worker, "entrypoint", None)
        where = (f"{worker.service_name}.{entrypoint.method_name}" if entrypoint is not None
                 else record.name)
        field = getattr(record.exc_info[1], "field", "")
        record.msg, record.args = "refused %s: %s%s", (where, code.name,
                                                       f" (field {field})" if field else "")
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info = record.exc_text = None
        return True


def handler(file: str | None = None, max_bytes: int = 10 * 1024 * 1024,
            backups: int = 5) -> logging.Handler:
    if not file:
        return logging.StreamHandler()
    return logging.handlers.RotatingFileHandler(file, maxBytes=int(max_bytes),
                                                backupCount=int(backups), encoding="utf-8")
