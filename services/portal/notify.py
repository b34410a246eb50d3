"""Notifications, in the portal and by email through a configurable mail relay
(mail.py: PORTAL_SMTP=HOST:PORT, STARTTLS and a login where the relay asks for
them; `make run` starts a local aiosmtpd): what the services' ListNotices
RPCs say waits for each organisation, told to the people of the roles it is
for (notices.py).

A thread looks every PORTAL_NOTIFY_EVERY seconds, as each organisation that has
an account (no person named: it is the portal's own call). Each notification is
recorded once per person per subject (its key), so a restart sends nothing twice."""

from __future__ import annotations

import logging
import threading
from email.message import EmailMessage

import grpc

from services.portal.accounts import Staff
from services.portal.backends import STUBS, Backends, NoToken
from services.portal.mail import Relay, RelayProblem, why
from services.portal.notices import SOURCES, email_text, notifications
from services.portal.storage import PortalStore
from tiaki.insights.v1 import outcomes_pb2
from tiaki.requests.v1 import requests_pb2
from tiaki.router.v1 import codesign_pb2

log = logging.getLogger(__name__)
REQUESTS = {  # what each of notices.SOURCES' RPCs takes (by backends.STUBS' name)
    "codesign": codesign_pb2.ListNoticesRequest,
    "requests": requests_pb2.ListNoticesRequest,
    "outcomes": outcomes_pb2.ListNoticesRequest,
    "unit_outcomes": outcomes_pb2.ListUnitNoticesRequest,
}


class Notifier:
    def __init__(self, store: PortalStore, backends: Backends, relay: Relay, every: float):
        self.store, self.backends, self.relay, self.every = store, backends, relay, every
        self.stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="notifier").start()

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.look()
            except Exception:  # a bad round must not end the notifier
                log.exception("notifications: a round failed")

    def look(self) -> int:
        """One round; how many notifications it sent."""
        orgs: dict[tuple[str, str], list[Staff]] = {}
        for staff in self.store.list_staff():
            if not staff.disabled:
                orgs.setdefault((staff.org_kind, staff.org), []).append(staff)
        sent = 0
        for (kind, org), people in orgs.items():
            for note in notifications(kind, people, self._notices(kind, org)):
                if self.store.notify_once(note.key, kind, org, note.what, note.link,
                                          staff=note.staff.id):
                    if note.staff.email:
                        self.email([note.staff.email], *email_text(note))
                    sent += 1
        return sent

    def _notices(self, kind: str, org: str) -> list:
        """What each service says waits for the organisation (as itself: no person named)."""
        found = []
        for source in SOURCES:
            if kind not in source.org_kinds:
                continue
            service, stub = STUBS[source.stub]
            try:
                metadata = (("authorization", f"Bearer {self.backends.token(kind, org)}"),)
                call = getattr(stub(self.backends.channel(service, kind, org)), source.method)
                found += call(REQUESTS[source.stub](), timeout=20, metadata=metadata).notices
            except NoToken:
                return []
            except grpc.RpcError as exc:
                log.warning("notifications: %s of %s %s: %s", source.stub, kind, org,
                            exc.code().name)
        return found

    def email(self, to: list[str], subject: str, body: str) -> None:
        if not (to and self.relay.address):
            return
        message = EmailMessage()
        message["From"], message["To"] = self.relay.sender, ", ".join(to)
        message["Subject"] = subject
        message.set_content(body)
        try:
            self.relay.send(message)
        except (OSError, RelayProblem) as exc:
            log.warning("notifications: email not sent: %s", why(exc))
