"""Signing in (password, then the TOTP code for roles that need it), signing
out, and the staff admin API that `tiaki staff` calls.

A session is replaced at every step (a new cookie value at the password and
again at the code), so a cookie seen before signing in is worth nothing after.
Failures count per account (accounts.FAILURES_BEFORE_LOCK locks it for
accounts.LOCK_FOR) and sign-in posts per client address (PORTAL_SIGN_IN_RATE a minute, 20),
both in the portal's store (storage.py), so no instance or restart starts them again.
Every refusal is counted by reason in tiaki_portal_sign_in_failures_total, and every
account locked in tiaki_portal_lockouts_total (the dashboard's sign-in panel)."""

from __future__ import annotations

import datetime as dt
import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from services.portal import accounts
from services.portal.web import (
    LOCKOUTS,
    SIGN_IN_FAILURES,
    SIGN_INS,
    cookie_token,
    csrf_ok,
    page,
    render,
    set_session_cookie,
)
from tiaki.core.clock import utc_now
from tiaki.core.errors import Conflict, Invalid, NotFound
from tiaki.plumbing.identity import bearer_token, token_hash


class RateLimit:
    """At most `most` events a `window` per key, counted in the portal's store
    (PortalStore.counted): every instance of the portal, and one started again,
    counts the same events. Fixed windows: at most `most` from hh:mm:00 to hh:mm:59."""

    def __init__(self, store, what: str, most: int, window: dt.timedelta = dt.timedelta(minutes=1)):
        self.store, self.what, self.most, self.window = store, what, most, window

    def allow(self, key: str, now: dt.datetime) -> bool:
        return self.store.counted(self.what, key, self.window, now) <= self.most


async def _anonymous(request: Request):
    """The browser's session (a new anonymous one when it has none); (session, new cookie or "")."""
    store = request.app.state.portal.store
    now = utc_now()
    session = await run_in_threadpool(store.session, cookie_token(request), now)
    if session is not None:
        return session, ""
    token = await run_in_threadpool(store.start_session, now)
    return await run_in_threadpool(store.session, token, now), token


def _with_cookie(request: Request, response: Response, token: str) -> Response:
    if token:
        set_session_cookie(response, request, token)
    return response


async def sign_in_form(request: Request) -> Response:
    session, token = await _anonymous(request)
    if session.signed_in:
        return RedirectResponse("/", status_code=303)
    request.scope["tiaki_session"] = session
    notice = {"out": "You are signed out.", "expired": "Your session ended; sign in again."}.get(
        request.query_params.get("m", ""), "")
    return _with_cookie(request, render(request, "sign_in.html", title="Sign in", notice=notice),
                        token)


async def sign_in(request: Request) -> Response:
    portal = request.app.state.portal
    session, token = await _anonymous(request)
    request.scope["tiaki_session"] = session
    form = await request.form(max_files=0, max_fields=10)

    def again(message: str, reason: str, status: int = 400) -> Response:
        SIGN_INS.labels("refused").inc()
        SIGN_IN_FAILURES.labels(reason).inc()
        return _with_cookie(request, render(request, "sign_in.html", status=status, title="Sign in",
                                            error=message, staff_id=str(form.get("staff_id", ""))[:64]),
                            token)

    if not csrf_ok(session, form):
        return again("This form was not sent from this page (its security token is missing or old). "
                     "Send it again.", "csrf", 403)
    now = utc_now()
    if not await run_in_threadpool(portal.sign_in_rate.allow,
                                   request.client.host if request.client else "", now):
        return again("Too many sign-in attempts from here: wait a minute and try again.",
                     "rate-limited", 429)
    staff_id = str(form.get("staff_id", "")).strip().lower()
    password = str(form.get("password", ""))
    staff = await run_in_threadpool(portal.store.get_staff, staff_id) if staff_id else None
    if staff is None or staff.disabled:
        await run_in_threadpool(accounts.waste_time, password)
        return again("That staff id and password do not match an account.", "unknown")
    if staff.locked(now):
        return again("This account is locked after too many failed attempts; try again in "
                     f"{accounts.LOCK_FOR.seconds // 60} minutes or ask your administrator.",
                     "locked", 423)
    if not await run_in_threadpool(accounts.password_ok, staff, password):
        staff = await run_in_threadpool(portal.store.failed, staff, now)
        if staff.locked(now):
            LOCKOUTS.inc()
            return again("Too many failed attempts: this account is now locked for "
                         f"{accounts.LOCK_FOR.seconds // 60} minutes.", "password", 423)
        return again("That staff id and password do not match an account.", "password")
    portal.store.end_session(cookie_token(request))
    if staff.needs_second_factor:
        SIGN_INS.labels("password").inc()
        new = await run_in_threadpool(portal.store.start_session, now, staff.id, "password")
        return _with_cookie(request, RedirectResponse("/sign-in/code", status_code=303), new)
    await run_in_threadpool(portal.store.succeeded, staff)
    SIGN_INS.labels("signed-in").inc()
    new = await run_in_threadpool(portal.store.start_session, now, staff.id, "signed-in")
    return _with_cookie(request, RedirectResponse("/", status_code=303), new)


