"""The real services as processes, on the real broker and store, in their own
RabbitMQ vhost and their own databases: used by the end-to-end tests and the
benchmark. `make test` and `make bench` start RabbitMQ and the store first.
As under `make run`, each service and unit connects as a broker user of its
own (named after the stack), made with the broker's administrator, whose
credentials scripts/infra.sh wrote in var/broker (or TIAKI_BROKER_DIR)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
import pymongo
import requests

from tiaki.connect.channel import ClientTls, client_channel
from tiaki.intake.v1 import intake_pb2_grpc
from tiaki.plumbing import plan_proto
from tiaki.plumbing.broker_users import admin_credentials, amqp_uri, delete_users, ensure_broker_users
from tiaki.plumbing.ops import wait_healthy
from tiaki.plumbing.secrets import load_kek, make_kek
from tiaki.plumbing.tokens import ensure_tokens
from tiaki.requests.v1 import requests_pb2_grpc
from tiaki.router.v1 import ledger_pb2_grpc, plan_pb2, plan_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
STORE_URI = os.environ.get("TIAKI_STORE_URI", "mongodb://127.0.0.1:27017")
RABBIT_MGMT = os.environ.get("TIAKI_RABBIT_MGMT", "http://127.0.0.1:15672")
AMQP_HOST = os.environ.get("TIAKI_AMQP_HOSTPORT", "127.0.0.1:5672")
BROKER_DIR = Path(os.environ.get("TIAKI_BROKER_DIR", ROOT / "var" / "broker"))  # its users' URIs
SERVICES = {
    "intake": ("services.intake.service:IntakeService", "INTAKE"),
    "purpose_router": ("services.purpose_router.service:PurposeRouterService", "ROUTER"),
    "requests": ("services.requests.service:RequestsService", "REQUESTS"),
    "insights": ("services.insights.service:InsightsService", "INSIGHTS"),
}
UNITS = ("evaluation", "service-delivery")
# Run as two processes each with `split` (tiaki/plumbing/parts.py): "intake" takes the
# bulk work and serves gRPC, "intake-interactive" answers the RPCs. TIAKI_SPLIT=1 turns it
# on for every stack; off by default (two more processes a stack on a shared machine).
SPLIT = ("intake", "purpose_router")
INTERACTIVE = "-interactive"
WHO = [("provider", "ccss"), ("provider", "other-ngo"), ("agency", "agency"),
       ("representative", "whanau-voice")] + [
    ("unit", u) for u in UNITS]


@dataclass(frozen=True)
class Broker:
    """A RabbitMQ node: its management API, AMQP HOST:PORT and administrator."""
    mgmt: str
    amqp_host: str
    admin: tuple[str, str]

    @classmethod
    def shared(cls) -> Broker:
        """The test broker `make test` starts."""
        return cls(RABBIT_MGMT, AMQP_HOST, admin_credentials(str(BROKER_DIR)))

    def uri(self, vhost: str = "/") -> str:
        """The administrator's AMQP URI in `vhost`."""
        return amqp_uri(self.admin, self.amqp_host, vhost)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance_of(name: str) -> tuple[str, int]:
    """("intake", 2) for the process "intake-2" (and its part "intake-2-interactive");
    ("intake", 1) for "intake"."""
    name = name.removesuffix(INTERACTIVE)
    base, _, number = name.rpartition("-")
    return (base, int(number)) if base in SERVICES and number.isdigit() else (name, 1)


