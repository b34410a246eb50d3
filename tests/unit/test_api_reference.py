"""The API reference (docs/api.md) is generated from the protos' comments and
is current; every service, RPC, message, field, enum and value has a comment,
except the ones still listed in tests/unit/api_uncommented.txt, a list that
may only shrink (a new uncommented element fails, and so does a listed one
that has since been commented)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.api_reference import API, descriptors, elements, render, uncommented

STILL_UNCOMMENTED = Path(__file__).with_name("api_uncommented.txt")


@pytest.fixture(scope="module")
def files():
    return descriptors()


def test_docs_api_is_what_the_protos_make(files):
    assert API.read_text() == render(files), "run: python -m tools.api_reference"


def test_every_rpc_message_field_and_enum_has_a_comment(files):
    listed = set(STILL_UNCOMMENTED.read_text().splitlines())
    missing = set(uncommented(elements(files)))
    assert sorted(missing - listed) == [], "comment these in the .proto files"
    assert sorted(listed - missing) == [], f"now commented: remove from {STILL_UNCOMMENTED.name}"


def test_the_reference_names_every_rpc_with_its_request_and_response(files):
    text = API.read_text()
    for e in elements(files):
        if e.kind == "rpc":
            assert f"rpc `{e.name.rsplit('.', 1)[-1]}` `{e.detail}`" in text
