"""`tiaki flows`: where a provider's data went, who received it and who used it,
and the flow ledger's hash chain checked here as well as on the server.

    tiaki flows --submission <id>
    tiaki flows --verify [--kept-head SEQ:HASH]
    tiaki flows --head

Every `--verify` also checks purpose_router's signed tree head: signed with
the key pinned the first time (trust on first use), rebuilt by the listed
entries, and consistent with the last head this client verified, which it
remembers in $TIAKI_STATE_DIR/ledger-heads.json (default ~/.local/state/tiaki):
so entries removed from the end, or rewritten and rehashed, show without a head
passed by hand. A head kept by hand (`--head`, then `--kept-head SEQ:HASH`)
still works too (docs/ledger.md). The chain's format is tiaki.core.ledger's."""

from __future__ import annotations

import json
import sys
from datetime import UTC

import click

from tiaki.cli import base
from tiaki.connect import heads
from tiaki.core import ledger, tree_heads
from tiaki.router.v1 import ledger_pb2, ledger_pb2_grpc

FLOWS_PAGE_SIZE = 500


def _ledger() -> ledger_pb2_grpc.LedgerServiceStub:
    return base.stub(ledger_pb2_grpc.LedgerServiceStub, "router")


def entry_dict(entry: ledger_pb2.LedgerEntry) -> dict:
    """A ledger entry as the dict the router hashed (plus its entry_hash)."""
    return {
        "sequence": entry.sequence,
        "kind": ledger_pb2.EntryKind.Name(entry.kind).removeprefix("ENTRY_KIND_").lower(),
        "delivery_id": entry.delivery_id,
        "provider_id": entry.provider_id,
        "programme_id": entry.programme_id,
        "submission_id": entry.submission_id,
        "purpose_id": entry.purpose_id,
        "unit_id": entry.unit_id,
        "fields": list(entry.fields),
        "record_count": int(entry.record_count),
        "content_hash": entry.content_hash,
        "accessor": entry.accessor,
        "reason": entry.reason,
        "period": entry.period,
        "plan_version": int(entry.plan_version),
        "agreement_version": int(entry.agreement_version),
        "notice_version": int(entry.notice_version),
        "basis": entry.basis,
        **({"person": entry.person} if entry.person else {}),  # hashed only when set
        "recorded_at": entry.recorded_at.ToDatetime(tzinfo=UTC)
                                        .isoformat(timespec="microseconds"),
        "previous_hash": entry.previous_hash,
        "entry_hash": entry.entry_hash,
    }


def summarise_flows(entries: list[dict]) -> dict[tuple[str, str], dict[str, int]]:
    """Per (purpose, unit): deliveries, records, acknowledged deliveries, accesses."""
    deliveries = {e["delivery_id"]: e for e in entries if e["kind"] == "delivery"}
    acknowledged = {e["delivery_id"] for e in entries if e["kind"] == "acknowledgement"}
    summary: dict[tuple[str, str], dict[str, int]] = {}

    def row(entry: dict) -> dict[str, int]:
        source = deliveries.get(entry["delivery_id"], entry)
        key = (entry["purpose_id"] or source["purpose_id"], entry["unit_id"] or source["unit_id"])
        return summary.setdefault(key, {"deliveries": 0, "records": 0,
                                        "acknowledged": 0, "accesses": 0})

    for entry in entries:
        if entry["kind"] == "delivery":
            counts = row(entry)
            counts["deliveries"] += 1
            counts["records"] += entry["record_count"]
            counts["acknowledged"] += entry["delivery_id"] in acknowledged
        elif entry["kind"] == "access":
            row(entry)["accesses"] += 1
    return summary


def parse_kept_head(text: str | None) -> tuple[int, str]:
    """'SEQ:HASH' as (sequence, hash); (0, '') when not given."""
    if not text:
        return 0, ""
    kept = ledger.parse_kept_head(text)
    if kept is None:
        raise click.BadParameter("give the kept head as SEQUENCE:ENTRY_HASH, e.g. "
                                 "42:3f...(64 hex digits), as `tiaki flows --head` prints it",
                                 param_hint="--kept-head")
    return kept


def chain_problem(entries: list[dict], kept: tuple[int, str] = (0, "")) -> str:
    """What is wrong with the listed chain (and the head kept from it), or ''."""
    verdict = ledger.verify_chain(entries, kept)
    if verdict.intact:
        return ""
    # Users have read "entry N: ..." since the CLI first checked chains; core's
    # problems name the entry only where the sentence needs it.
    if verdict.problem.startswith(("entry ", "entries ", "the chain ")):
        return verdict.problem
    return f"entry {verdict.first_broken}: {verdict.problem}"


def _show_head(metadata) -> None:
    head = _ledger().GetChainHead(ledger_pb2.GetChainHeadRequest(), metadata=metadata)
    if head.sequence == 0:
        click.echo("the ledger is empty: head 0:" + head.entry_hash)
        return
    click.echo(f"head {head.sequence}:{head.entry_hash}  (recorded "
               f"{head.recorded_at.ToJsonString()})")
    click.echo(f"keep it; later: tiaki flows --verify --kept-head {head.sequence}:{head.entry_hash}")


