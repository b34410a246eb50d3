"""The notifier's rounds (notify.py) against fake services and a fake store: each
notification is sent once per person per subject, across rounds and restarts, and
each organisation kind asks only the services that answer it."""

from __future__ import annotations

from types import SimpleNamespace

from services.portal.accounts import Staff
from services.portal.notify import Notifier


class Store:
    def __init__(self, staff):
        self.staff, self.keys = staff, set()

    def list_staff(self):
        return self.staff

    def notify_once(self, key, org_kind, org, what, link, staff=""):
        new = key not in self.keys
        self.keys.add(key)
        return new


class Channel:
    def __init__(self, notices, asked):
        self.notices, self.asked = notices, asked

    def unary_unary(self, path, *args, **kwargs):
        def call(request, timeout=None, metadata=None):
            self.asked.append(path)
            return SimpleNamespace(notices=self.notices.get(path, []))
        return call

    def __getattr__(self, name):  # the stubs' streaming methods, never called here
        return lambda *args, **kwargs: None


class Backends:
    def __init__(self, notices):
        self.asked: list[str] = []
        self._channel = Channel(notices, self.asked)

    def channel(self, service, kind="", org=""):
        return self._channel

    def token(self, kind, org):
        return f"token-{kind}-{org}"


class Recording(Notifier):
    def email(self, to, subject, body):
        self.sent_to = [*getattr(self, "sent_to", []), (tuple(to), subject)]


def officer(staff_id):
    return Staff(staff_id, staff_id, "provider", "ccss", ("privacy-officer",), "", "",
                 email=f"{staff_id}@example.org")


DUE = SimpleNamespace(kind="request_due_soon", subject="r-1", text="the access request is due",
                      due="2026-12-08")
NOTICES = {"/tiaki.requests.v1.RequestsService/ListNotices": [DUE]}


def test_a_notification_is_sent_once_across_rounds_and_a_restart_and_to_a_new_officer_once():
    store, backends = Store([officer("a")]), Backends(NOTICES)
    first = Recording(store, backends, "", 1)
    assert first.look() == 1 and first.sent_to == [(("a@example.org",), "A family's request is "
                                                    "near its due date (due 2026-12-08)")]
    assert first.look() == 0
    assert Recording(store, backends, "", 1).look() == 0  # a restart: the store remembers
    store.staff.append(officer("b"))
    again = Recording(store, backends, "", 1)
    assert again.look() == 1 and again.sent_to == [(("b@example.org",), again.sent_to[0][1])]


def test_each_organisation_kind_asks_only_the_services_that_answer_it():
    agency = Staff("an", "an", "agency", "agency", ("analyst",), "", "")
    backends = Backends({})
    Recording(Store([agency]), backends, "", 1).look()
    assert backends.asked == ["/tiaki.router.v1.CodesignService/ListNotices"]
