"""How a page is made: the route helper, the templates, and what every
response carries.

    from services.portal.web import Visit, page, render

    @page("/requests", kinds=("provider",), roles=("privacy-officer",))
    def requests_list(visit: Visit):
        return render(visit, "provider/requests.html", title="Requests", rows=...)

`page` registers the route in ROUTES (app.py mounts them all) and, before the
function runs: refuses a signed-out browser (a redirect to sign in), refuses a
person of another organisation kind or without one of the roles (403), reads a
POST's form and refuses it without the session's CSRF token (403), and turns a
backend's refusal into the page a person understands (404 for another
organisation's object, 503 when a service is down). The function itself is
plain synchronous code (it runs in a worker thread), so it can call the
services and the store directly. Templates extend base.html, which puts the
CSRF token in `csrf` for forms (`{{ csrf_field() }}`)."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from markupsafe import Markup
from prometheus_client import Counter, Histogram
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from services.portal.accounts import ROLES, Staff
from services.portal.backends import Busy
from services.portal.storage import Session
from tiaki.core.clock import utc_now

log = logging.getLogger("services.portal")
HERE = Path(__file__).parent
COOKIE = "tiaki_session"
templates = Jinja2Templates(directory=str(HERE / "templates"))
ROUTES: list[Route] = []  # every page, registered by `page`

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGE_SECONDS = Histogram("tiaki_portal_page_seconds", "Time to answer one portal request, by route",
                         ["route", "method", "status"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SIGN_INS = Counter("tiaki_portal_sign_ins_total", "Sign-in steps by outcome", ["outcome"])
SIGN_IN_FAILURES = Counter("tiaki_portal_sign_in_failures_total",
                           "Sign-in attempts refused, by reason", ["reason"])
for _reason in ("password", "code", "locked", "unknown", "rate-limited", "csrf"):
    SIGN_IN_FAILURES.labels(_reason)  # each reason exported from the start, at 0
LOCKOUTS = Counter("tiaki_portal_lockouts_total", "Accounts locked after repeated failed sign-ins")
REFUSED = Counter("tiaki_portal_refused_total", "Requests refused by the portal, by reason", ["reason"])


@dataclass
class Visit:
    """One request by a signed-in person: who, their session, the posted form."""
    request: Request
    person: Staff
    session: Session
    form: FormData | None = None
    status: int = 200
    extra: dict = field(default_factory=dict)

    @property
    def app(self):
        return self.request.app.state.portal

    def call(self, service: str):
        """A stub for `service` calling as this person's organisation, naming the person."""
        return self.app.backends.stub(service, self.person)

    @property
    def metadata(self):
        return self.app.backends.metadata(self.person)


class Refusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def cookie_token(request: Request) -> str:
    return request.cookies.get(COOKIE, "")


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    portal = request.app.state.portal
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=portal.settings.tls,
                        path="/", max_age=int(dt.timedelta(hours=12).total_seconds()))


def csrf_ok(session: Session | None, form: FormData) -> bool:
    sent = form.get("csrf") or ""
    return bool(session) and isinstance(sent, str) and hmac.compare_digest(sent, session.csrf)


def render(visit_or_request, template: str, status: int = 200, **values) -> HTMLResponse:
    """A page from `template` (extending base.html) with the person, the CSRF
    token and the navigation for their roles."""
    if isinstance(visit_or_request, Visit):
        request, person, session = (visit_or_request.request, visit_or_request.person,
                                    visit_or_request.session)
        status = visit_or_request.status if status == 200 else status
    else:
        request, person = visit_or_request, None
        session = request.scope.get("tiaki_session")
    csrf = session.csrf if session else ""
    context = {"person": person, "csrf": csrf, "nav": navigation(person),
               "roles": ROLES, "path": request.url.path,
               "csrf_field": lambda: Markup(f'<input type="hidden" name="csrf" value="{csrf}">'),
               **values}
    return templates.TemplateResponse(request, template, context, status_code=status)


NAV: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []  # (path, label, kinds, roles)


def nav_item(path: str, label: str, kinds: tuple[str, ...] = (), roles: tuple[str, ...] = ()):
    NAV.append((path, label, kinds, roles))


