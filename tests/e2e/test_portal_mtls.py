"""The portal where the services serve mutual TLS (deploy/kubernetes): a client
certificate names one identity and the API token must name the same, so the portal
calls as each organisation with that organisation's certificate (PORTAL_TLS_CLIENTS,
as scripts/certs.sh makes them). A provider's person signs in and gets the page the
services answer; an organisation with no certificate gets no page, not another's."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Portal
from tests.browser.test_security import signed_in
from tests.e2e.test_mtls import make_certs
from tests.stack import Stack, drop

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("portal-mtls")
    certs = make_certs(root / "certs", "provider:ccss", "agency:agency")
    stack = Stack(root / "stack", tls_dir=certs)
    stack.provision()
    p = None
    try:
        stack.start("purpose_router")
        stack.start("intake")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PORTAL_TLS_CLIENTS", str(certs))
            (root / "portal").mkdir()
            p = Portal(stack, root / "portal")
        yield p
    finally:
        if p:
            p.stop()
        drop(stack)


def test_a_provider_person_gets_the_page_the_services_answer_over_mutual_tls(portal):
    who = portal.person("reporting-admin")
    page = signed_in(portal, who).get(f"{portal.url}/provider", timeout=60)
    assert page.status_code == 200, page.text
    assert "best-foot-forward" in page.text


def test_an_organisation_without_a_certificate_gets_no_page(portal):
    who = portal.person("reporting-admin", "provider", "other-ngo")
    page = signed_in(portal, who).get(f"{portal.url}/provider", timeout=60)
    assert page.status_code >= 500
    assert "best-foot-forward" not in page.text

