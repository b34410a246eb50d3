"""The flow ledger tampered with in the real store: purpose_router's
VerifyLedger finds an edited, a deleted and a reordered entry where it
happened, and a head fetched with GetChainHead and kept by the provider shows
entries removed from the end, which the chain alone cannot."""

from __future__ import annotations

import pytest
from grpc import StatusCode
from nameko import config
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_extension
from nameko_grpc.client import Client
from nameko_grpc.errors import GrpcError

from services.purpose_router.plans import PlanRepository
from services.purpose_router.service import PurposeRouterService
from tests.service.factories import accepted_batch
from tiaki.core import messages
from tiaki.plumbing.store import Storage
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.ledger_pb2_grpc import LedgerServiceStub


@pytest.fixture
def ledger(start_container, plan, plan_dict, identities, store_db):
    """purpose_router with five batches routed for ccss (five chain entries),
    and a LedgerService client that carries ccss's token."""
    route_five_batches(start_container(PurposeRouterService), plan, plan_dict)
    assert store_db.ledger.count_documents({"provider_id": "ccss"}) == 5
    _, tokens = identities
    with Client(f"//127.0.0.1:{config['GRPC_BIND_PORT']}", LedgerServiceStub) as client:
        client.ccss = [("authorization", f"Bearer {tokens[('provider', 'ccss')]}")]
        client.other = [("authorization", f"Bearer {tokens[('provider', 'other-ngo')]}")]
        yield client


def route_five_batches(container, plan, plan_dict):
    """The example plan stored, and five batches of ccss's routed (five entries)."""
    get_extension(container, Storage, storage_class=PlanRepository).storage.create(plan_dict,
                                                                                  "agency")
    for n in range(5):
        with entrypoint_waiter(container, "route_batch", timeout=15) as result:
            event_dispatcher()(messages.INTAKE, messages.RECORDS_ACCEPTED,
                               accepted_batch(plan, n=2, batch_id=f"b{n}"))
        result.get()


def verify(ledger, kept=(0, "")):
    return ledger.VerifyLedger(ledger_pb2.VerifyLedgerRequest(
        kept_sequence=kept[0], kept_hash=kept[1]), metadata=ledger.ccss)


def entry(store_db, sequence):
    return store_db.ledger.find_one({"provider_id": "ccss", "sequence": sequence})


def test_the_untouched_ledger_is_intact_and_its_head_is_the_last_entry(ledger, store_db):
    head = ledger.GetChainHead(ledger_pb2.GetChainHeadRequest(), metadata=ledger.ccss)
    assert (head.sequence, head.entry_hash) == (5, entry(store_db, 5)["entry_hash"])
    report = verify(ledger, (head.sequence, head.entry_hash))
    assert (report.intact, report.entry_count, report.head_hash) == (True, 5, head.entry_hash)
    # Another provider's head is its own (empty) chain's.
    other = ledger.GetChainHead(ledger_pb2.GetChainHeadRequest(), metadata=ledger.other)
    assert (other.sequence, other.entry_hash) == (0, "0" * 64)


def test_an_edited_entry_is_found(ledger, store_db):
    store_db.ledger.update_one({"_id": entry(store_db, 3)["_id"]}, {"$set": {"record_count": 1}})
    report = verify(ledger)
    assert (report.intact, report.first_broken_sequence) == (False, 3)
    assert report.problem == "its contents do not match its hash"


def test_a_deleted_entry_is_found(ledger, store_db):
    store_db.ledger.delete_one({"_id": entry(store_db, 2)["_id"]})
    report = verify(ledger)
    assert (report.intact, report.first_broken_sequence) == (False, 2)
    assert report.problem == "entry 2 is missing (found 3)"


def test_reordered_entries_are_found(ledger, store_db):
    # Entries 2 and 4 trade places (through a free number: sequence is unique).
    two, four = entry(store_db, 2)["_id"], entry(store_db, 4)["_id"]
    store_db.ledger.update_one({"_id": two}, {"$set": {"sequence": 99}})
    store_db.ledger.update_one({"_id": four}, {"$set": {"sequence": 2}})
    store_db.ledger.update_one({"_id": two}, {"$set": {"sequence": 4}})
    report = verify(ledger)
    assert (report.intact, report.first_broken_sequence) == (False, 2)
    # Entry 4, now second, links to entry 3, not to entry 1.
    assert report.problem == "does not link to the entry before it"


def test_entries_removed_from_the_end_show_against_the_kept_head(ledger, store_db):
    head = ledger.GetChainHead(ledger_pb2.GetChainHeadRequest(), metadata=ledger.ccss)
    store_db.ledger.delete_many({"provider_id": "ccss", "sequence": {"$gte": 4}})
    assert verify(ledger).intact  # what is left is a whole chain
    report = verify(ledger, (head.sequence, head.entry_hash))
    assert (report.intact, report.first_broken_sequence) == (False, 4)
    assert report.problem == ("the chain ends at entry 3, before the head you kept (entry 5): "
                              "entries were removed")


def test_a_malformed_kept_head_is_refused(ledger):
    with pytest.raises(GrpcError) as caught:
        verify(ledger, (3, "not-a-hash"))
    assert caught.value.code == StatusCode.INVALID_ARGUMENT
