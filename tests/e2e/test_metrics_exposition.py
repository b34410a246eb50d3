"""Every service's real /metrics output passes `promtool check metrics`, and every metric
name the dashboards and alert rules read exists in what the services, the portal, the
reference units and RabbitMQ's rabbitmq_prometheus plugin really export."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import requests
from kombu import Connection

from tests.rabbit_node import rabbit_node
from tests.stack import AMQP_HOST, ROOT, SERVICES, free_port
from tiaki.connect import queues
from tiaki.plumbing.broker_users import amqp_uri
from tiaki.plumbing.ops import wait_healthy
from tools.deploy_lint import exported_names_used

RABBIT_PROMETHEUS = os.environ.get("TIAKI_RABBIT_PROMETHEUS", "http://127.0.0.1:15692")
# What deploy/prometheus/prometheus.yml asks the plugin for.
DETAILED = "/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count" \
           "&family=channel_queue_metrics"
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "summary": ("_count", "_sum", "_created"), "gauge": (), "untyped": (), "info": ("_info",)}


def names_in(exposition: str) -> set[str]:
    """Metric names a scrape of this text yields, including those of families that have
    no sample yet (a labelled counter before its first increment)."""
    names = set()
    for line in exposition.splitlines():
        if match := re.match(r"# TYPE (\S+) (\S+)", line):
            family, kind = match.groups()
            base = family.removesuffix("_total") if kind == "counter" else family
            names |= {family} | {base + s for s in SUFFIXES.get(kind, ())}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


@pytest.fixture(scope="module")
def insights(stack):
    """insights too, when the stack does not run it itself."""
    if "insights" in SERVICES:
        yield stack.metrics_ports["insights"]
        return
    grpc_port, metrics_port = free_port(), free_port()
    env = dict(stack.env("insights"), INSIGHTS_GRPC_PORT=str(grpc_port),
               INSIGHTS_METRICS_PORT=str(metrics_port), INSIGHTS_MONGO_URI=stack.db_uri("insights"))
    log = open(stack.tmp / "insights.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "tiaki.plumbing.nameko", "run", "--config",
                             str(ROOT / "config" / "insights.yaml"),
                             "services.insights.service:InsightsService"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert not wait_healthy([f"127.0.0.1:{grpc_port}"], within=60), "insights did not start"
        yield metrics_port
    finally:
        # insights (no AMQP entrypoint yet) takes ~40 s to stop on SIGTERM; it holds no
        # state, so it is not waited for here.
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def portal(stack, tmp_path_factory):
    """The portal on the stack (as tests/browser starts it), with a page served, so its
    page histogram has samples (the sign-in counters export every reason from the start)."""
    from tests.browser.conftest import Portal

    p = Portal(stack, tmp_path_factory.mktemp("portal"))
    try:
        requests.get(f"{p.url}/sign-in", timeout=30)
        yield p.metrics_port
    finally:
        p.stop()


@pytest.fixture(scope="module")
def scrapes(stack, insights, portal) -> dict[str, str]:
    ports = dict(stack.metrics_ports, insights=insights, portal=portal)
    assert {"intake", "purpose_router", "requests", "insights"} <= set(ports)
    assert any(name.startswith("unit-") for name in ports)
    return {name: stack.wait_for(lambda p=port: scrape(p), timeout=30, what=f"{name} /metrics")
            for name, port in ports.items()}


def scrape(port: int) -> str | None:
    """The text at /metrics, or None while nothing listens yet (units start in the
    background)."""
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except requests.ConnectionError:
        return None


def test_promtool_check_metrics_passes_on_every_service(scrapes, tmp_path):
    for name, text in scrapes.items():
        assert "# TYPE" in text, f"{name} served no metrics"
        checked = subprocess.run(["promtool", "check", "metrics"], input=text,
                                 capture_output=True, text=True)
        assert checked.returncode == 0 and not checked.stdout.strip(), (
            f"promtool check metrics on {name}: {checked.stdout}{checked.stderr}")


def test_every_tiaki_metric_the_dashboards_and_alerts_use_is_exported(scrapes):
    exported = set().union(*(names_in(text) for text in scrapes.values()))
    used = {n for n in exported_names_used() if n.startswith("tiaki_")}
    assert "tiaki_requests_open" in used and "tiaki_worker_seconds_bucket" in used
    assert "tiaki_portal_page_seconds_bucket" in used
    assert used - exported == set()


def rabbitmq_names(base: str, amqp_hostport: str, vhost: str, admin: tuple[str, str]) -> set[str]:
    """The plugin's names, with a unit queue and its dead-letter queue declared in `vhost`
    so that per-queue families have samples."""
    with Connection(amqp_uri(admin, amqp_hostport, vhost)) as conn:
        channel = conn.default_channel
        queues.unit_queue("metrics-probe")(channel).declare()
        channel.queue_declare("tiaki.unit.metrics-probe.dlq", durable=False, auto_delete=False)
        try:
            text = requests.get(f"{base}/metrics", timeout=10).text
            text += requests.get(f"{base}{DETAILED}", timeout=10).text
        finally:
            channel.queue_delete("tiaki.unit.metrics-probe")
            channel.queue_delete("tiaki.unit.metrics-probe.dlq")
    return names_in(text)


def test_every_rabbitmq_metric_the_dashboards_and_alerts_use_is_exported(stack, tmp_path):
    used = {n for n in exported_names_used() if not n.startswith("tiaki_")}
    assert used and all(n.startswith("rabbitmq_") for n in used), used
    try:
        shared = requests.get(f"{RABBIT_PROMETHEUS}/metrics", timeout=3).ok
    except requests.ConnectionError:
        shared = False
    if shared:   # the test broker has the plugin (scripts/infra.sh enables it)
        exported = rabbitmq_names(RABBIT_PROMETHEUS, AMQP_HOST, stack.vhost, stack.broker.admin)
    else:        # a broker started before the plugin was enabled: a node of our own
        with rabbit_node(tmp_path) as (amqp, base, admin):
            exported = rabbitmq_names(base, f"127.0.0.1:{amqp}", "/", admin)
    assert used - exported == set()
