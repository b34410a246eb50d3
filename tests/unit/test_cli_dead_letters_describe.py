"""`tiaki dead-letters list` shows a parked body as its sender wrote it, also
when the sender compressed it (intake's batches go to purpose_router compressed)."""

from __future__ import annotations

import json
import types
import zlib

from tiaki.cli.dead_letters import describe


def parked(body: bytes, **headers) -> types.SimpleNamespace:
    return types.SimpleNamespace(body=body, properties={
        "content_type": "application/json", "application_headers": {
            "x-first-death-reason": "rejected", "x-first-death-queue": "evt-intake",
            "x-death": [{"count": 1, "routing-keys": ["records_accepted"]}], **headers}})


def test_a_compressed_batch_is_shown_as_the_json_it_carries():
    text = json.dumps({"batch_id": "sub-1.1", "records": []})
    shown = describe(parked(zlib.compress(text.encode(), 1), compression="application/x-gzip"),
                     1, full=True)
    assert text in shown
    assert "rejected from evt-intake" in shown


def test_a_body_that_does_not_decompress_is_shown_as_it_is():
    shown = describe(parked(b'{"not": "compressed"}', compression="application/x-gzip"),
                     1, full=True)
    assert '{"not": "compressed"}' in shown
