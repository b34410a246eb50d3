"""RabbitMQ users for a least-privilege setup, the only setup tiaki runs with:
an administrator, one user per Agency unit, able to read only its own queue,
and one per service; `guest` is deleted from the node.

    tiaki broker-users --vhost / --units evaluation,service-delivery

(what `scripts/infra.sh start` runs on every start). The administrator,
`tiaki-admin`, gets a random password the first time, made through `guest`
while the node still has it (a new node, or one from before this rule); then
`guest` is deleted, so running it again is a no-op. Writes DIR/<user>.uri
(DIR mode 700, files mode 600; DIR is var/broker, or TIAKI_BROKER_DIR): the
AMQP URI with the user's password, what `scripts/services.sh` gives each
process in its environment; the administrator's also opens the management UI
and API. Running it again keeps existing passwords. Permissions (RabbitMQ's
configure / write / read regular expressions, in the one vhost):

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
from tiaki.plumbing.private_files import private_dir, write_private

SERVICES = ("intake", "purpose_router", "requests", "insights")
ADMIN_USER = "tiaki-admin"
GUEST = ("guest", "guest")
EVERYTHING = {"configure": ".*", "write": ".*", "read": ".*"}


class BrokerAdminUnknown(click.ClickException):
    """Neither our administrator nor guest is accepted by the node."""


def broker_dir() -> str:
    """Where the users' URI files are: TIAKI_BROKER_DIR, or var/broker."""
    return os.environ.get("TIAKI_BROKER_DIR", "var/broker")


def _admin_file(directory: str | None) -> Path:
    path = Path(directory or broker_dir()) / f"{ADMIN_USER}.uri"
    if not path.exists():
        raise BrokerAdminUnknown(f"{path} does not exist: `scripts/infra.sh start` (or "
                                 "`tiaki broker-users`) makes the broker's administrator")
    return path


def admin_uri(directory: str | None = None) -> str:
    """The AMQP URI of the administrator `tiaki broker-users` made."""
    return _admin_file(directory).read_text().strip()


def admin_credentials(directory: str | None = None) -> tuple[str, str]:
    """(user, password) of that administrator."""
    return ADMIN_USER, _password(_admin_file(directory))


def amqp_uri(user: tuple[str, str], amqp_hostport: str, vhost: str = "/") -> str:
    """The user's AMQP URI. `amqp_hostport` may name every node of a cluster,
    comma-separated ("h1:5672,h2:5672"): the URI then lists one alternate per
    node, separated by ";", and kombu (so nameko, the unit SDK and the CLI)
    connects to the next one when a node is down."""
    quoted_vhost = urllib.parse.quote(vhost, safe="")
    return ";".join(f"pyamqp://{urllib.parse.quote(user[0], safe='')}:"
                    f"{urllib.parse.quote(user[1], safe='')}@{hostport.strip()}/"
                    f"{quoted_vhost if vhost != '/' else ''}"
                    for hostport in amqp_hostport.split(","))


def unit_permissions(unit_id: str) -> dict:
    return {"configure": "^$", "write": "^$",
            "read": f"^{re.escape(messages.UNIT_QUEUE_PREFIX + unit_id)}$"}


def service_permissions() -> dict:
    # Everything but reading a unit's queue ("tiaki.units", the exchange, stays readable).
    return {"configure": ".*", "write": ".*", "read": f"^(?!{re.escape(messages.UNIT_QUEUE_PREFIX)}).*"}


def accepted(mgmt: str, user: tuple[str, str]) -> bool:
    """Whether the management API takes these credentials."""
    return requests.get(f"{mgmt}/api/whoami", auth=user, timeout=10).status_code == 200


def ensure_admin(mgmt: str, directory: str, amqp_hostport: str) -> tuple[str, str]:
    """The node's administrator (made through guest if the node does not know
    it yet), with guest deleted; returns (user, password)."""
    path = private_dir(directory) / f"{ADMIN_USER}.uri"
    admin = (ADMIN_USER, _password(path))
    # Written before the node has it: a password the node knows is never lost.
    write_private(path, amqp_uri(admin, amqp_hostport))
    if not accepted(mgmt, admin):
        if not accepted(mgmt, GUEST):
            raise BrokerAdminUnknown(
                f"the broker at {mgmt} accepts neither {ADMIN_USER} (password in {path}) nor "
                "guest; if it is this checkout's node, `scripts/infra.sh reset-admin` sets "
                f"{ADMIN_USER}'s password to the one in that file; if another checkout's, "
                "set TIAKI_BROKER_DIR to that checkout's var/broker")
        _put_user(mgmt, GUEST, admin, "administrator")
    _grant(mgmt, admin, "/", ADMIN_USER, EVERYTHING)
    response = requests.delete(f"{mgmt}/api/users/guest", auth=admin, timeout=10)
    if response.status_code != 404:
        response.raise_for_status()
    return admin


