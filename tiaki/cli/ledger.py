"""The ledger's chain head for `tiaki flows --head` and `--verify --kept-head`.

A provider keeps the head (sequence and entry hash) somewhere of its own; a
later `tiaki flows --verify --kept-head SEQ:HASH` then shows whether entries up
to it were since removed or rewritten, which the chain alone cannot show for
its last entries (docs/ledger.md)."""

from __future__ import annotations

import re

import click

from tiaki.router.v1 import ledger_pb2

KEPT_HEAD = re.compile(r"(\d+):([0-9a-fA-F]{64})")


def parse_kept_head(text: str | None) -> tuple[int, str]:
    """'SEQ:HASH' as (sequence, hash); (0, '') when not given."""
    if not text:
        return 0, ""
    found = KEPT_HEAD.fullmatch(text.strip())
    if found is None or int(found.group(1)) < 1:
        raise click.BadParameter("give the kept head as SEQUENCE:ENTRY_HASH, e.g. "
                                 "42:3f...(64 hex digits), as `tiaki flows --head` prints it",
                                 param_hint="--kept-head")
    return int(found.group(1)), found.group(2).lower()


def show_head(stub, metadata) -> None:
    head = stub.GetChainHead(ledger_pb2.GetChainHeadRequest(), metadata=metadata)
    if head.sequence == 0:
        click.echo("the ledger is empty: head 0:" + head.entry_hash)
        return
    click.echo(f"head {head.sequence}:{head.entry_hash}  (recorded "
               f"{head.recorded_at.ToJsonString()})")
    click.echo(f"keep it; later: tiaki flows --verify --kept-head {head.sequence}:{head.entry_hash}")


def check_kept_head(entries: list[dict], kept: tuple[int, str]) -> str:
    """The problem the listed chain has with the kept head, or ''."""
    sequence, digest = kept
    if not sequence:
        return ""
    if sequence > len(entries):
        return (f"the chain ends at entry {len(entries)}, before the head you kept "
                f"(entry {sequence}): entries were removed")
    if entries[sequence - 1]["entry_hash"] != digest:
        return f"entry {sequence} is not the head you kept: the chain was rewritten up to it"
    return ""
