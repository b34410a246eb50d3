"""The services, as the portal calls them: through their published gRPC
contracts only, as the signed-in person's organisation (its API token, a file
`<kind>-<org>` in the tokens directory `make run` fills) with `tiaki-person`
naming the person (docs: i4-person). One channel per service for the process.

The services bound the calls one caller has open at once (GRPC_MAX_STREAMS_PER_CALLER,
4) and the portal calls for every person of an organisation as that one caller, so
it keeps at most CALLS_PER_ORG calls of an organisation open and queues the rest,
and watches an organisation's outcomes with one stream shared by all its browsers
(`Feeds`), which keeps the fourth place.

Where the services serve mutual TLS (PORTAL_TLS_CLIENTS), a client certificate names one
identity and the API token must name the same, so the portal calls as each organisation
with that organisation's certificate (`<kind>-<org>.pem` and `.key` beside `ca.pem`, as
scripts/certs.sh makes them): one channel per service and organisation."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.portal.accounts import Staff
from tiaki.connect.channel import ClientTls, client_channel
from tiaki.insights.v1 import measures_pb2_grpc, outcomes_pb2, outcomes_pb2_grpc
from tiaki.intake.v1 import intake_pb2_grpc, limits_pb2_grpc, stories_pb2_grpc
from tiaki.requests.v1 import requests_pb2_grpc
from tiaki.router.v1 import (
    agreement_pb2_grpc,
    codesign_pb2_grpc,
    directory_pb2_grpc,
    ledger_pb2_grpc,
    plan_pb2_grpc,
)

PERSON_METADATA = "tiaki-person"
CALLS_PER_ORG = 3
log = logging.getLogger(__name__)

STUBS = {
    "intake": ("intake", intake_pb2_grpc.IntakeServiceStub),
    "limits": ("intake", limits_pb2_grpc.LimitsServiceStub),
    "stories": ("intake", stories_pb2_grpc.StoriesServiceStub),
    "plans": ("purpose_router", plan_pb2_grpc.PlanServiceStub),
    "ledger": ("purpose_router", ledger_pb2_grpc.LedgerServiceStub),
    "agreement": ("purpose_router", agreement_pb2_grpc.AgreementServiceStub),
    "codesign": ("purpose_router", codesign_pb2_grpc.CodesignServiceStub),
    "directory": ("purpose_router", directory_pb2_grpc.DirectoryServiceStub),
    "requests": ("requests", requests_pb2_grpc.RequestsServiceStub),
    "outcomes": ("insights", outcomes_pb2_grpc.OutcomesServiceStub),
    "measures": ("insights", measures_pb2_grpc.MeasuresServiceStub),
    "unit_outcomes": ("insights", outcomes_pb2_grpc.UnitOutcomesServiceStub),
    "agency_outcomes": ("insights", outcomes_pb2_grpc.AgencyOutcomesServiceStub),
}


class NoToken(Exception):
    """The portal holds no API token for this organisation."""


@dataclass
class Backends:
    addresses: dict[str, str]  # service -> HOST:PORT
    tokens_dir: Path
    tls_dir: str = ""  # each organisation's client certificate ("": the services take tokens alone)

    def __post_init__(self):
        self._channels: dict[tuple[str, str, str], grpc.Channel] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], threading.BoundedSemaphore] = {}

    def channel(self, service: str, kind: str = "", org: str = "") -> grpc.Channel:
        """The channel to `service` for calls as organisation `kind` `org` (one for all
        organisations unless the services serve mutual TLS)."""
        key = (service, kind, org) if self.tls_dir else (service, "", "")
        with self._lock:
            if key not in self._channels:
                self._channels[key] = client_channel(self.addresses[service],
                                                     self.client_tls(kind, org))
            return self._channels[key]

    def client_tls(self, kind: str, org: str) -> ClientTls | None:
        if not self.tls_dir:
            return None
        tls = Path(self.tls_dir)
        cert, key = tls / f"{kind}-{org}.pem", tls / f"{kind}-{org}.key"
        if not (cert.exists() and key.exists()):
            raise NoToken(f"no client certificate for {kind} {org} in {tls}")
        return ClientTls(str(tls / "ca.pem"), str(cert), str(key))

    def token(self, kind: str, org: str) -> str:
        key = (kind, org)
        if key not in self._tokens:
            path = self.tokens_dir / f"{kind}-{org}"
            try:
                self._tokens[key] = path.read_text().strip()
            except OSError:
                raise NoToken(f"no API token for {kind} {org} in {self.tokens_dir}") from None
        return self._tokens[key]

    def metadata(self, person: Staff) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(person.org_kind, person.org)}"),
                (PERSON_METADATA, person.id))

    def slots(self, kind: str, org: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault((kind, org), threading.BoundedSemaphore(CALLS_PER_ORG))

    def stub(self, name: str, person: Staff) -> Caller:
        service, stub_class = STUBS[name]
        return Caller(stub_class(self.channel(service, person.org_kind, person.org)),
                      self.metadata(person),
                      self.slots(person.org_kind, person.org))

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()


class Caller:
    """A stub whose every method is called with the person's metadata and a
    deadline, holding one of the organisation's call slots while it runs."""

    def __init__(self, stub, metadata, slots: threading.BoundedSemaphore, timeout: float = 20.0):
        self._stub, self._metadata, self._slots, self._timeout = stub, metadata, slots, timeout

    def __getattr__(self, method: str):
        call = getattr(self._stub, method)

        def calling(request, **kwargs):
            kwargs.setdefault("metadata", self._metadata)
            kwargs.setdefault("timeout", self._timeout)
            if not self._slots.acquire(timeout=self._timeout):
                raise Busy()
            try:
                return call(request, **kwargs)
            finally:
                self._slots.release()
        return calling


