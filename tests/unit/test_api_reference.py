"""The API reference (docs/api.md) is generated from the protos' comments and
is current, and every service, RPC, message, field, enum and enum value has a
comment."""

from __future__ import annotations

import pytest

from tools.api_reference import API, descriptors, elements, render, uncommented


@pytest.fixture(scope="module")
def files():
    return descriptors()


def test_docs_api_is_what_the_protos_make(files):
    assert API.read_text() == render(files), "run: python -m tools.api_reference"


def test_every_rpc_message_field_and_enum_has_a_comment(files):
    assert uncommented(elements(files)) == [], "comment these in the .proto files"


def test_the_reference_names_every_rpc_with_its_request_and_response(files):
    text = API.read_text()
    for e in elements(files):
        if e.kind == "rpc":
            assert f"rpc `{e.name.rsplit('.', 1)[-1]}` `{e.detail}`" in text
