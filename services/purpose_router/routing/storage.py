"""Routing's own records: who holds what about a person (batch holdings), the
per-batch partial aggregates kept until a submission is sealed, the seals,
and the service's secrets."""

from __future__ import annotations

import secrets

import mongoengine as me

from services.purpose_router.routing.domain import HOLDING_BUCKETS, holding_bucket
from tiaki.core.records import BUCKETS
from tiaki.plumbing.secrets import seal, unseal
from tiaki.plumbing.store import Collection, contains


class Holding(me.Document):
    """The people of one batch in one bucket, under the anchor purpose's
    pseudonyms, and the batch's deliveries (see domain.batch_holdings): how a
    family's request finds exactly the units holding the person's information.
    `bucket_key` is one equality lookup on an index (the embedded store indexes
    neither array members nor $in), then the pseudonym is matched among a few."""
    meta = {"collection": "batch_holdings", "indexes": ["bucket_key"]}
    holding_key = me.StringField(primary_key=True)  # "<batch>:<bucket>"
    # "<provider>:<programme>:<anchor>:<bucket>", the bucket as domain.holding_bucket names it
    bucket_key = me.StringField(required=True)
    pseudonyms = me.ListField(me.StringField())
    deliveries = me.ListField(me.ListField(me.StringField()))  # [delivery_id, unit_id, purpose_id]


# The bucket counts holdings are kept in: today's, and 64 of those stored before.
HOLDING_LAYOUTS = (HOLDING_BUCKETS, BUCKETS)


def bucket_key(provider_id: str, programme_id: str, anchor_purpose_id: str, bucket: str) -> str:
    return f"{provider_id}:{programme_id}:{anchor_purpose_id}:{bucket}"


class Partial(me.Document):
    meta = {"collection": "partials", "indexes": [("submission_id", "purpose_id")]}
    partial_key = me.StringField(primary_key=True)  # "<batch>:<purpose>"
    submission_id = me.StringField(required=True)
    purpose_id = me.StringField(required=True)
    # [[cell key, count, [sums]], ...]: a list, since cell keys are free text
    cells = me.ListField()


class Seal(me.Document):
    meta = {"collection": "seals"}
    submission_id = me.StringField(primary_key=True)
    event = me.DictField(required=True)


class Secret(me.Document):
    """A secret of the router's, sealed under its key-encryption key."""
    meta = {"collection": "secrets"}
    name = me.StringField(primary_key=True)
    sealed = me.BinaryField(required=True)


def secret_purpose(name: str) -> str:
    """What a router secret is sealed for: it opens only as the secret it was made as."""
    return f"router-secret:{name}"


class RoutingStorage:
    def __init__(self, kek: bytes):
        self.kek = kek  # seals the secrets
        self._holdings = Collection(Holding)
        self._partials = Collection(Partial)
        self._seals = Collection(Seal)
        self._secrets = Collection(Secret)

    def ensure_indexes(self):
        for doc in (Holding, Partial, Seal, Secret):
            doc.ensure_indexes()

    # -- holdings -----------------------------------------------------------------

    def save_holdings(self, batch_id: str, provider_id: str, programme_id: str,
                      holdings: list[dict]):
        # A redelivered batch writes the same people and deliveries again: skipped.
        self._holdings.insert_new([
            {"_id": f"{batch_id}:{h['bucket']}", "pseudonyms": h["pseudonyms"],
             "bucket_key": bucket_key(provider_id, programme_id, h["anchor"], h["bucket"]),
             "deliveries": h["deliveries"]} for h in holdings])

    def holdings(self, provider_id: str, programme_id: str, anchor_purpose_id: str,
                 pseudonym: str, buckets: int = HOLDING_BUCKETS) -> list[list[str]]:
        """[[delivery_id, unit_id, purpose_id]] of the batches that carried this
        pseudonym, were `anchor_purpose_id` their anchor purpose, among the
        holdings kept in `buckets` buckets (HOLDING_LAYOUTS: ask each)."""
        key = bucket_key(provider_id, programme_id, anchor_purpose_id,
                         holding_bucket(pseudonym, buckets))
        return [d for h in self._holdings.find({"bucket_key": key,
                                                "pseudonyms": contains(pseudonym)},
                                               fields=["deliveries"])
                for d in h["deliveries"]]

    # -- aggregates ---------------------------------------------------------------

    def save_partial(self, batch_id: str, submission_id: str, purpose_id: str, cells: dict):
        self._partials.put(f"{batch_id}:{purpose_id}", {
            "submission_id": submission_id, "purpose_id": purpose_id,
            "cells": [[key, count, sums] for key, (count, sums) in cells.items()]})

    def partials(self, submission_id: str, purpose_id: str) -> dict[str, dict]:
        """{batch_id: {cell key: [count, sums]}} of one purpose of a submission."""
        return {d["_id"].rsplit(":", 1)[0]: {key: [count, sums] for key, count, sums in d["cells"]}
                for d in self._partials.find({"submission_id": submission_id,
                                              "purpose_id": purpose_id})}

    def save_seal(self, event: dict):
        self._seals.put(event["submission_id"], {"event": event})

    def seal(self, submission_id: str) -> dict | None:
        doc = self._seals.get(submission_id)
        return doc["event"] if doc else None

    # -- secrets ------------------------------------------------------------------

    def secret(self, name: str) -> bytes:
        """A random secret made on first use and kept in this service's store, so
        it survives restarts and every instance shares it (the first written wins).
        Stored sealed: a copy of the database does not give it away."""
        purpose = secret_purpose(name)
        self._secrets.insert({"_id": name, "sealed": seal(self.kek, secrets.token_bytes(32), purpose)})
        return unseal(self.kek, self._secrets.get(name)["sealed"], purpose)
