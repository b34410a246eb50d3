"""The mail relay the portal's notifications go through (docs/operations.md "Mail").

    PORTAL_SMTP=HOST:PORT            the relay ("" no email); `make run`: a local aiosmtpd
    PORTAL_SMTP_STARTTLS=1           STARTTLS required: no message goes to a relay that
                                     does not offer it, or whose certificate does not verify
    PORTAL_SMTP_CA_FILE=PATH         the CAs that verify the relay's certificate (default:
                                     the system's); its name must match HOST
    PORTAL_SMTP_USER=NAME            log in (AUTH) as NAME, only after STARTTLS
    PORTAL_SMTP_PASSWORD_FILE=PATH   the password, read from this file at each message (a
                                     Secret's mount); never an environment value, never logged
    PORTAL_SMTP_FROM=ADDRESS         the sender (tiaki-portal@localhost)

A relay that refuses is reported in the log by what went wrong and the relay's
reply code, never by the relay's words or the password."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


class RelayProblem(Exception):
    """The relay could not be used as configured (said in words fit for the log)."""


@dataclass(frozen=True)
class Relay:
    address: str = ""
    starttls: bool = False
    ca_file: str = ""
    user: str = ""
    password_file: str = ""
    sender: str = "tiaki-portal@localhost"
    timeout: float = 20.0

    @classmethod
    def from_env(cls, env) -> Relay:
        relay = cls(address=env.get("PORTAL_SMTP", ""),
                    starttls=env.get("PORTAL_SMTP_STARTTLS", "0").strip().lower()
                    in ("1", "true", "yes"),
                    ca_file=env.get("PORTAL_SMTP_CA_FILE", ""),
                    user=env.get("PORTAL_SMTP_USER", ""),
                    password_file=env.get("PORTAL_SMTP_PASSWORD_FILE", ""),
                    sender=env.get("PORTAL_SMTP_FROM", "") or cls.sender)
        relay.check()
        return relay

    def check(self) -> None:
        """Refuses a configuration that would send a password in clear, or has none to send."""
        if self.address and not self.address.rpartition(":")[2].isdigit():
            raise ValueError(f"PORTAL_SMTP must be HOST:PORT, not {self.address!r}")
        if self.user and not self.starttls:
            raise ValueError("PORTAL_SMTP_USER needs PORTAL_SMTP_STARTTLS=1: "
                             "the portal never sends a password without TLS")
        if self.user and not self.password_file:
            raise ValueError("PORTAL_SMTP_USER needs PORTAL_SMTP_PASSWORD_FILE")

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)

    def _password(self) -> str:
        try:
            return Path(self.password_file).read_text().rstrip("\r\n")
        except OSError as exc:
            raise RelayProblem(f"the password file cannot be read ({type(exc).__name__})") from None

    def send(self, message: EmailMessage) -> None:
        """Sends one message; RelayProblem (or smtplib's and ssl's OSErrors) when it cannot."""
        host, _, port = self.address.rpartition(":")
        with smtplib.SMTP(host, int(port), timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise RelayProblem("the relay does not offer STARTTLS, which is required")
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password())
            smtp.send_message(message)


def why(exc: Exception) -> str:
    """What went wrong, for the log: the kind of failure and the relay's reply code only."""
    if isinstance(exc, RelayProblem):
        return str(exc)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the relay refused the login (reply {exc.smtp_code})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the relay's certificate did not verify ({exc.verify_message})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__} (reply {exc.smtp_code})"
    return type(exc).__name__