def allowed(person: Staff, kinds: tuple[str, ...], roles: tuple[str, ...]) -> bool:
    return (not kinds or person.org_kind in kinds) and (not roles or bool(set(roles) & set(person.roles)))


def navigation(person: Staff | None) -> list[tuple[str, str]]:
    if person is None:
        return []
    return [(p, label) for p, label, kinds, roles in NAV if allowed(person, kinds, roles)]


async def signed_in(request: Request) -> tuple[Staff, Session] | None:
    portal = request.app.state.portal
    now = utc_now()
    session = await run_in_threadpool(portal.store.session, cookie_token(request), now)
    if session is None or not session.signed_in:
        return None
    person = await run_in_threadpool(portal.store.get_staff, session.staff)
    if person is None or person.disabled or person.locked(now):
        return None
    return person, session


BACKEND_REFUSALS = {
    grpc.StatusCode.NOT_FOUND: (404, "There is no such page, or it belongs to another organisation."),
    grpc.StatusCode.PERMISSION_DENIED: (404, "There is no such page, or it belongs to another organisation."),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "That was not accepted: "),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "That cannot be done now: "),
    grpc.StatusCode.UNAVAILABLE: (503, "A tiaki service is not answering; try again in a minute."),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "A tiaki service is not answering; try again in a minute."),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (503, "tiaki is busy for your organisation; try again in a minute."),
}


def page(path: str, *, kinds: tuple[str, ...] = (), roles: tuple[str, ...] = (),
         methods: tuple[str, ...] = ("GET",), nav: str = ""):
    """Registers a page for signed-in people (see module); `nav` puts it in the menu."""
    def wrap(fn: Callable[[Visit], Response]):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            found = await signed_in(request)
            if found is None:
                REFUSED.labels("signed-out").inc()
                if request.method == "GET":
                    return RedirectResponse("/sign-in", status_code=303)
                return HTMLResponse("Sign in first.", status_code=401)
            person, session = found
            request.scope["tiaki_session"] = session
            visit = Visit(request, person, session)
            try:
                if not allowed(person, kinds, roles):
                    raise Refusal(403, "This page is not for your organisation or role.")
                if request.method == "POST":
                    visit.form = await request.form(max_files=1, max_fields=200)
                    if not csrf_ok(session, visit.form):
                        REFUSED.labels("csrf").inc()
                        raise Refusal(403, "This form was not sent from this portal's page "
                                           "(its security token is missing or old). Go back, "
                                           "reload the page and send it again.")
                return await run_in_threadpool(fn, visit)
            except Refusal as exc:
                return render(visit, "refused.html", status=exc.status, message=exc.message)
            except Busy:
                return render(visit, "refused.html", status=503,
                              message="tiaki is busy for your organisation; try again in a minute.")
            except grpc.RpcError as exc:
                status, message = BACKEND_REFUSALS.get(exc.code(), (500, "Something went wrong."))
                if message.endswith(": "):
                    message += exc.details() or ""
                if status >= 500:
                    log.warning("backend %s on %s", exc.code().name, path)
                return render(visit, "refused.html", status=status, message=message)

        endpoint.tiaki_page = True  # the test that every route is guarded reads this
        ROUTES.append(Route(path, endpoint, methods=list(methods), name=fn.__name__))
        if nav:
            nav_item(path, nav, kinds, roles)
        return fn
    return wrap


class Headers:
    """ASGI middleware: the security headers on every response, no caching of
    pages, and one JSON log line and a timing per request (the route's
    template, never the path's values or the query)."""

    def __init__(self, app, tls: bool = False):
        self.app = app
        self.tls = tls

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def sending(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"cache-control",) or scope["path"].startswith("/static/")]
                headers += [(b"content-security-policy", CSP.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY"),
                            (b"cross-origin-opener-policy", b"same-origin")]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if self.tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "") or ("/static" if scope["path"].startswith("/static/")
                                                  else "unmatched")
            seconds = time.perf_counter() - started
            PAGE_SECONDS.labels(name, scope["method"], str(status["code"])).observe(seconds)
            log.info("%s %s %s %.1f ms", scope["method"], name, status["code"], seconds * 1000)
