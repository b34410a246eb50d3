"""`python -m services.portal [serve]`: the portal on PORTAL_ADDR:PORTAL_PORT
(127.0.0.1:8080), metrics on PORTAL_METRICS_PORT (9105), JSON log lines to
LOG_FILE (rotated) or standard error.
`python -m services.portal demo FILE`: one demo person per role (once), their
sign-in details written to FILE (mode 600) and printed.

Its own process on uvicorn rather than nameko: the portal serves HTTP pages and
server-sent events (ASGI), and nameko's HTTP entrypoint is WSGI on eventlet,
which cannot hold a stream open per browser; the portal has no broker work."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import mongoengine

from services.portal import accounts
from services.portal.app import Settings, make_app
from services.portal.storage import PortalStore
from tiaki.plumbing.logs import JsonLines, handler
from tiaki.plumbing.private_files import private_dir, write_private
from tiaki.plumbing.store import connect

DEMO = [  # (staff id, name, organisation kind, organisation, role)
    ("aroha.ngata", "Aroha Ngata", "provider", "ccss", "privacy-officer"),
    ("mere.tane", "Mere Tane", "provider", "ccss", "reporting-admin"),
    ("hemi.walker", "Hemi Walker", "provider", "ccss", "board-member"),
    ("sam.patel", "Sam Patel", "agency", "agency", "analyst"),
    ("lee.chen", "Lee Chen", "agency", "agency", "contract-manager"),
    ("ana.silva", "Ana Silva", "unit", "evaluation", "unit-reviewer"),
    ("wiremu.rua", "Wiremu Rua", "representative", "whanau-voice", "representative"),
]


def logging_setup(file: str) -> None:
    main = handler(file or None)
    main.setFormatter(JsonLines("portal"))
    logging.basicConfig(level=logging.INFO, handlers=[main], force=True)
    for noisy in ("uvicorn.access", "pymongo", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve() -> None:
    import os

    import uvicorn
    from prometheus_client import start_http_server

    logging_setup(os.environ.get("LOG_FILE", ""))
    settings = Settings.from_env()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.host)
    app = make_app(settings)
    logging.getLogger("services.portal").info(
        "portal on %s://%s:%s", "https" if settings.tls else "http", settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_config=None,
                ssl_certfile=settings.tls_cert or None, ssl_keyfile=settings.tls_key or None,
                proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies or None, server_header=False)


def demo(out: str) -> None:
    """Demo people, once: their sign-in details stay in `out` (0600)."""
    settings = Settings.from_env()
    connect(settings.mongo_uri)
    store = PortalStore()
    store.ensure_indexes()
    path = Path(out)
    private_dir(path.parent)
    lines = path.read_text().splitlines() if path.exists() else []
    for staff_id, name, kind, org, role in DEMO:
        if store.get_staff(staff_id) is not None:
            continue
        password = accounts.new_password()
        staff = accounts.new_staff(staff_id, name, kind, org, [role], password)
        store.add_staff(staff)
        code = f"  TOTP secret {staff.totp_secret}" if staff.needs_second_factor else ""
        lines.append(f"{role:17} {staff_id:12} password {password}{code}")
    write_private(path, "\n".join(lines))
    mongoengine.disconnect()
    print(path.read_text(), end="")


if __name__ == "__main__":
    args = sys.argv[1:] or ["serve"]
    if args[0] == "serve":
        serve()
    elif args[0] == "demo" and len(args) == 2:
        demo(args[1])
    else:
        raise SystemExit("usage: python -m services.portal [serve] | demo FILE")
