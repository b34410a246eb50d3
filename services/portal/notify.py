"""Notifications, in the portal and by email through a configurable SMTP server
(PORTAL_SMTP=HOST:PORT; `make run` starts a local aiosmtpd): for now, a family's
request 3 working days from its due date, to the provider's privacy officers.

A thread looks every PORTAL_NOTIFY_EVERY seconds, as each provider that has a
privacy officer (no person named: it is the portal's own call). Each
notification is recorded once (its key), so a restart sends nothing twice."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
from email.message import EmailMessage

import grpc

from services.portal.backends import Backends
from services.portal.storage import PortalStore
from tiaki.core.clock import nz_today
from tiaki.core.working_days import working_days_until
from tiaki.requests.v1 import requests_pb2, requests_pb2_grpc

log = logging.getLogger(__name__)
DUE_WITHIN = 3  # working days


class Notifier:
    def __init__(self, store: PortalStore, backends: Backends, smtp: str, every: float,
                 sender: str = "tiaki-portal@localhost"):
        self.store, self.backends, self.smtp, self.every, self.sender = (
            store, backends, smtp, every, sender)
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
        officers: dict[str, list] = {}
        for staff in self.store.list_staff():
            if (staff.org_kind == "provider" and "privacy-officer" in staff.roles
                    and not staff.disabled):
                officers.setdefault(staff.org, []).append(staff)
        sent = 0
        stub = requests_pb2_grpc.RequestsServiceStub(self.backends.channel("requests"))
        for org, people in officers.items():
            try:
                found = stub.ListRequests(requests_pb2.ListRequestsRequest(), timeout=20, metadata=(
                    ("authorization", f"Bearer {self.backends.token('provider', org)}"),)).requests
            except grpc.RpcError as exc:
                log.warning("notifications: requests of %s: %s", org, exc.code().name)
                continue
            today = nz_today()
            for r in found:
                if r.state != requests_pb2.REQUEST_STATE_OPEN or not r.due:
                    continue
                left = working_days_until(today, dt.date.fromisoformat(r.due))
                if left > DUE_WITHIN:
                    continue
                what = (f"A family's request is due on {r.due}: {max(left, 0)} working days left"
                        if left >= 0 else f"A family's request was due on {r.due}")
                link = f"/provider/requests/{r.request_id}"
                if self.store.notify_once(f"due{DUE_WITHIN}:{r.request_id}", "provider", org,
                                          what, link):
                    self.email([p.email for p in people if p.email], what, link)
                    sent += 1
        return sent

    def email(self, to: list[str], what: str, link: str) -> None:
        if not (to and self.smtp):
            return
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, ", ".join(to), what
        message.set_content(f"{what}.\n\nOpen it in the tiaki portal: {link}\n"
                            "(No details of the family are sent by email.)\n")
        host, _, port = self.smtp.rpartition(":")
        try:
            with smtplib.SMTP(host, int(port), timeout=20) as smtp:
                smtp.send_message(message)
        except OSError as exc:
            log.warning("notifications: email not sent: %s", type(exc).__name__)
