"""RabbitMQ users for a least-privilege setup: one per Agency unit, able to
read only its own queue, and one per service.

    tiaki broker-users --vhost / --units evaluation,service-delivery

Writes DIR/<user>.uri (mode 600): the AMQP URI with the user's password, what
`scripts/services.sh` gives each process when it exists. Running it again
keeps existing passwords. Permissions (RabbitMQ's configure / write / read
regular expressions, in the one vhost):

- a unit: nothing to configure or write; read only `tiaki.unit.<unit>`. It
  cannot bind its queue to another unit's routing key, publish, or consume
  another unit's queue: its queue (with its dead-letter queue) is declared and
  bound here, by the administrator, and the unit SDK consumes it without
  declaring (`--passive-queue`).
- a service: what nameko needs (its RPC, reply and event queues and
  exchanges, publishing to unit queues), but reading no unit's queue; since
  declaring a dead-lettering queue takes reading it, services only check that
  the unit queues made here exist."""

from __future__ import annotations

import os
import re
import secrets
import urllib.parse
from pathlib import Path

import click
import requests
from kombu import Connection

from tiaki.connect import queues
from tiaki.core import messages

SERVICES = ("intake", "purpose_router", "requests", "insights")


def unit_permissions(unit_id: str) -> dict:
    return {"configure": "^$", "write": "^$",
            "read": f"^{re.escape(messages.UNIT_QUEUE_PREFIX + unit_id)}$"}


def service_permissions() -> dict:
    # Everything but reading a unit's queue ("tiaki.units", the exchange, stays readable).
    return {"configure": ".*", "write": ".*", "read": f"^(?!{re.escape(messages.UNIT_QUEUE_PREFIX)}).*"}


def ensure_broker_users(mgmt: str, admin: tuple[str, str], vhost: str, units: list[str],
                        services: list[str], directory: str, amqp_hostport: str,
                        prefix: str = "tiaki-") -> dict[str, str]:
    """Creates (or updates) the users and their vhost permissions; returns
    {user: AMQP URI}, also written to DIR/<user>.uri."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    wanted = [(f"{prefix}unit-{u}", unit_permissions(u)) for u in units]
    wanted += [(f"{prefix}svc-{s}", service_permissions()) for s in services]
    quoted_vhost = urllib.parse.quote(vhost, safe="")
    out = {}
    for user, permissions in wanted:
        path = root / f"{user}.uri"
        password = _password(path)
        with requests.Session() as http:
            http.auth = admin
            http.put(f"{mgmt}/api/users/{urllib.parse.quote(user, safe='')}", timeout=10,
                     json={"password": password, "tags": ""}).raise_for_status()
            http.put(f"{mgmt}/api/permissions/{quoted_vhost}/{urllib.parse.quote(user, safe='')}",
                     json=permissions, timeout=10).raise_for_status()
        uri = (f"pyamqp://{urllib.parse.quote(user, safe='')}:{password}@{amqp_hostport}/"
               f"{quoted_vhost if vhost != '/' else ''}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(uri + "\n")
        out[user] = uri
    # The unit queues, with their dead-letter queues, made here by the
    # administrator: declaring a dead-lettering queue takes reading it, which
    # no service user may do.
    admin_uri = (f"pyamqp://{urllib.parse.quote(admin[0], safe='')}:"
                 f"{urllib.parse.quote(admin[1], safe='')}@{amqp_hostport}/"
                 f"{quoted_vhost if vhost != '/' else ''}")
    with Connection(admin_uri) as conn:
        for unit in units:
            queues.declare(conn, queues.unit_queue(unit))
    return out


def _password(path: Path) -> str:
    """The user's password from its URI file, or a new one."""
    if path.exists():
        found = re.match(r"pyamqp://[^:]+:([^@]+)@", path.read_text().strip())
        if found:
            return found.group(1)
    return secrets.token_urlsafe(24)


def delete_users(mgmt: str, admin: tuple[str, str], users: list[str]):
    for user in users:
        requests.delete(f"{mgmt}/api/users/{urllib.parse.quote(user, safe='')}", auth=admin,
                        timeout=10)


@click.command("broker-users")
@click.option("--mgmt", default="http://127.0.0.1:15672", show_default=True,
              envvar="TIAKI_RABBIT_MGMT", help="RabbitMQ's management API.")
@click.option("--admin", default="guest:guest", show_default=True,
              envvar="TIAKI_RABBIT_ADMIN", help="USER:PASSWORD of a broker administrator.")
@click.option("--vhost", default="/", show_default=True)
@click.option("--amqp", "amqp_hostport", default="127.0.0.1:5672", show_default=True,
              help="HOST:PORT the URIs name.")
@click.option("--units", default="evaluation,service-delivery", show_default=True,
              help="Comma-separated unit ids.")
@click.option("--services", default=",".join(SERVICES), show_default=True)
@click.option("--dir", "directory", default="var/broker", show_default=True,
              type=click.Path(file_okay=False), help="Where the URI files go.")
def broker_users(mgmt, admin, vhost, amqp_hostport, units, services, directory) -> None:
    """A RabbitMQ user per unit (reads only its own queue) and per service."""
    user, _, password = admin.partition(":")
    made = ensure_broker_users(mgmt, (user, password), vhost,
                               [u for u in units.split(",") if u],
                               [s for s in services.split(",") if s], directory, amqp_hostport)
    for name in made:
        click.echo(f"{name}: {directory}/{name}.uri")