def ensure_broker_users(mgmt: str, admin: tuple[str, str], vhost: str, units: list[str],
                        services: list[str], directory: str, amqp_hostport: str,
                        prefix: str = "tiaki-") -> dict[str, str]:
    """Creates (or updates) the users and their vhost permissions; returns
    {user: AMQP URI}, also written to DIR/<user>.uri."""
    root = private_dir(directory)
    wanted = [(f"{prefix}unit-{u}", unit_permissions(u)) for u in units]
    wanted += [(f"{prefix}svc-{s}", service_permissions()) for s in services]
    _grant(mgmt, admin, vhost, admin[0], EVERYTHING)
    out = {}
    for user, permissions in wanted:
        path = root / f"{user}.uri"
        password = _password(path)
        _put_user(mgmt, admin, (user, password), "")
        _grant(mgmt, admin, vhost, user, permissions)
        out[user] = amqp_uri((user, password), amqp_hostport, vhost)
        write_private(path, out[user])
    # The unit queues, with their dead-letter queues, made here by the
    # administrator: declaring a dead-lettering queue takes reading it, which
    # no service user may do.
    with Connection(amqp_uri(admin, amqp_hostport, vhost)) as conn:
        for unit in units:
            queues.declare(conn, queues.unit_queue(unit))
    return out


def _put_user(mgmt: str, admin: tuple[str, str], user: tuple[str, str], tags: str) -> None:
    requests.put(f"{mgmt}/api/users/{urllib.parse.quote(user[0], safe='')}", auth=admin,
                 json={"password": user[1], "tags": tags}, timeout=10).raise_for_status()


def _grant(mgmt: str, admin: tuple[str, str], vhost: str, user: str, permissions: dict) -> None:
    requests.put(f"{mgmt}/api/permissions/{urllib.parse.quote(vhost, safe='')}/"
                 f"{urllib.parse.quote(user, safe='')}", auth=admin, json=permissions,
                 timeout=10).raise_for_status()


def _password(path: Path) -> str:
    """The user's password from its URI file, or a new one."""
    if path.exists():
        found = re.match(r"pyamqp://[^:]+:([^@]+)@", path.read_text().strip())
        if found:
            return urllib.parse.unquote(found.group(1))
    return secrets.token_urlsafe(24)


def delete_users(mgmt: str, admin: tuple[str, str], users: list[str]):
    for user in users:
        requests.delete(f"{mgmt}/api/users/{urllib.parse.quote(user, safe='')}", auth=admin,
                        timeout=10)


@click.command("broker-users")
@click.option("--mgmt", default="http://127.0.0.1:15672", show_default=True,
              envvar="TIAKI_RABBIT_MGMT", help="RabbitMQ's management API.")
@click.option("--vhost", default="/", show_default=True)
@click.option("--amqp", "amqp_hostport", default="127.0.0.1:5672", show_default=True,
              help="HOST:PORT the URIs name; a cluster's nodes comma-separated.")
@click.option("--units", default="evaluation,service-delivery", show_default=True,
              help="Comma-separated unit ids.")
@click.option("--services", default=",".join(SERVICES), show_default=True)
@click.option("--dir", "directory", default=broker_dir, show_default="var/broker or TIAKI_BROKER_DIR",
              type=click.Path(file_okay=False), help="Where the URI files go.")
def broker_users(mgmt, vhost, amqp_hostport, units, services, directory) -> None:
    """The broker's administrator (guest deleted), a user per unit (reads only
    its own queue) and per service."""
    admin = ensure_admin(mgmt, directory, amqp_hostport)
    made = ensure_broker_users(mgmt, admin, vhost, [u for u in units.split(",") if u],
                               [s for s in services.split(",") if s], directory, amqp_hostport)
    for name in [ADMIN_USER, *made]:
        click.echo(f"{name}: {directory}/{name}.uri")


if __name__ == "__main__":  # what scripts/infra.sh runs: this checkout's code, whatever is installed
    broker_users()