class Stack:
    """The running services of one test session, and ways to reach them.
    With `instances` > 1, every service runs that many times (processes
    "intake", "intake-2", ...) against the one broker and store, and clients
    spread their calls over the instances."""

    def __init__(self, tmp: Path, instances: int = 1, tls_dir: Path | None = None,
                 stores: dict[str, str] | None = None, broker: Broker | None = None,
                 split: bool | None = None):
        self.tmp = tmp
        # Owner ("intake", ..., "units") -> its own store's URI; the rest use STORE_URI.
        self.stores = stores or {}
        self.broker = broker or Broker.shared()
        self.instances = instances
        self.split = os.environ.get("TIAKI_SPLIT") == "1" if split is None else split
        # Mutual TLS (tiaki/plumbing/mtls.py): certificates made by scripts/certs.sh in tls_dir.
        self.tls_dir = tls_dir
        self.tls = tls_dir and ClientTls(str(tls_dir / "ca.pem"), str(tls_dir / "server.pem"),
                                         str(tls_dir / "server.key"))
        self.name = f"t{uuid.uuid4().hex[:8]}"
        self.vhost = self.name
        self.amqp_uri = self.broker.uri(self.vhost)  # the administrator's, for looking behind
        self.broker_uris: dict[str, str] = {}  # each service's and unit's own, from provision()
        self.ports = {s: free_port() for s in self.processes()}
        self.metrics_ports = {s: free_port() for s in self.processes()}  # and units'
        self.procs: dict[str, subprocess.Popen] = {}
        self.channels: dict[str, grpc.Channel] = {}
        self.identities = ensure_tokens(str(tmp), WHO)
        self.tokens = {(k, i): (tmp / "tokens" / f"{k}-{i}").read_text().strip() for k, i in WHO}
        self.mongo = pymongo.MongoClient(STORE_URI)
        self.clients = {STORE_URI: self.mongo}
        # The key-encryption keys of intake and purpose_router (0600, this session's own).
        self.kek_files = {"INTAKE_KEK_FILE": make_kek(tmp / "keys" / "intake.kek"),
                          "ROUTER_KEK_FILE": make_kek(tmp / "keys" / "purpose_router.kek")}
        # The units' config (config/units/reference.yaml's form): none, every unit answers at once.
        self.unit_config: Path | None = None

    def service_processes(self, service: str = "") -> list[str]:
        """Every service instance's process name (or just `service`'s)."""
        return [s if i == 1 else f"{s}-{i}" for s in SERVICES if service in ("", s)
                for i in range(1, self.instances + 1)]

    def processes(self, service: str = "") -> list[str]:
        """service_processes, each followed by its interactive part when split
        (start() starts it after the bulk part)."""
        return [p for s in self.service_processes(service) for p in (s, s + INTERACTIVE)
                if p == s or self.split and instance_of(s)[0] in SPLIT]

    # -- lifecycle -------------------------------------------------------------

    def provision(self, units: tuple[str, ...] = UNITS):
        """The stack's vhost, its services' and units' broker users (as
        `make run` has them) and the units' queues."""
        b = self.broker
        requests.put(f"{b.mgmt}/api/vhosts/{self.vhost}", auth=b.admin,
                     timeout=10).raise_for_status()
        self.broker_uris = ensure_broker_users(b.mgmt, b.admin, self.vhost, list(units),
                                               list(SERVICES), str(self.tmp / "broker"),
                                               b.amqp_host, prefix=f"{self.name}-")

    def db_uri(self, db: str) -> str:
        return f"{self.store_of(db)}/{self.name}_{db}"

    def store_of(self, db: str) -> str:
        """The URI of the store holding `db` ("intake", ..., "unit_evaluation")."""
        return self.stores.get("units" if db.startswith("unit_") else db, STORE_URI)

    def env(self, process: str) -> dict:
        base = instance_of(process)[0]
        user = f"{self.name}-svc-{base}" if base in SERVICES else f"{self.name}-{process}"
        env = dict(os.environ, AMQP_URI=self.broker_uris[user],
                   IDENTITIES_FILE=str(self.identities), PYTHONPATH=str(ROOT))
        for service, (_, prefix) in SERVICES.items():
            name = process if instance_of(process)[0] == service else service
            env[f"{prefix}_GRPC_PORT"] = str(self.ports[name])
            env[f"{prefix}_METRICS_PORT"] = str(self.metrics_ports[name])
            env[f"{prefix}_MONGO_URI"] = self.db_uri(service)
        env["MAX_BATCH_RECORDS"] = "2000"
        if self.split and base in SPLIT:
            env["ROLE"] = "interactive" if process.endswith(INTERACTIVE) else "bulk"
        env.update({var: str(path) for var, path in self.kek_files.items()})
        if self.tls_dir:
            env.update(TIAKI_TLS_CERT=str(self.tls_dir / "server.pem"), TIAKI_TLS_CLIENT_CA=str(
                self.tls_dir / "ca.pem"), TIAKI_TLS_KEY=str(self.tls_dir / "server.key"))
        return env

    def start(self, service: str):
        base = instance_of(service)[0]
        if base in SERVICES:
            target = SERVICES[base][0]
            cmd = [sys.executable, "-m", "tiaki.plumbing.nameko", "run", "--config",
                   str(ROOT / "config" / f"{base}.yaml"), target]
        else:
            unit = service.removeprefix("unit-")
            cmd = [sys.executable, "-m", "tiaki.unit", "--unit", unit, "--passive-queue",
                   "--store-uri", self.db_uri(f"unit_{unit}"),
                   "--router", self.target("purpose_router"),
                   "--requests", self.target("requests"),
                   "--token-file", str(self.tmp / "tokens" / f"unit-{unit}"),
                   "--metrics-port", str(self.metrics_ports.setdefault(service, free_port()))]
            if self.unit_config:
                cmd += ["--config", str(self.unit_config)]
            if self.tls_dir:
                cmd += ["--tls-ca", str(self.tls_dir / "ca.pem"), "--tls-cert",
                        str(self.tls_dir / f"unit-{unit}.pem"),
                        "--tls-key", str(self.tls_dir / f"unit-{unit}.key")]
        log = open(self.tmp / f"{service}.log", "ab")
        self.procs[service] = subprocess.Popen(cmd, cwd=ROOT, env=self.env(service), stdout=log,
                                               stderr=subprocess.STDOUT)
        if base in SERVICES:
            missing = wait_healthy([self.address(service)], within=60, tls=self.tls)
            assert not missing, f"{service} did not start:\n{self.log_tail(service)}"
        part = service + INTERACTIVE  # a split service's other part, unless it runs already
        if part in self.ports and part not in self.procs:
            self.start(part)

    def kill(self, service: str, sig=signal.SIGKILL):
        proc = self.procs.pop(service)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a graceful stop that hangs is ended
            proc.kill()
            proc.wait(timeout=30)
            raise AssertionError(f"{service} did not stop within 30 s of {sig!r}") from None

    def stop(self):
        """Units first (they hold connections to the services), then services."""
        for channel in self.channels.values():
            channel.close()
        self.channels.clear()
        for service in sorted(self.procs, key=lambda s: not s.startswith("unit-")):
            self.kill(service, signal.SIGTERM)

    def log_tail(self, service: str, lines: int = 40) -> str:
        text = (self.tmp / f"{service}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def kek(self, service: str) -> bytes:
        """The key-encryption key of "intake" or "purpose_router"."""
        return load_kek(self.kek_files["INTAKE_KEK_FILE" if service == "intake"
                                       else "ROUTER_KEK_FILE"])

    # -- clients ----------------------------------------------------------------

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def target(self, service: str) -> str:
        """A gRPC target naming every instance of the service (one address when one)."""
        names = self.service_processes(service)
        if len(names) == 1:
            return self.address(service)
        return "ipv4:" + ",".join(self.address(n) for n in names)

    def metadata(self, kind: str, ident: str):
        return (("authorization", f"Bearer {self.tokens[(kind, ident)]}"),)

    def channel(self, service: str) -> grpc.Channel:
        """One channel per service for the whole session, closed by stop()."""
        if service not in self.channels:
            if self.tls:
                self.channels[service] = client_channel(self.address(service), self.tls)
            elif service in SERVICES and self.instances > 1:
                # Round robin: successive calls go to each instance in turn.
                self.channels[service] = grpc.insecure_channel(
                    self.target(service), options=[("grpc.lb_policy_name", "round_robin")])
            else:  # pick_first reconnects at once to a restarted service (no backoff)
                self.channels[service] = grpc.insecure_channel(self.address(service))
        return self.channels[service]

    def intake(self):
        return intake_pb2_grpc.IntakeServiceStub(self.channel("intake"))

    def plans(self):
        return plan_pb2_grpc.PlanServiceStub(self.channel("purpose_router"))

    def ledger(self):
        return ledger_pb2_grpc.LedgerServiceStub(self.channel("purpose_router"))

    def requests(self):
        return requests_pb2_grpc.RequestsServiceStub(self.channel("requests"))

    def units(self):
        return ledger_pb2_grpc.UnitServiceStub(self.channel("purpose_router"))

    def create_plan(self, plan_dict: dict) -> int:
        reply = self.plans().CreatePlan(
            plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(plan_dict)),
            metadata=self.metadata("agency", "agency"))
        return reply.plan.version

    def unit_deliveries(self, unit: str, **query) -> list[dict]:
        db = f"unit_{unit}"
        return list(self.client(db)[f"{self.name}_{db}"]["deliveries"].find(query))

    def client(self, db: str) -> pymongo.MongoClient:
        """A client of the store holding `db`, one per store for the session."""
        uri = self.store_of(db)
        if uri not in self.clients:
            self.clients[uri] = pymongo.MongoClient(uri)
        return self.clients[uri]

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def drop(s: Stack):
    """Stops the stack and removes its databases and vhost; the databases go
    first, so a broker that is down cannot leave them behind."""
    try:
        s.stop()
    finally:
        for db in s.mongo.list_database_names():
            if db.startswith(s.name):
                s.mongo.drop_database(db)
        delete_users(s.broker.mgmt, s.broker.admin, list(s.broker_uris))
        requests.delete(f"{s.broker.mgmt}/api/vhosts/{s.vhost}", auth=s.broker.admin, timeout=10)


