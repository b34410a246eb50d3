"""Local API tokens: only hashes in identities.yaml, and adding an identity
keeps every identity already there (services restarted later still know them)."""

from __future__ import annotations

import pytest
import yaml

from tiaki.core.errors import Unauthenticated
from tiaki.plumbing.identity import bearer_token, token_hash
from tiaki.plumbing.tokens import ensure_tokens


def identities(path) -> dict:
    return {(i["kind"], i["id"]): i["token_sha256"]
            for i in yaml.safe_load(path.read_text())["identities"]}


def test_adding_one_identity_keeps_the_others_and_their_tokens(tmp_path):
    path = ensure_tokens(str(tmp_path), [("provider", "ccss"), ("agency", "agency")])
    before = identities(path)
    token = (tmp_path / "tokens" / "provider-ccss").read_text().strip()

    ensure_tokens(str(tmp_path), [("unit", "evaluation")])
    after = identities(path)

    assert set(after) == {("provider", "ccss"), ("agency", "agency"), ("unit", "evaluation")}
    assert after[("provider", "ccss")] == before[("provider", "ccss")] == token_hash(token)
    assert token not in path.read_text()  # the file holds hashes only


def test_only_a_bearer_authorization_carries_a_token():
    assert bearer_token((("authorization", "Bearer tk_1"),)) == "tk_1"
    assert bearer_token((("Authorization", b"bearer  tk_1 "),)) == "tk_1"
    assert bearer_token((("authorization", " "),)) is None
    assert bearer_token((("x-other", "Bearer tk_1"),)) is None
    for value in ("tk_1", "Bearer", "Basic dGs6MQ==", "Token tk_1"):
        with pytest.raises(Unauthenticated, match="authorization: Bearer <token>"):
            bearer_token((("authorization", value),))
