"""What a client remembers of each provider's ledger, and the check it makes
of every new signed head against it (tiaki.core.tree_heads.check), for the
`tiaki` CLI and the Agency units' SDK alike.

The memory is a small JSON file of the client's own (mode 0600): for each
provider at each router address, the pinned signing key and the last head
verified. The CLI's is under $TIAKI_STATE_DIR (default ~/.local/state/tiaki),
a unit's beside it under its own name. Delete an entry only when you know why
the key changed or the ledger restarted: the next check then trusts again on
first use."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tiaki.core import tree_heads
from tiaki.core.clock import now_iso
from tiaki.core.tree_heads import HeadCheck, SignedHead
from tiaki.router.v1 import ledger_pb2


def state_dir() -> Path:
    return Path(os.environ.get("TIAKI_STATE_DIR") or Path.home() / ".local" / "state" / "tiaki")


class RememberedHeads:
    """{"<provider>@<router>": {public_key, pinned_at, head, verified_at}} in one file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _all(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def get(self, name: str) -> dict | None:
        return self._all().get(name)

    def put(self, name: str, record: dict) -> None:
        """Replaces the file whole (a crash leaves the old one or the new one)."""
        everything = {**self._all(), name: record}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_name(self.path.name + ".new")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(everything, fh, indent=1, sort_keys=True)
        os.replace(partial, self.path)


@dataclass(frozen=True)
class Served:
    """A signed head and the key it should verify under, as the router served them."""
    public_key: bytes
    head: SignedHead


def fetch(stub, metadata, provider_id: str = "") -> Served:
    """The router's signing key and the provider's signed head now (a
    provider's own when provider_id is empty)."""
    key = stub.GetLedgerKey(ledger_pb2.GetLedgerKeyRequest(), metadata=metadata)
    h = stub.GetSignedTreeHead(ledger_pb2.GetSignedTreeHeadRequest(provider_id=provider_id),
                               metadata=metadata).head
    return Served(key.public_key, SignedHead(h.provider_id, h.tree_size, h.root_hash,
                                             h.timestamp, h.signature.hex()))


def check(stub, metadata, memory: RememberedHeads, router: str, served: Served,
          entry_hashes: list[str] | None = None, provider_id: str = "") -> HeadCheck:
    """Checks a served head against what `memory` holds for its provider at
    this router (consistency proofs fetched as needed), and remembers it when
    it holds. `entry_hashes`: every entry listed, in order, to rebuild its root."""
    head = served.head
    if provider_id and head.provider_id != provider_id:
        return HeadCheck(f"the signed head is {head.provider_id!r}'s, not {provider_id!r}'s")

    def prove(first: int, second: int) -> list[bytes]:
        return list(stub.GetConsistencyProof(ledger_pb2.GetConsistencyProofRequest(
            provider_id=provider_id, first_size=first, second_size=second),
            metadata=metadata).hashes)

    name = f"{head.provider_id}@{router}"
    result = tree_heads.check(memory.get(name), served.public_key, head, prove, entry_hashes,
                              now_iso())
    if result.remember is not None:
        memory.put(name, result.remember)
    return result