def start_stack(tmp: Path, units: tuple[str, ...] = UNITS, instances: int = 1,
                stores: dict[str, str] | None = None, unit_config: Path | None = None,
                broker: Broker | None = None, split: bool | None = None) -> Stack:
    """A fresh stack: the services (`instances` of each) and a reference
    consumer per unit (`stores`: owners on stores of their own, see Stack;
    `unit_config`: the units' config, see config/units/reference.yaml;
    `broker`: another than the shared one, e.g. a cluster's; `split`: intake and
    purpose_router as two processes each, default TIAKI_SPLIT)."""
    s = Stack(tmp, instances, stores=stores, broker=broker, split=split)
    s.unit_config = unit_config
    # Before any service starts: they read the identities file once, at start.
    s.identities = ensure_tokens(str(tmp), WHO + [("unit", u) for u in units
                                                  if ("unit", u) not in WHO])
    # Every unit of the example plan gets its queue and user (routing needs the queues),
    # whether or not this stack runs a consumer for it.
    s.provision(tuple(dict.fromkeys(UNITS + tuple(units))))
    try:
        for service in ("purpose_router", "intake", "requests", "insights"):
            for process in s.service_processes(service):
                s.start(process)
        for unit in units:
            s.start(f"unit-{unit}")
    except BaseException:
        drop(s)  # a service that did not come up must not outlive the test run
        raise
    return s
