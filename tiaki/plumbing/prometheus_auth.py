"""Basic authentication for the Prometheus `make run` starts (scripts/prometheus.sh):

    python -m tiaki.plumbing.prometheus_auth var/prometheus-auth

writes DIR/credentials ("USER:PASSWORD", a random password, kept when run
again) and DIR/web.yml, Prometheus's web configuration (--web.config.file)
holding only the password's bcrypt hash; DIR mode 700, files mode 600."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import bcrypt
import yaml

from tiaki.plumbing.private_files import private_dir, write_private

USER = "tiaki"


def ensure_web_config(directory: str) -> Path:
    """Returns the web configuration's path."""
    root = private_dir(directory)
    credentials = root / "credentials"
    if not credentials.exists():
        write_private(credentials, f"{USER}:{secrets.token_urlsafe(24)}")
    user, _, password = credentials.read_text().strip().partition(":")
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    web = root / "web.yml"
    write_private(web, yaml.safe_dump({"basic_auth_users": {user: hashed}}).strip())
    return web


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tiaki.plumbing.prometheus_auth DIR")
    print(ensure_web_config(sys.argv[1]))
