"""purpose_router's signed tree heads and proofs over a provider's ledger in
the real store: the head is signed with the published key, which is kept in
the store only sealed under the service's key-encryption key; inclusion and
consistency proofs verify against it; a unit sees only the ledgers of
providers that delivered to it; no head is signed over a broken chain."""

from __future__ import annotations

import pytest
from grpc import StatusCode
from nameko import config
from nameko_grpc.client import Client
from nameko_grpc.errors import GrpcError

from services.purpose_router.service import PurposeRouterService
from tests.service.test_ledger_tamper_service import route_five_batches
from tiaki.core import merkle, tree_heads
from tiaki.core.tree_heads import SignedHead
from tiaki.plumbing import secrets
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.ledger_pb2_grpc import LedgerServiceStub


@pytest.fixture
def kek(service_config, tmp_path):
    path = secrets.make_kek(tmp_path / "keys" / "purpose_router.kek")
    with config.patch({"KEY_ENCRYPTION_KEY_FILE": str(path)}):
        yield path


@pytest.fixture
def ledger(kek, start_container, plan, plan_dict, identities, store_db):
    """purpose_router with five batches routed for ccss (five entries, each a
    delivery to the evaluation unit), and a client with everyone's tokens."""
    route_five_batches(start_container(PurposeRouterService), plan, plan_dict)
    _, tokens = identities
    with Client(f"//127.0.0.1:{config['GRPC_BIND_PORT']}", LedgerServiceStub) as client:
        client.who = {who: [("authorization", f"Bearer {token}")]
                      for (_, who), token in tokens.items()}
        yield client


def signed_head(ledger, who="ccss", provider_id="") -> SignedHead:
    h = ledger.GetSignedTreeHead(ledger_pb2.GetSignedTreeHeadRequest(provider_id=provider_id),
                                 metadata=ledger.who[who]).head
    return SignedHead(h.provider_id, h.tree_size, h.root_hash, h.timestamp, h.signature.hex())


def stored_hashes(store_db) -> list[str]:
    return [e["entry_hash"] for e in store_db.ledger.find({"provider_id": "ccss"}).sort("sequence")]


def test_the_head_is_signed_with_the_published_key_over_the_stored_entries(ledger, store_db):
    key = ledger.GetLedgerKey(ledger_pb2.GetLedgerKeyRequest(), metadata=ledger.who["ccss"])
    assert key.fingerprint == tree_heads.fingerprint(key.public_key)
    head = signed_head(ledger)
    assert (head.provider_id, head.tree_size) == ("ccss", 5)
    assert tree_heads.signature_holds(key.public_key, head)
    assert head.root_hash == tree_heads.root_of(stored_hashes(store_db))
    # The evaluation unit, which received these deliveries, gets the same tree.
    assert signed_head(ledger, "evaluation", "ccss").root_hash == head.root_hash


def test_every_entry_has_an_inclusion_proof_and_heads_a_consistency_proof(ledger, store_db):
    hashes = stored_hashes(store_db)
    head = signed_head(ledger)
    for sequence in range(1, 6):
        proof = ledger.GetInclusionProof(ledger_pb2.GetInclusionProofRequest(
            sequence=sequence, tree_size=5), metadata=ledger.who["ccss"])
        assert proof.entry_hash == hashes[sequence - 1]
        assert merkle.verify_inclusion(merkle.leaf_hash(proof.entry_hash), sequence - 1, 5,
                                       list(proof.hashes), bytes.fromhex(head.root_hash))
    for first in range(1, 6):
        proof = ledger.GetConsistencyProof(ledger_pb2.GetConsistencyProofRequest(
            first_size=first, second_size=5), metadata=ledger.who["ccss"])
        assert merkle.verify_consistency(first, bytes.fromhex(tree_heads.root_of(hashes[:first])),
                                         5, bytes.fromhex(head.root_hash), list(proof.hashes))


def test_the_signing_key_is_in_the_store_only_sealed(ledger, store_db, kek):
    public = ledger.GetLedgerKey(ledger_pb2.GetLedgerKeyRequest(),
                                 metadata=ledger.who["agency"]).public_key
    doc = store_db.ledger_keys.find_one()
    private = secrets.unseal(secrets.load_kek(kek), doc["sealed"], "ledger-signing-key")
    assert tree_heads.public_key(private) == public
    assert private not in bytes(doc["sealed"])
    with pytest.raises(ValueError):
        secrets.unseal(b"\x00" * 32, doc["sealed"], "ledger-signing-key")


def test_callers_see_only_ledgers_they_are_part_of(ledger):
    cases = [("other-ngo", "ccss"),              # another provider
             ("service-delivery", "ccss"),       # a unit ccss has not delivered to
             ("evaluation", "")]                 # a unit must name the provider
    for who, provider in cases:
        with pytest.raises(GrpcError) as refused:
            signed_head(ledger, who, provider)
        assert refused.value.code == StatusCode.NOT_FOUND, (who, provider)
    assert signed_head(ledger, "other-ngo").tree_size == 0
    with pytest.raises(GrpcError) as refused:
        ledger.GetSignedTreeHead(ledger_pb2.GetSignedTreeHeadRequest(),
                                 metadata=ledger.who["agency"])
    assert refused.value.code == StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("request_", [
    ledger_pb2.GetInclusionProofRequest(sequence=6, tree_size=5),
    ledger_pb2.GetInclusionProofRequest(sequence=1, tree_size=6),
    ledger_pb2.GetInclusionProofRequest(sequence=0, tree_size=5)])
def test_proofs_outside_the_tree_are_refused(ledger, request_):
    with pytest.raises(GrpcError) as refused:
        ledger.GetInclusionProof(request_, metadata=ledger.who["ccss"])
    assert refused.value.code == StatusCode.INVALID_ARGUMENT
    with pytest.raises(GrpcError) as refused:
        ledger.GetConsistencyProof(ledger_pb2.GetConsistencyProofRequest(
            first_size=4, second_size=3), metadata=ledger.who["ccss"])
    assert refused.value.code == StatusCode.INVALID_ARGUMENT


def test_no_head_is_signed_over_a_broken_chain(ledger, store_db):
    store_db.ledger.update_one({"provider_id": "ccss", "sequence": 3},
                               {"$set": {"record_count": 99}})
    with pytest.raises(GrpcError) as refused:
        signed_head(ledger)
    assert refused.value.code == StatusCode.UNAVAILABLE
    assert "broken at entry 3" in refused.value.message
