"""The directory through purpose_router's gRPC, on the real broker and store:
the Agency sets entries, anyone authenticated reads them, a provider cannot
write, and an entry missing its address is refused and changes nothing."""

from __future__ import annotations

import pytest
from grpc import StatusCode
from nameko import config
from nameko_grpc.client import Client
from nameko_grpc.errors import GrpcError

from services.purpose_router.service import PurposeRouterService
from tests.service.factories import WHO
from tiaki.plumbing.tokens import ensure_tokens
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub

CCSS = dpb.DirectoryEntry(kind=dpb.PARTY_KIND_PROVIDER, id="ccss",
                          display_name="City Centre Social Services",
                          postal_address="12 Cuba Street, Te Aro, Wellington 6011",
                          phone="04 555 0100", privacy_email="privacy@ccss.example.org.nz")


@pytest.fixture
def directory(start_container, tmp_path):
    ensure_tokens(str(tmp_path), WHO)
    tokens = {(k, i): (tmp_path / "tokens" / f"{k}-{i}").read_text().strip() for k, i in WHO}
    start_container(PurposeRouterService)
    with Client(f"//127.0.0.1:{config['GRPC_BIND_PORT']}", DirectoryServiceStub) as client:
        yield client, lambda kind, ident: [("authorization", f"Bearer {tokens[(kind, ident)]}")]


def test_the_agency_sets_an_entry_and_a_provider_reads_it(directory):
    client, auth = directory
    client.SetEntry(dpb.SetEntryRequest(entry=CCSS), metadata=auth("agency", "agency"))

    got = client.GetEntry(dpb.GetEntryRequest(kind=dpb.PARTY_KIND_PROVIDER, id="ccss"),
                          metadata=auth("provider", "ccss")).entry
    listed = client.ListEntries(dpb.ListEntriesRequest(), metadata=auth("unit", "evaluation"))

    assert got == CCSS
    assert [e.display_name for e in listed.entries] == ["City Centre Social Services"]


def test_a_provider_cannot_write_the_directory(directory):
    client, auth = directory
    with pytest.raises(GrpcError) as refused:
        client.SetEntry(dpb.SetEntryRequest(entry=CCSS), metadata=auth("provider", "ccss"))
    assert refused.value.code == StatusCode.PERMISSION_DENIED


def test_an_entry_missing_its_address_is_refused_and_changes_nothing(directory):
    client, auth = directory
    client.SetEntry(dpb.SetEntryRequest(entry=CCSS), metadata=auth("agency", "agency"))
    no_address = dpb.DirectoryEntry()
    no_address.CopyFrom(CCSS)
    no_address.postal_address = "  "
    no_address.display_name = "Renamed"

    with pytest.raises(GrpcError) as refused:
        client.SetEntry(dpb.SetEntryRequest(entry=no_address), metadata=auth("agency", "agency"))

    assert refused.value.code == StatusCode.INVALID_ARGUMENT
    assert "the provider ccss needs a postal address" in refused.value.message
    got = client.GetEntry(dpb.GetEntryRequest(kind=dpb.PARTY_KIND_PROVIDER, id="ccss"),
                          metadata=auth("agency", "agency")).entry
    assert got.display_name == "City Centre Social Services"
