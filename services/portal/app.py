"""The portal's Starlette application: its settings (from the environment),
its store and backends, and every route (sign-in and the admin API in
auth.py, pages registered with web.page in the page modules)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import mongoengine
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

# isort: off
# Importing a page module registers its pages; the menu lists them in this order.
from services.portal import auth, home, provider, stories, agency, agency_view, representative  # noqa: F401
# isort: on
from services.portal import health
from services.portal.backends import Backends, Feeds
from services.portal.mail import Relay
from services.portal.notify import Notifier
from services.portal.storage import PortalStore
from services.portal.unit import UnitReviews  # (and registers the unit staff's pages)
from services.portal.web import HERE, ROUTES, Headers
from tiaki.plumbing.private_files import private_dir, write_private
from tiaki.plumbing.store import DURABILITY, Ping, connect

MAX_BODY = 32 * 1024 * 1024  # a quarter's CSV fits; nothing larger is read


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    metrics_port: int = 9105
    mongo_uri: str = "mongodb://127.0.0.1:27023/tiaki_portal"
    tokens_dir: str = "var/tokens"
    admin_token_file: str = "var/portal/admin-token"
    units_config: str = "config/units/reference.yaml"  # where each unit's review service is
    tls_cert: str = ""
    tls_key: str = ""
    relay: Relay = Relay()    # the mail relay for notifications (mail.py; no address: no email)
    notify_every: float = 300  # seconds between looks for notifications (0: never)
    sign_in_rate: int = 20     # sign-in posts a minute from one address
    # Proxies whose X-Forwarded-For names the browser's address (IPs or networks, comma
    # separated; "" none): behind a proxy every browser has the proxy's address, and one
    # sign-in limit for all of them, unless the proxy is named here.
    trusted_proxies: str = ""
    # The services serve mutual TLS: each organisation's client certificate in this
    # directory (<kind>-<org>.pem/.key and ca.pem, as scripts/certs.sh makes them).
    tls_clients: str = ""
    # How the store client writes and reads (STORE_WRITE_CONCERN, ...: the services'
    # keys, tiaki/plumbing/store.py DURABILITY); a key not set takes the safe default.
    store_client: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=lambda: {
        "intake": "127.0.0.1:50051", "purpose_router": "127.0.0.1:50052",
        "requests": "127.0.0.1:50053", "insights": "127.0.0.1:50054"})

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @classmethod
    def from_env(cls, env=None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            host=env.get("PORTAL_ADDR", d.host), port=int(env.get("PORTAL_PORT", d.port)),
            metrics_port=int(env.get("PORTAL_METRICS_PORT", d.metrics_port)),
            mongo_uri=env.get("PORTAL_MONGO_URI", d.mongo_uri),
            tokens_dir=env.get("PORTAL_TOKENS_DIR", d.tokens_dir),
            admin_token_file=env.get("PORTAL_ADMIN_TOKEN_FILE", d.admin_token_file),
            units_config=env.get("PORTAL_UNITS_CONFIG", d.units_config),
            tls_cert=env.get("PORTAL_TLS_CERT", ""), tls_key=env.get("PORTAL_TLS_KEY", ""),
            relay=Relay.from_env(env),
            notify_every=float(env.get("PORTAL_NOTIFY_EVERY", d.notify_every)),
            sign_in_rate=int(env.get("PORTAL_SIGN_IN_RATE", d.sign_in_rate)),
            trusted_proxies=env.get("PORTAL_TRUSTED_PROXIES", ""),
            tls_clients=env.get("PORTAL_TLS_CLIENTS", ""),
            store_client={k: env[k] for k in DURABILITY if k in env},
            services={s: env.get(f"PORTAL_{s.upper()}", a) for s, a in d.services.items()})


def admin_token_hash(path: str) -> str:
    """The SHA-256 of the admin token in `path` (made, mode 600, when missing)."""
    file = Path(path)
    if not file.exists():
        private_dir(file.parent)
        write_private(file, f"tk_portal_{secrets.token_urlsafe(24)}")
    return hashlib.sha256(file.read_text().strip().encode()).hexdigest()


class Portal:
    """What every request reaches through `request.app.state.portal`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        connect(settings.mongo_uri, settings=settings.store_client)
        self.store = PortalStore()
        self.store.ensure_indexes()
        self.store_answers = Ping(settings.mongo_uri)  # GET /healthz
        self.backends = Backends(settings.services, Path(settings.tokens_dir), settings.tls_clients)
        self.feeds = Feeds(self.backends)
        self.notifier = Notifier(self.store, self.backends, settings.relay, settings.notify_every)
        self.admin_token_hash = admin_token_hash(settings.admin_token_file)
        self.sign_in_rate = auth.RateLimit(self.store, "sign-in", settings.sign_in_rate)
        self.unit_reviews = UnitReviews(settings.units_config)

    def close(self):
        self.notifier.stop()
        self.backends.close()
        self.unit_reviews.close()
        self.store_answers.close()
        mongoengine.disconnect()


def make_app(settings: Settings | None = None) -> Starlette:
    portal = Portal(settings or Settings.from_env())
    routes = [*auth.PUBLIC, *health.ROUTES, *ROUTES,
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        if portal.settings.notify_every:
            portal.notifier.start()
        yield
        portal.close()

    app = Starlette(routes=routes, lifespan=lifespan, max_body_size=MAX_BODY)
    app.state.portal = portal
    app.add_middleware(Headers, tls=portal.settings.tls)
    return app