async def _waiting_for_code(request: Request):
    store = request.app.state.portal.store
    session = await run_in_threadpool(store.session, cookie_token(request), utc_now())
    if session is None or session.stage != "password":
        return None
    return session


async def code_form(request: Request) -> Response:
    session = await _waiting_for_code(request)
    if session is None:
        return RedirectResponse("/sign-in?m=expired", status_code=303)
    request.scope["tiaki_session"] = session
    return render(request, "sign_in_code.html", title="Your sign-in code")


async def code(request: Request) -> Response:
    portal = request.app.state.portal
    session = await _waiting_for_code(request)
    if session is None:
        return RedirectResponse("/sign-in?m=expired", status_code=303)
    request.scope["tiaki_session"] = session
    form = await request.form(max_files=0, max_fields=10)
    if not csrf_ok(session, form):
        return render(request, "sign_in_code.html", status=403, title="Your sign-in code",
                      error="This form was not sent from this page; send it again.")
    now = utc_now()
    staff = await run_in_threadpool(portal.store.get_staff, session.staff)
    if staff is None or staff.disabled or staff.locked(now):
        portal.store.end_session(cookie_token(request))
        return RedirectResponse("/sign-in?m=expired", status_code=303)
    step = accounts.code_step(staff, str(form.get("code", "")), now)
    if step is None:
        SIGN_INS.labels("refused").inc()
        SIGN_IN_FAILURES.labels("code").inc()
        staff = await run_in_threadpool(portal.store.failed, staff, now)
        if staff.locked(now):
            LOCKOUTS.inc()
            portal.store.end_session(cookie_token(request))
            return render(request, "sign_in.html", status=423, title="Sign in",
                          error="Too many failed attempts: this account is now locked for "
                                f"{accounts.LOCK_FOR.seconds // 60} minutes.")
        return render(request, "sign_in_code.html", status=400, title="Your sign-in code",
                      error="That code is not right, or was used already. Use the newest "
                            "code your authenticator app shows.")
    await run_in_threadpool(portal.store.succeeded, staff, step)
    portal.store.end_session(cookie_token(request))
    SIGN_INS.labels("signed-in").inc()
    new = await run_in_threadpool(portal.store.start_session, now, staff.id, "signed-in")
    return _with_cookie(request, RedirectResponse("/", status_code=303), new)


@page("/sign-out", methods=("POST",))
def sign_out(visit) -> Response:
    visit.app.store.end_session(cookie_token(visit.request))
    response = RedirectResponse("/sign-in?m=out", status_code=303)
    response.delete_cookie("tiaki_session", path="/")
    return response


# -- the staff admin API (`tiaki staff`): bearer token from the portal's admin token file ----


def _admin(request: Request) -> bool:
    try:
        sent = bearer_token(request.headers.items())
    except Exception:
        return False
    want = request.app.state.portal.admin_token_hash
    return bool(sent and want) and hmac.compare_digest(token_hash(sent), want)


def _problem(exc) -> JSONResponse:
    status = {Invalid: 400, NotFound: 404, Conflict: 409}.get(type(exc), 400)
    return JSONResponse({"field": exc.field, "error": exc.reason}, status_code=status)


async def admin_staff(request: Request) -> Response:
    if not _admin(request):
        return JSONResponse({"error": "send the portal's admin token as 'authorization: Bearer <token>'"},
                            status_code=401)
    store = request.app.state.portal.store
    if request.method == "GET":
        found = await run_in_threadpool(store.list_staff, request.query_params.get("org", ""))
        return JSONResponse({"staff": [s.public() for s in found]})
    body = await request.json()
    password = body.get("password") or accounts.new_password()
    try:
        staff = accounts.new_staff(str(body.get("id", "")), str(body.get("name", "")),
                                   str(body.get("org_kind", "")), str(body.get("org", "")),
                                   list(body.get("roles") or []), password,
                                   str(body.get("email") or ""))
        await run_in_threadpool(store.add_staff, staff)
    except (Invalid, Conflict) as exc:
        return _problem(exc)
    return JSONResponse({"staff": staff.public(), "password": None if body.get("password") else password,
                         "totp_secret": staff.totp_secret if staff.needs_second_factor else None,
                         "provisioning_uri": accounts.provisioning_uri(staff)
                         if staff.needs_second_factor else None}, status_code=201)


async def admin_disable(request: Request) -> Response:
    if not _admin(request):
        return JSONResponse({"error": "send the portal's admin token"}, status_code=401)
    try:
        await run_in_threadpool(request.app.state.portal.store.set_disabled,
                                request.path_params["staff_id"], True)
    except NotFound as exc:
        return _problem(exc)
    return JSONResponse({"disabled": request.path_params["staff_id"]})


PUBLIC = [
    Route("/sign-in", sign_in_form, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-in/code", code_form, methods=["GET"]),
    Route("/sign-in/code", code, methods=["POST"]),
    Route("/admin/api/staff", admin_staff, methods=["GET", "POST"]),
    Route("/admin/api/staff/{staff_id}/disable", admin_disable, methods=["POST"]),
]
