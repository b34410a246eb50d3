"""The services, as the portal calls them: through their published gRPC
contracts only, as the signed-in person's organisation (its API token, a file
`<kind>-<org>` in the tokens directory `make run` fills) with `tiaki-person`
naming the person (docs: i4-person). One channel per service for the process."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.portal.accounts import Staff
from tiaki.connect.channel import client_channel
from tiaki.insights.v1 import measures_pb2_grpc, outcomes_pb2_grpc
from tiaki.intake.v1 import intake_pb2_grpc, limits_pb2_grpc
from tiaki.requests.v1 import requests_pb2_grpc
from tiaki.router.v1 import agreement_pb2_grpc, codesign_pb2_grpc, ledger_pb2_grpc, plan_pb2_grpc

PERSON_METADATA = "tiaki-person"

STUBS = {
    "intake": ("intake", intake_pb2_grpc.IntakeServiceStub),
    "limits": ("intake", limits_pb2_grpc.LimitsServiceStub),
    "plans": ("purpose_router", plan_pb2_grpc.PlanServiceStub),
    "ledger": ("purpose_router", ledger_pb2_grpc.LedgerServiceStub),
    "agreement": ("purpose_router", agreement_pb2_grpc.AgreementServiceStub),
    "codesign": ("purpose_router", codesign_pb2_grpc.CodesignServiceStub),
    "requests": ("requests", requests_pb2_grpc.RequestsServiceStub),
    "outcomes": ("insights", outcomes_pb2_grpc.OutcomesServiceStub),
    "measures": ("insights", measures_pb2_grpc.MeasuresServiceStub),
}


class NoToken(Exception):
    """The portal holds no API token for this organisation."""


@dataclass
class Backends:
    addresses: dict[str, str]  # service -> HOST:PORT
    tokens_dir: Path

    def __post_init__(self):
        self._channels: dict[str, grpc.Channel] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def channel(self, service: str) -> grpc.Channel:
        with self._lock:
            if service not in self._channels:
                self._channels[service] = client_channel(self.addresses[service])
            return self._channels[service]

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

    def stub(self, name: str, person: Staff) -> Caller:
        service, stub_class = STUBS[name]
        return Caller(stub_class(self.channel(service)), self.metadata(person))

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()


class Caller:
    """A stub whose every method is called with the person's metadata and a deadline."""

    def __init__(self, stub, metadata, timeout: float = 20.0):
        self._stub, self._metadata, self._timeout = stub, metadata, timeout

    def __getattr__(self, method: str):
        call = getattr(self._stub, method)

        def calling(request, **kwargs):
            kwargs.setdefault("metadata", self._metadata)
            kwargs.setdefault("timeout", self._timeout)
            return call(request, **kwargs)
        return calling
