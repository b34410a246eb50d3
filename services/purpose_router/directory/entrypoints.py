"""purpose_router's directory entrypoints: DirectoryService (the Agency
writes, anyone authenticated reads) and the RPC other services ask for names."""

from __future__ import annotations

import dataclasses

from nameko_grpc.entrypoint import Grpc

from services.purpose_router.directory import domain
from services.purpose_router.directory.storage import DirectoryStorage
from tiaki.core.errors import Invalid, NotFound
from tiaki.plumbing.dead_letter import rpc
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.store import Storage
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub

directory_grpc = Grpc.implementing(DirectoryServiceStub)

KIND_PB = {"provider": dpb.PARTY_KIND_PROVIDER, "agency": dpb.PARTY_KIND_AGENCY,
           "unit": dpb.PARTY_KIND_UNIT}
READERS = ("provider", "unit", "agency", "representative")


def _kind(value: int) -> str:
    for name, number in KIND_PB.items():
        if number == value:
            return name
    raise Invalid("kind", "must be provider, agency or unit")


def entry_message(entry: domain.Entry) -> dpb.DirectoryEntry:
    return dpb.DirectoryEntry(kind=KIND_PB[entry.kind], **{
        k: v for k, v in dataclasses.asdict(entry).items() if k != "kind"})


class DirectoryEntrypoints:
    directory = Storage(DirectoryStorage)
    identities = Identities()

    @directory_grpc
    def SetEntry(self, request, context):
        self.identities.require(context, "agency")
        e = request.entry
        entry = domain.checked(_kind(e.kind), e.id, **{f: getattr(e, f) for f in domain.FIELDS})
        self.directory.put(entry)
        return dpb.SetEntryResponse(entry=entry_message(entry))

    @directory_grpc
    def GetEntry(self, request, context):
        self.identities.require(context, *READERS)
        kind = _kind(request.kind)
        found = self.directory.get(kind, request.id.strip() or
                                   (domain.AGENCY_ID if kind == "agency" else ""))
        if found is None:
            raise NotFound("id", f"the directory has no {kind} {request.id.strip()!r}")
        return dpb.GetEntryResponse(entry=entry_message(found))

    @directory_grpc
    def ListEntries(self, request, context):
        self.identities.require(context, *READERS)
        return dpb.ListEntriesResponse(entries=[entry_message(e) for e in self.directory.all()])

    @rpc
    def directory_entries(self) -> dict:
        """Every entry by "<kind>:<id>", as dicts: how other services name parties."""
        return {k: dataclasses.asdict(e) for k, e in self.directory.by_key().items()}
