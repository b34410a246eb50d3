"""The portal's mail through a real relay (services/portal/mail.py), against
aiosmtpd on 127.0.0.1 that requires STARTTLS and a login, with a certificate
from a CA made here: mail arrives only after STARTTLS (the relay's certificate
verified against PORTAL_SMTP_CA_FILE) and the login (the password from its
file); a wrong password, an unverifiable certificate or a relay without
STARTTLS send nothing and say why in the portal's log, never the password;
the plain local relay of `make run` still takes mail."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import logging
import ssl
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.portal.app import Settings
from services.portal.mail import Relay, RelayProblem
from services.portal.notify import Notifier
from tests.stack import free_port

USER, PASSWORD = "tiaki-portal", "correct horse battery staple"


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _cert(subject, issuer, key, signer, ca: bool, sans=()) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict:
    """A CA and the relay's certificate for localhost and 127.0.0.1, as PEM files."""
    tmp = tmp_path_factory.mktemp("pki")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("test mail CA"), _name("test mail CA"), ca_key, ca_key, ca=True)
    leaf = _cert(_name("localhost"), ca.subject, key, ca_key, ca=False,
                 sans=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))))
    files = {"ca": tmp / "ca.pem", "cert": tmp / "relay.pem", "key": tmp / "relay.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return files


class Inbox:
    """What arrived, with whether the session had STARTTLS and who logged in."""

    def __init__(self):
        self.messages: list[tuple[email.message.Message, bool, str]] = []

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if session.authenticated else ""
        self.messages.append((email.message_from_bytes(envelope.content),
                              session.ssl is not None, login))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    good = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=good, handled=False, auth_data=auth_data)  # failed: 535


@pytest.fixture
def strict(pki):
    """A relay that requires STARTTLS and a login before it takes mail."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(pki["cert"], pki["key"])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=server_tls,
                            require_starttls=True, auth_required=True, auth_require_tls=True,
                            authenticator=_authenticator)
    controller.start()
    yield inbox, f"127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture
def plain():
    """A relay like `make run`'s: plain SMTP, no login."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, f"127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "smtp-password"
    path.write_text(PASSWORD + "\n")  # as `kubectl create secret --from-file` may leave it
    return path


def message() -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "tiaki-portal@localhost", "a@example.org", "A notice"
    m.set_content("See the portal.")
    return m


def notifier(relay: Relay) -> Notifier:
    return Notifier(store=None, backends=None, relay=relay, every=0)


def test_mail_arrives_after_starttls_and_the_login(strict, pki, password_file):
    inbox, address = strict
    Relay(address, starttls=True, ca_file=str(pki["ca"]), user=USER,
          password_file=str(password_file)).send(message())
    ((arrived, tls, login),) = inbox.messages
    assert arrived["Subject"] == "A notice" and tls and login == USER


def test_nothing_arrives_without_starttls_or_without_the_login(strict, pki, password_file):
    inbox, address = strict
    with pytest.raises(OSError):  # 530: STARTTLS first
        Relay(address).send(message())
    with pytest.raises(OSError):  # 530: a login first
        Relay(address, starttls=True, ca_file=str(pki["ca"])).send(message())
    assert inbox.messages == []


def test_a_wrong_password_is_logged_without_the_password(strict, pki, tmp_path, caplog):
    inbox, address = strict
    wrong = "not-the-password-Zq8"
    (tmp_path / "wrong").write_text(wrong)
    relay = Relay(address, starttls=True, ca_file=str(pki["ca"]), user=USER,
                  password_file=str(tmp_path / "wrong"))
    with caplog.at_level(logging.INFO, logger="services.portal"):
        notifier(relay).email(["a@example.org"], "A notice", "See the portal.")
    assert inbox.messages == []
    assert "email not sent: the relay refused the login (reply 535)" in caplog.text
    assert wrong not in caplog.text and PASSWORD not in caplog.text


def test_a_certificate_that_does_not_verify_sends_nothing_not_even_the_login(
        strict, password_file, caplog):
    inbox, address = strict
    relay = Relay(address, starttls=True, user=USER, password_file=str(password_file))
    with caplog.at_level(logging.INFO, logger="services.portal"):
        notifier(relay).email(["a@example.org"], "A notice", "See the portal.")  # system CAs
    assert inbox.messages == []
    assert "the relay's certificate did not verify" in caplog.text
    assert PASSWORD not in caplog.text


def test_starttls_required_refuses_a_relay_that_does_not_offer_it(plain):
    inbox, address = plain
    with pytest.raises(RelayProblem, match="does not offer STARTTLS"):
        Relay(address, starttls=True).send(message())
    assert inbox.messages == []


def test_the_plain_local_relay_of_make_run_still_takes_mail(plain):
    inbox, address = plain
    notifier(Relay(address)).email(["a@example.org"], "A notice", "See the portal.")
    ((arrived, tls, login),) = inbox.messages
    assert arrived["To"] == "a@example.org" and not tls and login == ""


@pytest.mark.parametrize("env, problem", [
    ({"PORTAL_SMTP_USER": "u", "PORTAL_SMTP_PASSWORD_FILE": "/p"}, "needs PORTAL_SMTP_STARTTLS=1"),
    ({"PORTAL_SMTP_USER": "u", "PORTAL_SMTP_STARTTLS": "1"}, "needs PORTAL_SMTP_PASSWORD_FILE"),
    ({"PORTAL_SMTP": "mail.example.org"}, "HOST:PORT")])
def test_settings_that_would_send_a_password_in_clear_or_none_are_refused(env, problem):
    with pytest.raises(ValueError, match=problem):
        Settings.from_env({"PORTAL_SMTP": "mail.example.org:587", **env})


def test_the_settings_come_from_the_environment(password_file):
    relay = Settings.from_env({"PORTAL_SMTP": "mail.example.org:587", "PORTAL_SMTP_STARTTLS": "1",
                               "PORTAL_SMTP_CA_FILE": "/etc/ca.pem", "PORTAL_SMTP_USER": USER,
                               "PORTAL_SMTP_PASSWORD_FILE": str(password_file),
                               "PORTAL_SMTP_FROM": "tiaki@example.org"}).relay
    assert relay == Relay("mail.example.org:587", True, "/etc/ca.pem", USER, str(password_file),
                          "tiaki@example.org")
    assert Settings.from_env({}).relay == Relay()  # no address: no email
