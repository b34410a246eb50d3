"""`tiaki directory ...`: the names, postal addresses, phones and privacy
emails documents use for providers, the Agency and its units.

    tiaki directory set provider ccss --name "City Centre Social Services" \
        --address "PO Box 1234, Wellington 6140" --phone "04 555 0100" --email privacy@ccss.org.nz
    tiaki directory set --file programmes/directory.yaml
    tiaki directory show provider ccss
    tiaki directory list
"""

from __future__ import annotations

import click

from tiaki.cli import base
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub

KINDS = {"provider": dpb.PARTY_KIND_PROVIDER, "agency": dpb.PARTY_KIND_AGENCY,
         "unit": dpb.PARTY_KIND_UNIT}
FROM_FILE = {"display_name": "name", "postal_address": "address", "phone": "phone",
             "privacy_email": "email"}


@click.group()
def directory() -> None:
    """Who providers, the Agency and its units are, as families read it."""


def describe(e: dpb.DirectoryEntry) -> str:
    kind = base.enum_words(dpb.PartyKind, e.kind, "PARTY_KIND_")
    address = "; ".join(line.strip() for line in e.postal_address.replace("\n", ",").split(",")
                        if line.strip())
    return "\n".join([f"{e.display_name} ({kind})", f"  address: {address}",
                      f"  phone: {e.phone}", f"  privacy questions: {e.privacy_email}",
                      f"  id: {e.id}"])


def entries_from_file(path: str) -> list[dpb.DirectoryEntry]:
    data = base.read_yaml(path, "a mapping with an 'entries' list")
    entries = data.get("entries")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise click.UsageError(f"{path} must hold an 'entries' list of mappings")
    out = []
    for e in entries:
        if e.get("kind") not in KINDS:
            raise click.UsageError(f"{path}: each entry's kind is provider, agency or unit")
        out.append(dpb.DirectoryEntry(kind=KINDS[e["kind"]], id=str(e.get("id", "")), **{
            field: str(e.get(key, "")) for field, key in FROM_FILE.items()}))
    return out


@directory.command("set")
@click.argument("kind", type=click.Choice(list(KINDS)), required=False)
@click.argument("party_id", metavar="ID", required=False)
@click.option("--name", default="", help="The name families read.")
@click.option("--address", default="", help="The postal address (lines separated by commas).")
@click.option("--phone", default="")
@click.option("--email", default="", help="The email for privacy questions.")
@click.option("--file", "path", type=click.Path(dir_okay=False),
              help="Set every entry of a YAML file (entries: [{kind, id, name, address, "
                   "phone, email}]).")
def set_entry(kind, party_id, name, address, phone, email, path) -> None:
    """Create or replace an entry (the Agency)."""
    if path:
        if kind:
            raise click.UsageError("give either KIND ID and the options, or --file")
        entries = entries_from_file(path)
    elif not kind:
        raise click.UsageError("give KIND ID and the options, or --file")
    else:
        entries = [dpb.DirectoryEntry(kind=KINDS[kind], id=party_id or "", display_name=name,
                                      postal_address=address, phone=phone, privacy_email=email)]
    for entry in entries:
        stored = base.call("router", DirectoryServiceStub, "SetEntry",
                           dpb.SetEntryRequest(entry=entry)).entry
        click.echo(f"set {base.enum_words(dpb.PartyKind, stored.kind, 'PARTY_KIND_')} "
                   f"{stored.display_name}")


@directory.command("show")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("party_id", metavar="ID", default="")
def show(kind, party_id) -> None:
    """One entry."""
    found = base.call("router", DirectoryServiceStub, "GetEntry",
                      dpb.GetEntryRequest(kind=KINDS[kind], id=party_id))
    click.echo(describe(found.entry))


@directory.command("list")
def list_entries() -> None:
    """Every entry."""
    found = base.call("router", DirectoryServiceStub, "ListEntries", dpb.ListEntriesRequest())
    rows = [[e.display_name, base.enum_words(dpb.PartyKind, e.kind, "PARTY_KIND_"), e.phone,
             e.privacy_email] for e in found.entries]
    click.echo(base.table(["name", "kind", "phone", "privacy questions"], rows)
               if rows else "the directory is empty")