class Busy(Exception):
    """The organisation's calls stayed taken for the whole deadline."""


class Feeds:
    """One outcomes stream per organisation (as the organisation, no person named:
    it serves all its people), fanned out to every browser watching it."""

    def __init__(self, backends: Backends):
        self.backends = backends
        self.watchers: dict[tuple[str, str], set] = defaultdict(set)
        self.calls: dict[tuple[str, str], object] = {}
        self.lock = threading.Lock()

    def watch(self, kind: str, org: str, view) -> asyncio.Queue:
        """A queue of `view(outcome)` for each outcome the organisation's feed sends."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        loop = asyncio.get_running_loop()
        key = (kind, org)
        with self.lock:
            self.watchers[key].add((queue, loop))
            start = key not in self.calls
            if start:
                self.calls[key] = None
        if start:
            threading.Thread(target=self._follow, args=(key, view), daemon=True,
                             name=f"feed-{kind}-{org}").start()
        return queue

    def unwatch(self, kind: str, org: str, queue: asyncio.Queue) -> None:
        key = (kind, org)
        with self.lock:
            self.watchers[key] = {w for w in self.watchers[key] if w[0] is not queue}
            if not self.watchers[key] and self.calls.get(key) is not None:
                self.calls[key].cancel()

    def _follow(self, key, view) -> None:
        stub = outcomes_pb2_grpc.OutcomesServiceStub(self.backends.channel("insights", *key))
        metadata = (("authorization", f"Bearer {self.backends.token(*key)}"),)
        while True:
            with self.lock:
                if not self.watchers[key]:
                    del self.calls[key]
                    return
                call = self.calls[key] = stub.WatchOutcomes(outcomes_pb2.WatchOutcomesRequest(),
                                                            metadata=metadata)
            try:
                for item in call:
                    shown = view(item.outcome)
                    with self.lock:
                        watchers = list(self.watchers[key])
                    for queue, loop in watchers:
                        loop.call_soon_threadsafe(_offer, queue, shown)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.CANCELLED:
                    log.warning("outcomes feed of %s %s: %s; again in 2 s", *key, exc.code().name)
                    time.sleep(2)


def _offer(queue: asyncio.Queue, item) -> None:
    if not queue.full():  # a browser that stopped reading misses outcomes, never blocks others
        queue.put_nowait(item)
