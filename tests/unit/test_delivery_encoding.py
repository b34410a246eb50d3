"""A unit's delivery as purpose_router sends it: a batch's records compressed
(a fifth of the bytes through the broker), small messages as they are, and
either read back by kombu, as the unit SDK's consumer reads it, to the same body."""

from __future__ import annotations

import json

from kombu.message import Message

from tiaki.core import fastjson
from tiaki.plumbing.broker import COMPRESS_FROM, encode_delivery


def as_the_unit_reads_it(encoded: bytes, headers: dict):
    return Message(body=encoded, headers=headers, content_type="application/json",
                   content_encoding="utf-8", accept=["application/json"]).decode()


def test_a_batchs_records_go_compressed_and_come_back_the_same():
    body = {"delivery_id": "sub-1.1:evaluation", "kind": "records",
            "records": [{"pseudonym": f"{i:032x}", "region": "Wellington", "age_band": "25-34"}
                        for i in range(2000)]}
    encoded, headers = encode_delivery(body)
    assert headers == {"compression": "application/x-gzip"}
    assert len(encoded) < len(fastjson.dumps(body)) / 3
    assert as_the_unit_reads_it(encoded, headers) == body


def test_a_small_message_goes_as_it_is():
    body = {"kind": "supersession", "delivery_ids": ["a", "b"]}
    encoded, headers = encode_delivery(body)
    assert headers == {} and len(encoded) < COMPRESS_FROM
    assert json.loads(encoded) == body == as_the_unit_reads_it(encoded, headers)
