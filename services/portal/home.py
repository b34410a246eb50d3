"""The home page every signed-in person starts from: who they are, and the
pages their organisation and roles give them."""

from __future__ import annotations

from services.portal.web import Visit, page, render


@page("/", nav="Home")
def home(visit: Visit):
    return render(visit, "home.html", title="Home")


@page("/account", nav="Your account")
def account(visit: Visit):
    return render(visit, "account.html", title="Your account")


@page("/notifications", nav="Notifications")
def notifications(visit: Visit):
    found = visit.app.store.notifications_of(visit.person.org_kind, visit.person.org,
                                             visit.person.id)
    return render(visit, "notifications.html", title="Notifications", rows=found)
