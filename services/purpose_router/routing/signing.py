"""The ledger's signing key and the signed tree heads made with it (the
format is tiaki.core.tree_heads, the tree tiaki.core.merkle).

The Ed25519 key is made on first use and kept in the store only sealed under
purpose_router's key-encryption key (tiaki.plumbing.secrets; the file named by
the config key KEY_ENCRYPTION_KEY_FILE), so someone who can write the store
but not read that file cannot sign a head. Every instance shares the key (the
first one written wins)."""

from __future__ import annotations

import mongoengine as me

from tiaki.core import merkle, tree_heads
from tiaki.core.clock import now_iso
from tiaki.core.errors import Invalid, Unavailable
from tiaki.core.ledger import verify_chain
from tiaki.plumbing import secrets
from tiaki.plumbing.store import Collection

KEY_NAME = "ledger-signing-key"


class LedgerKey(me.Document):
    meta = {"collection": "ledger_keys"}
    name = me.StringField(primary_key=True)
    sealed = me.BinaryField(required=True)


class LedgerSigner:
    """Signs a provider's tree head over the entries it is given, and proves
    inclusion and consistency over them."""

    def __init__(self, kek: bytes):
        self._kek = kek  # the service's key-encryption key (Storage(..., sealed=True))
        self._keys = Collection(LedgerKey)
        self._private: bytes | None = None

    def ensure_indexes(self):
        LedgerKey.ensure_indexes()

    def _key(self) -> bytes:
        if self._private is None:
            # Made on first use; of two instances racing, the first insert wins.
            self._keys.insert({"_id": KEY_NAME, "sealed": secrets.seal(
                self._kek, tree_heads.new_signing_key(), KEY_NAME)})
            try:
                self._private = secrets.unseal(self._kek, self._keys.get(KEY_NAME)["sealed"],
                                               KEY_NAME)
            except ValueError as exc:
                raise Unavailable("", f"the ledger's signing key in the store: {exc}") from None
        return self._private

    def public_key(self) -> bytes:
        return tree_heads.public_key(self._key())

    def signed_head(self, provider_id: str, entries: list[dict]) -> tree_heads.SignedHead:
        """The head of the provider's tree over `entries` (all of them, in
        sequence order), signed; refused over a chain that does not verify."""
        verdict = verify_chain(entries)
        if not verdict.intact:
            raise Unavailable("", f"the ledger is broken at entry {verdict.first_broken} "
                                  f"({verdict.problem}): no head is signed over it")
        return tree_heads.sign(self._key(), provider_id, len(entries),
                               tree_heads.root_of([e["entry_hash"] for e in entries]), now_iso())


def _leaves(entries: list[dict], size: int, field: str) -> list[bytes]:
    if not 1 <= size <= len(entries):
        raise Invalid(field, f"the ledger has {len(entries)} entries; no tree of {size}")
    return [merkle.leaf_hash(e["entry_hash"]) for e in entries[:size]]


def inclusion_proof(entries: list[dict], sequence: int, tree_size: int) -> list[bytes]:
    leaves = _leaves(entries, tree_size, "tree_size")
    if not 1 <= sequence <= tree_size:
        raise Invalid("sequence", f"entry {sequence} is not in a tree of {tree_size}")
    return merkle.inclusion_proof(sequence - 1, leaves)


def consistency_proof(entries: list[dict], first_size: int, second_size: int) -> list[bytes]:
    leaves = _leaves(entries, second_size, "second_size")
    if not 1 <= first_size <= second_size:
        raise Invalid("first_size", f"first_size must be from 1 to second_size ({second_size})")
    return merkle.consistency_proof(first_size, leaves)
