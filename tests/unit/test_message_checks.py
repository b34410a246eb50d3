"""The checks that decide a message is poison before anything is stored: the
unit SDK's (deliveries and queries), purpose_router's (batches and seals), and
which failures are parked at once rather than retried."""

from __future__ import annotations

import pymongo.errors
import pytest

from services.purpose_router.routing import domain
from tiaki.connect import queues
from tiaki.unit.checks import message_problem


def delivery(**changes) -> dict:
    body = {"delivery_id": "b1:eval", "kind": "records", "provider_id": "ccss",
            "programme_id": "p", "submission_id": "s", "period": "2026Q3",
            "purpose_id": "eval", "unit_id": "evaluation", "fields": ["pseudonym"],
            "record_count": 1, "content_hash": "0" * 64, "records": [{"pseudonym": "ab"}]}
    body.update(changes)
    return body


def query(**changes) -> dict:
    body = {"kind": "query", "request_id": "r1", "request_kind": "access",
            "unit_id": "evaluation",
            "purposes": [{"purpose_id": "eval", "pseudonyms": ["ab"], "delivery_ids": ["b1:eval"]}]}
    body.update(changes)
    return body


def supersession(**changes) -> dict:
    body = {"kind": "supersession", "delivery_id": "s2:supersedes:evaluation",
            "unit_id": "evaluation", "provider_id": "ccss", "programme_id": "p",
            "period": "2026Q3", "submission_id": "s2", "supersedes_submission_id": "s",
            "delivery_ids": ["b1:eval"]}
    body.update(changes)
    return body


def test_well_formed_messages_pass():
    assert message_problem(supersession()) is None
    assert message_problem(delivery()) is None
    assert message_problem(delivery(kind="aggregate", cells=[], records=None)) is None
    assert message_problem(query()) is None
    assert message_problem(query(request_kind="correction", correction={
        "field": "region", "current_value": "", "corrected_value": "North",
        "reason": "moved"})) is None


@pytest.mark.parametrize("body,why", [
    ([1, 2], "JSON object"),
    (delivery(kind="teleport"), "unknown kind"),
    (delivery(delivery_id=""), "delivery_id"),
    (delivery(unit_id="\ud800"), "unit_id"),  # a lone surrogate cannot be stored
    (delivery(fields="pseudonym"), "fields"),
    (delivery(record_count=True), "record_count"),
    (delivery(record_count=2**70), "record_count"),
    (delivery(records=[{"region": "North"}]), "pseudonym"),
    (delivery(kind="aggregate", cells="x"), "cells"),
    (query(request_kind="delete everything"), "request_kind"),
    (query(purposes=[{"purpose_id": "eval"}]), "purposes"),
    (query(purposes=[{"purpose_id": "eval", "pseudonym": "ab", "delivery_ids": []}]), "purposes"),
    (query(purposes=[{"purpose_id": "eval", "pseudonyms": [], "delivery_ids": []}]), "purposes"),
    (query(request_kind="correction"), "correction"),
    (supersession(supersedes_submission_id=""), "supersedes_submission_id"),
    (supersession(delivery_ids="b1:eval"), "delivery_ids"),
])
def test_malformed_messages_are_named(body, why):
    assert why in message_problem(body)


def batch(**changes) -> dict:
    body = {"submission_id": "s", "provider_id": "ccss", "programme_id": "p",
            "plan_version": 1, "period": "2026Q3", "batch_id": "b1",
            "records": [{"pseudonyms": {"eval": "ab"}, "fields": {}}]}
    body.update(changes)
    return body


def test_batch_and_seal_checks():
    assert domain.batch_problem(batch()) is None
    assert "JSON object" in domain.batch_problem("records")
    assert "batch_id" in domain.batch_problem(batch(batch_id=7))
    assert "plan_version" in domain.batch_problem(batch(plan_version=2**40))
    assert "records" in domain.batch_problem(batch(records=[{"fields": {}}]))
    assert domain.seal_problem({**batch(), "batch_ids": ["b1"]}) is None
    assert "batch_ids" in domain.seal_problem({**batch(), "batch_ids": "b1"})
    assert domain.partials_problem({"counts": {"[]": [1, [2**64]]}})


@pytest.mark.parametrize("exc,poison", [
    (KeyError("records"), True), (TypeError("x"), True), (queues.Poison("x"), True),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate"), True),
    (ConnectionRefusedError(), False), (pymongo.errors.AutoReconnect(), False),
    (pymongo.errors.DuplicateKeyError("race between instances"), False),
    (queues.QueueInOlderForm("x"), False), (RuntimeError("x"), False),
])
def test_what_is_parked_at_once(exc, poison):
    assert queues.is_poison(exc) is poison
