"""Which caller a verified client certificate names, and the TLS switch (tiaki/plumbing/mtls.py)."""

from __future__ import annotations

import pytest

from tiaki.connect.channel import ClientTls
from tiaki.plumbing.identity import Caller
from tiaki.plumbing.mtls import peer_from_certificate, server_context


def cert(*uris, cn="x"):
    return {"subject": ((("commonName", cn),),),
            "subjectAltName": tuple(("URI", u) for u in uris) + (("DNS", "localhost"),)}


@pytest.mark.parametrize("uris, caller", [
    (("tiaki:provider:ccss",), Caller("provider", "ccss")),
    (("tiaki:unit:service-delivery",), Caller("unit", "service-delivery")),
    (("https://example.org", "tiaki:agency:agency"), Caller("agency", "agency")),
    ((), None),                                          # the services' own certificate
    (("tiaki:provider:ccss", "tiaki:provider:other-ngo"), None),  # two names: none
    (("tiaki:admin:root",), None),                        # no such kind
    (("tiaki:provider:",), None),
    (("urn:tiaki:provider:ccss",), None),
])
def test_the_certificate_names_one_caller_or_none(uris, caller):
    assert peer_from_certificate(cert(*uris)).caller == caller


def test_a_common_name_alone_names_no_one():
    assert peer_from_certificate(cert(cn="provider:ccss")).caller is None
    assert peer_from_certificate(None).caller is None


def test_tls_is_off_when_unset_and_refused_when_half_set():
    assert server_context({}) is None
    assert server_context({"TLS_CERT": "", "TLS_KEY": None, "TLS_CLIENT_CA": ""}) is None
    with pytest.raises(ValueError, match="missing TLS_KEY, TLS_CLIENT_CA"):
        server_context({"TLS_CERT": "var/tls/server.pem"})
    assert ClientTls.from_env({}) is None
    with pytest.raises(ValueError, match="TIAKI_TLS_CA, TIAKI_TLS_CERT and TIAKI_TLS_KEY"):
        ClientTls.from_env({"TIAKI_TLS_CERT": "a.pem"})