def _list_flows(submission_id: str, metadata) -> list[ledger_pb2.LedgerEntry]:
    """Every ledger entry (of one submission), page by page."""
    stub = _ledger()
    entries: list[ledger_pb2.LedgerEntry] = []
    token = ""
    while True:
        page = stub.ListFlows(ledger_pb2.ListFlowsRequest(
            submission_id=submission_id, page_size=FLOWS_PAGE_SIZE, page_token=token),
            metadata=metadata)
        entries.extend(page.entries)
        token = page.next_page_token
        if not token:
            return entries


def _print_flows(entries: list[dict]) -> None:
    if not entries:
        click.echo("no flows recorded yet")
        return
    rows = []
    for e in entries:
        who = (f"{e['accessor']}: {e['reason']}" if e["kind"] == "access"
               else e["reason"] if e["kind"] == "supersession" else "")
        if e.get("person"):
            who = f"{who} (person {e['person']})".lstrip()
        records = str(e["record_count"]) if e["kind"] != "acknowledgement" else ""
        rows.append([str(e["sequence"]), base.when(e["recorded_at"]), e["kind"], e["purpose_id"],
                     e["unit_id"], records, ",".join(e["fields"]), who])
    click.echo(base.table(["seq", "recorded_at", "kind", "purpose", "unit", "records", "fields",
                           "accessed by / note"], rows))
    click.echo("")
    summary = summarise_flows(entries)
    click.echo(base.table(
        ["purpose", "unit", "deliveries", "records", "acknowledged", "accesses"],
        [[p, u, str(c["deliveries"]), str(c["records"]), str(c["acknowledged"]),
          str(c["accesses"])] for (p, u), c in sorted(summary.items())]))


@click.command()
@click.option("--submission", "submission_id", default="", metavar="ID",
              help="Only the flows of this submission.")
@click.option("--verify", is_flag=True, help="Check the ledger's hash chain.")
@click.option("--json", "as_json", is_flag=True, help="Print entries as JSON lines.")
@click.option("--head", "head_only", is_flag=True, help="Print the chain head to keep.")
@click.option("--kept-head", metavar="SEQ:HASH", help="With --verify: a head kept earlier.")
@base.rpc_errors
def flows(submission_id: str, verify: bool, as_json: bool, head_only: bool = False,
          kept_head: str | None = None) -> None:
    """Where your data went, who received it and who used it."""
    metadata = base.call_metadata()
    kept = parse_kept_head(kept_head)
    if head_only:
        _show_head(metadata)
        return
    # The signed head before the listing: entries appended meanwhile come after it.
    served = heads.fetch(_ledger(), metadata) if verify else None
    entries = [entry_dict(e) for e in _list_flows(submission_id, metadata)]
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry, ensure_ascii=False))
    else:
        _print_flows(entries)
    if not verify:
        return
    report = _ledger().VerifyLedger(ledger_pb2.VerifyLedgerRequest(
        kept_sequence=kept[0], kept_hash=kept[1]), metadata=metadata)
    broken = False
    if report.intact:
        click.echo(f"server: ledger intact: {report.entry_count} entries, "
                   f"head {report.head_hash}", err=as_json)
    else:
        broken = True
        click.echo(f"server: ledger broken at entry {report.first_broken_sequence}: "
                   f"{report.problem}", err=as_json)
    if not submission_id:
        problem = chain_problem(entries, kept)
        head = entries[-1]["entry_hash"] if entries else ledger.GENESIS
        if not problem and report.entry_count == len(entries) and report.head_hash != head:
            problem = f"the server's head {report.head_hash} is not the listed head"
        if not problem:
            click.echo(f"ledger intact: {len(entries)} entries, head {head}", err=as_json)
            if report.entry_count != len(entries):
                click.echo(f"note: the server verified {report.entry_count} entries "
                           f"(entries recorded since listing?)", err=as_json)
        else:
            broken = True
            click.echo(f"ledger broken: {problem}", err=as_json)
    listed = None if submission_id else [e["entry_hash"] for e in entries]
    broken = not _signed_head_holds(served, listed, metadata, as_json) or broken
    if broken:
        sys.exit(1)


def _signed_head_holds(served: heads.Served, entry_hashes: list[str] | None, metadata,
                       as_json: bool) -> bool:
    """Checks the signed head against the one remembered, and says what it found."""
    memory = heads.RememberedHeads(heads.state_dir() / "ledger-heads.json")
    head = served.head
    click.echo(f"ledger signing key: ed25519 {served.public_key.hex()} "
               f"(fingerprint {tree_heads.fingerprint(served.public_key)})", err=as_json)
    result = heads.check(_ledger(), metadata, memory, base.settings().router, served,
                         entry_hashes)
    for note in result.notes:
        click.echo(f"note: {note}", err=as_json)
    if result.problem:
        click.echo(f"signed head broken: {result.problem}", err=as_json)
        return False
    click.echo(f"signed head holds: {head.tree_size} entries, root {head.root_hash}, signed "
               f"{head.timestamp}; remembered in {memory.path}", err=as_json)
    return True
