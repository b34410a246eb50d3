"""Mutual TLS on the gRPC servers (tiaki/plumbing/mtls.py): intake and purpose_router
run with TLS_CERT/TLS_KEY/TLS_CLIENT_CA set and certificates from
scripts/certs.sh. A client certificate from the CA names who calls; clients
without one, or with one from another CA, are refused at the handshake and the
server goes on serving."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.stack import ROOT, Stack, drop
from tiaki.connect.channel import ClientTls, client_channel
from tiaki.intake.v1 import stories_pb2, stories_pb2_grpc
from tiaki.router.v1 import ledger_pb2, ledger_pb2_grpc

IDENTITIES = ("provider:ccss", "provider:other-ngo", "unit:evaluation", "agency:agency",
              "provider:unlisted")  # signed by the CA, but not in the identities file


def make_certs(directory, *who):
    subprocess.run([str(ROOT / "scripts" / "certs.sh"), str(directory), *who], check=True,
                   stdout=subprocess.DEVNULL)
    return directory


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    root = tmp_path_factory.mktemp("mtls")
    return make_certs(root / "ca", *IDENTITIES), make_certs(root / "foreign", "provider:ccss")


@pytest.fixture(scope="module")
def mtls_stack(tmp_path_factory, tls):
    s = Stack(tmp_path_factory.mktemp("mtls-stack"), tls_dir=tls[0])
    s.provision()
    try:
        s.start("purpose_router")
        s.start("intake")
        yield s
    finally:
        drop(s)


class Client:
    """Channels to the stack as one certificate; closed at the end of the test."""

    def __init__(self, stack, tls: ClientTls):
        self.channels = {name: client_channel(stack.address(name), tls)
                         for name in ("intake", "purpose_router")}
        self.stories = stories_pb2_grpc.StoriesServiceStub(self.channels["intake"])
        self.units = ledger_pb2_grpc.UnitServiceStub(self.channels["purpose_router"])

    def close(self):
        for channel in self.channels.values():
            channel.close()


@pytest.fixture
def as_cert(mtls_stack, tls):
    opened = []

    def connect(name, ca_dir=None):
        ca_dir = ca_dir or tls[0]
        client = Client(mtls_stack, ClientTls(str(tls[0] / "ca.pem"), str(ca_dir / f"{name}.pem"),
                                              str(ca_dir / f"{name}.key")))
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


def code_of(call):
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), err.value.details()


def test_a_provider_certificate_is_served_as_that_provider(as_cert):
    ccss = as_cert("provider-ccss")
    story = ccss.stories.SubmitStory(stories_pb2.SubmitStoryRequest(
        text="Mere came every week.", submitted_by="Aroha"), timeout=20).story
    assert ccss.stories.GetStory(stories_pb2.GetStoryRequest(story_id=story.story_id),
                                 timeout=20).story.story_id == story.story_id
    assert story.story_id in [s.story_id for s in ccss.stories.ListStories(
        stories_pb2.ListStoriesRequest(), timeout=20).stories]

    # Provider B's certificate: A's story does not exist for it.
    other = as_cert("provider-other-ngo")
    code, details = code_of(lambda: other.stories.GetStory(
        stories_pb2.GetStoryRequest(story_id=story.story_id), timeout=20))
    assert code == grpc.StatusCode.NOT_FOUND and details == f"no story {story.story_id!r}"
    assert story.story_id not in [s.story_id for s in other.stories.ListStories(
        stories_pb2.ListStoriesRequest(), timeout=20).stories]


def test_a_token_naming_someone_else_than_the_certificate_is_refused(mtls_stack, as_cert):
    other = as_cert("provider-other-ngo")
    request = stories_pb2.ListStoriesRequest()
    code, details = code_of(lambda: other.stories.ListStories(
        request, metadata=mtls_stack.metadata("provider", "ccss"), timeout=20))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "client certificate" in details
    # Its own token alongside is fine; a made-up one is not.
    other.stories.ListStories(request, metadata=mtls_stack.metadata("provider", "other-ngo"),
                              timeout=20)
    code, _ = code_of(lambda: other.stories.ListStories(
        request, metadata=(("authorization", "Bearer tk_made_up"),), timeout=20))
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_a_unit_certificate_is_served_as_that_unit_on_unit_rpcs(as_cert):
    unit = as_cert("unit-evaluation")
    code, details = code_of(lambda: unit.units.RecordAccess(ledger_pb2.RecordAccessRequest(
        delivery_id="d-none", accessor="analyst", fields=["goals_met"], reason="report"),
        timeout=20))
    assert (code, details) == (grpc.StatusCode.NOT_FOUND, "no delivery 'd-none' to unit evaluation")
    assert unit.units.AcknowledgeDeliveries(ledger_pb2.AcknowledgeDeliveriesRequest(),
                                            timeout=20).acknowledged_count == 0
    # Kinds still hold: a unit is not a provider, a provider not a unit.
    code, _ = code_of(lambda: unit.stories.ListStories(stories_pb2.ListStoriesRequest(),
                                                       timeout=20))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    provider = as_cert("provider-ccss")
    code, _ = code_of(lambda: provider.units.AcknowledgeDeliveries(
        ledger_pb2.AcknowledgeDeliveriesRequest(), timeout=20))
    assert code == grpc.StatusCode.PERMISSION_DENIED


def test_a_certificate_naming_no_one_or_an_unknown_identity_is_refused(as_cert):
    server_cert = as_cert("server")  # the services' own: signed by the CA, names no one
    code, details = code_of(lambda: server_cert.stories.ListStories(
        stories_pb2.ListStoriesRequest(), timeout=20))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "names no tiaki identity" in details
    unlisted = as_cert("provider-unlisted")
    code, details = code_of(lambda: unlisted.stories.ListStories(
        stories_pb2.ListStoriesRequest(), timeout=20))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "does not know" in details


def test_bad_clients_are_refused_and_the_server_keeps_serving(mtls_stack, tls, as_cert):
    ca, foreign = tls
    address = mtls_stack.address("intake")
    host, port = address.split(":")
    # One that connects and says nothing holds only its own handshake.
    silent = socket.create_connection((host, int(port)))
    try:
        refusals = []
        # Plaintext gRPC, TLS without a client certificate, a certificate from another CA.
        ca_pem = (ca / "ca.pem").read_bytes()
        channels = [
            grpc.insecure_channel(address),
            grpc.secure_channel(address, grpc.ssl_channel_credentials(ca_pem)),
            client_channel(address, ClientTls(str(ca / "ca.pem"), str(foreign / "provider-ccss.pem"),
                                              str(foreign / "provider-ccss.key"))),
        ]
        for channel in channels:
            with channel:
                stub = stories_pb2_grpc.StoriesServiceStub(channel)
                code, _ = code_of(lambda stub=stub: stub.ListStories(
                    stories_pb2.ListStoriesRequest(), timeout=10))
                refusals.append(code)
        assert refusals == [grpc.StatusCode.UNAVAILABLE] * 3

        # The same at the TLS level, as a plain ssl client: the server's alert.
        context = ssl.create_default_context(cafile=str(ca / "ca.pem"))
        context.set_alpn_protocols(["h2"])
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls_sock:
                    tls_sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                    tls_sock.recv(1)  # TLS 1.3: the refusal arrives on the first read

        # Still serving, in the same process.
        assert mtls_stack.procs["intake"].poll() is None
        ccss = as_cert("provider-ccss")
        ccss.stories.ListStories(stories_pb2.ListStoriesRequest(), timeout=20)
    finally:
        silent.close()
    log = (mtls_stack.tmp / "intake.log").read_text(errors="replace")
    assert "TLS handshake with 127.0.0.1 refused" in log
    assert "thread exited with error" not in log


def test_the_cli_and_health_checks_connect_with_certificates(mtls_stack, tls):
    ca = tls[0]
    env = {"TIAKI_TLS_CA": str(ca / "ca.pem"), "PATH": "/usr/bin:/bin",
           "TIAKI_TLS_CERT": str(ca / "server.pem"), "TIAKI_TLS_KEY": str(ca / "server.key")}
    # The Kubernetes exec probe: the service's own certificate, one health check.
    probe = subprocess.run([sys.executable, "-m", "tiaki.plumbing.ops", "healthy",
                            mtls_stack.address("intake")], cwd=ROOT, env=env)
    assert probe.returncode == 0
    env.update(TIAKI_TLS_CERT=str(ca / "provider-ccss.pem"),
               TIAKI_TLS_KEY=str(ca / "provider-ccss.key"))
    out = subprocess.run([str(Path(sys.executable).parent / "tiaki"), "--intake",
                          mtls_stack.address("intake"), "stories", "list"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
