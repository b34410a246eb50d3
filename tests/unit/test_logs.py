"""The services' log configuration (config/*.yaml LOGGING with tiaki/plumbing/logs.py):
JSON lines with the call's request id, a refusal as one INFO line without a
traceback or the caller's text, and rotation by size into LOG_FILE."""

from __future__ import annotations

import json
import logging
import logging.config
from types import SimpleNamespace

import pytest
from grpc import StatusCode
from nameko.cli.utils.config import load_config
from nameko_grpc.errors import GrpcError

from tests.stack import ROOT
from tiaki.core.errors import NotFound
from tiaki.plumbing.broker_users import amqp_uri
from tiaki.plumbing.logs import RequestIds, request_id

SERVICES = ("intake", "purpose_router", "requests", "insights")


@pytest.fixture
def logged(tmp_path, monkeypatch):
    """Configures logging from a service's config as `make run` does (LOG_FILE set,
    a small size so rotation shows); returns a reader of the file's lines."""
    path = tmp_path / "svc.log"
    monkeypatch.setenv("LOG_FILE", str(path))
    monkeypatch.setenv("LOG_MAX_BYTES", "4000")
    monkeypatch.setenv("LOG_BACKUPS", "2")
    configured = []

    def configure(service):
        with open(ROOT / "config" / f"{service}.yaml") as fh:
            logging.config.dictConfig(load_config(fh)["LOGGING"])
        configured.append(service)
        return lambda: [json.loads(line) for line in path.read_text().splitlines()]

    yield configure
    for handler in logging.getLogger().handlers:
        handler.close()
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})


def worker(service="requests", method="OpenAccessRequest"):
    return SimpleNamespace(service_name=service, entrypoint=SimpleNamespace(method_name=method),
                           call_id_stack=[f"{service}.{method}.abc123"])


def nameko_logs_a_failed_worker(exc, worker_ctx):
    """What nameko's container does when an entrypoint raises."""
    try:
        raise exc
    except Exception:
        logging.getLogger("nameko.containers").exception(
            "error handling worker %s: %s", worker_ctx, exc)


@pytest.mark.parametrize("service", SERVICES)
def test_a_refusal_is_one_info_line_without_traceback_or_the_callers_text(logged, service):
    lines = logged(service)
    nameko_logs_a_failed_worker(NotFound("client_ref", "no records about client 'whanau-42'"),
                                worker(service))
    nameko_logs_a_failed_worker(GrpcError(StatusCode.UNAUTHENTICATED, "unknown API token"),
                                worker(service, "GetSubmission"))
    (refused, anonymous) = lines()
    assert refused["level"] == "INFO" and "error" not in refused
    assert refused["message"] == f"refused {service}.OpenAccessRequest: NOT_FOUND (field client_ref)"
    assert refused["service"] == service
    assert "whanau-42" not in json.dumps(refused)
    assert anonymous["level"] == "INFO"
    assert anonymous["message"] == f"refused {service}.GetSubmission: UNAUTHENTICATED"


def test_a_failure_keeps_its_level_and_traceback_on_one_line(logged):
    lines = logged("intake")
    nameko_logs_a_failed_worker(KeyError("boom"), worker("intake"))
    (line,) = lines()
    assert line["level"] == "ERROR" and "Traceback" in line["error"] and "KeyError" in line["error"]


def test_lines_carry_the_request_id_of_the_call_being_handled(logged):
    lines = logged("intake")
    ids, call = RequestIds(), worker("intake", "SubmitRecords")
    ids.worker_setup(call)
    logging.getLogger("services.intake").info("in the call")
    ids.worker_teardown(call)
    logging.getLogger("services.intake").info("outside any call")
    inside, outside = lines()
    assert inside["request_id"] == "intake.SubmitRecords.abc123"
    assert "request_id" not in outside and request_id.get() == ""


def test_the_file_rotates_by_size(logged, tmp_path):
    logged("intake")
    for i in range(200):
        logging.getLogger("services.intake").info("line %s %s", i, "x" * 50)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["svc.log", "svc.log.1", "svc.log.2"]
    assert all(p.stat().st_size <= 4000 for p in tmp_path.iterdir())


def test_no_broker_password_reaches_a_line_whatever_node_it_names(logged):
    """A cluster's URI names every node, each with the password; kombu masks
    only the first's when nameko logs that it cannot connect."""
    lines = logged("intake")
    uri = amqp_uri(("svc-intake", "s3cret-Pa_ss"), "127.0.0.1:5801,127.0.0.1:5802,h3:5803", "v")
    logging.getLogger("nameko.amqp.consume").warning("Error connecting to broker at %s", uri)
    try:
        raise ConnectionError(f"refused by {uri}")
    except ConnectionError:
        logging.getLogger("kombu.mixins").exception("Connection to broker lost")
    warned, lost = lines()
    assert "s3cret" not in json.dumps(warned) + json.dumps(lost)
    assert warned["message"].count("svc-intake:********@") == 3
    assert "127.0.0.1:5802" in warned["message"] and "h3:5803" in lost["error"]
