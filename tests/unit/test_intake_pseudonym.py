"""A pseudonym is HMAC-SHA256 of the provider and client reference under the
purpose's key, its first 128 bits in hex, whatever the key's length (intake
prepares the hashes by hand: they must agree with the standard library's HMAC)."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from services.intake import domain


@given(key=st.binary(min_size=1, max_size=200), provider=st.text(max_size=20),
       client=st.text(max_size=40))
def test_a_pseudonym_is_the_standard_hmac_sha256(key, provider, client):
    message = f"{provider}\x1f{client.strip()}".encode()
    expected = hmac.new(key, message, "sha256").digest()[:16].hex()
    assert domain.pseudonym(key, provider, client) == expected
    assert domain.pseudonym(key, provider, client) == expected  # the prepared hashes unchanged


def test_a_known_pseudonym_stays_the_same():
    # Fixed, so a change of how it is computed cannot move every client's pseudonym.
    assert domain.pseudonym(b"k" * 32, "ccss", " C-1 ") == "f5550986e54fe7dbbfbb337547a247c7"
