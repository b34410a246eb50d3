"""`tiaki staff add|list|disable`: the portal's staff accounts, through the
portal's admin API (HTTP on the portal's own address, with the admin token the
portal wrote in var/portal/admin-token, mode 600: run it on the portal's machine).

    tiaki staff add aroha.ngata --org provider:ccss --role privacy-officer --name "Aroha Ngata"
    tiaki staff list --org ccss
    tiaki staff disable aroha.ngata
"""

from __future__ import annotations

import click
import requests

from tiaki.cli.base import read_token_file, table


class Portal:
    def __init__(self, url: str, token_file: str):
        self.url = url.rstrip("/")
        self.token_file = token_file

    def call(self, method: str, path: str, **kwargs) -> dict:
        token = read_token_file(self.token_file, "the portal's admin token",
                                "run this on the portal's machine")
        try:
            reply = requests.request(method, f"{self.url}{path}", timeout=30,
                                     headers={"authorization": f"Bearer {token}"}, **kwargs)
        except requests.RequestException:
            raise click.ClickException(f"the portal at {self.url} does not answer") from None
        body = reply.json()
        if reply.status_code >= 400:
            field = f"{body['field']}: " if body.get("field") else ""
            raise click.ClickException(f"{field}{body.get('error', reply.status_code)}")
        return body


@click.group()
@click.option("--portal", "url", envvar="TIAKI_PORTAL", default="http://127.0.0.1:8080",
              show_default=True, help="The portal's address.")
@click.option("--admin-token-file", envvar="TIAKI_PORTAL_ADMIN_TOKEN_FILE",
              default="var/portal/admin-token", show_default=True,
              help="The portal's admin token (written by the portal at its first start).")
@click.pass_context
def staff(ctx: click.Context, url: str, admin_token_file: str) -> None:
    """Staff accounts of the portal (people, not organisations)."""
    ctx.obj = Portal(url, admin_token_file)


@staff.command("add")
@click.argument("staff_id")
@click.option("--org", required=True, metavar="KIND:ID",
              help="The organisation: provider:ccss, agency:agency, unit:evaluation, representative:ID.")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeat for more).")
@click.option("--name", default="", help="The person's name as pages show it.")
@click.option("--email", default="", help="Where the portal sends their notifications.")
@click.pass_obj
def add(portal: Portal, staff_id: str, org: str, roles: tuple[str, ...], name: str,
        email: str) -> None:
    """Adds a person; prints their first password and second-factor secret once."""
    kind, _, org_id = org.partition(":")
    body = portal.call("POST", "/admin/api/staff", json={
        "id": staff_id, "name": name, "org_kind": kind, "org": org_id, "roles": list(roles),
        "email": email})
    click.echo(f"added {body['staff']['id']} ({kind} {org_id}: {', '.join(roles)})")
    click.echo(f"password: {body['password']}  (give it to them privately)")
    if body.get("totp_secret"):
        click.echo(f"authenticator app: secret {body['totp_secret']}")
        click.echo(f"  or scan: {body['provisioning_uri']}")


@staff.command("list")
@click.option("--org", default="", help="Only this organisation's staff.")
@click.pass_obj
def list_staff(portal: Portal, org: str) -> None:
    """Every account: organisation, roles, whether disabled or locked."""
    body = portal.call("GET", "/admin/api/staff", params={"org": org} if org else None)
    rows = [[s["id"], s["name"], f"{s['org_kind']}:{s['org']}", ",".join(s["roles"]),
             "disabled" if s["disabled"] else ("locked" if s["locked_until"] else "active")]
            for s in body["staff"]]
    click.echo(table(["id", "name", "organisation", "roles", "state"], rows))


@staff.command("disable")
@click.argument("staff_id")
@click.pass_obj
def disable(portal: Portal, staff_id: str) -> None:
    """Disables an account and ends its sessions."""
    portal.call("POST", f"/admin/api/staff/{staff_id}/disable")
    click.echo(f"disabled {staff_id}")
