"""`tiaki plan load FILE.yaml`, `tiaki plan show PROGRAMME` and `tiaki plan
template PROGRAMME -o FILE.csv`: a programme's data plan, checked locally
before it is created, read as text, and as the CSV a provider fills in."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from tiaki.cli import base
from tiaki.cli.submit import IDENTITY_COLUMNS, REQUIRED_COLUMNS
from tiaki.core.plan import Plan, value_format
from tiaki.plumbing.plan_proto import from_proto, to_proto
from tiaki.router.v1 import plan_pb2, plan_pb2_grpc


def _plans() -> plan_pb2_grpc.PlanServiceStub:
    return base.stub(plan_pb2_grpc.PlanServiceStub, "router")


@click.group()
def plan() -> None:
    """Create and read programme data plans."""


@plan.command("load")
@click.argument("plan_file", metavar="FILE.yaml",
                type=click.Path(exists=True, dir_okay=False, readable=True))
@base.rpc_errors
def plan_load(plan_file: str) -> None:
    """Check a plan locally, then create it as the programme's next version (Agency token)."""
    checked = base.checked_plan(plan_file, base.read_yaml(
        plan_file, "a mapping (programme_id, units, ...)"))
    created = _plans().CreatePlan(plan_pb2.CreatePlanRequest(plan=to_proto(checked.to_dict())),
                                  metadata=base.call_metadata()).plan
    click.echo(f"programme {created.programme_id} plan version {created.version} created")


def _describe_plan(p: plan_pb2.Plan) -> str:
    """A plan as readable text: its purposes, and each purpose's fields."""
    units = {u.unit_id: u.name for u in p.units}
    lines = [f"programme {p.programme_id} ({p.name}), plan version {p.version}"]
    for purpose in p.purposes:
        form = plan_pb2.Form.Name(purpose.form).removeprefix("FORM_").lower()
        unit = f"{purpose.unit_id} ({units[purpose.unit_id]})" \
            if units.get(purpose.unit_id) else purpose.unit_id
        lines.append("")
        lines.append(f"purpose {purpose.purpose_id}: {purpose.name}")
        if purpose.description:
            lines.append(f"  {purpose.description}")
        lines.append(f"  to unit {unit}, {form.replace('_', '-')}")
        if form == "aggregate":
            lines.append(f"  grouped by {', '.join(purpose.dimensions) or '(nothing)'}; "
                         f"sums {', '.join(purpose.measures) or '(none)'}; "
                         f"cells under {purpose.suppress_below} suppressed")
        if purpose.include_slk581:
            lines.append("  with the SLK-581 linkage key")
        lines.append("  fields:")
        for item in p.items:
            use = next((u for u in item.uses if u.purpose_id == purpose.purpose_id), None)
            if use is None:
                continue
            kind = plan_pb2.FieldType.Name(item.type).removeprefix("FIELD_TYPE_").lower()
            flags = f"{kind}, required" if item.required else kind
            lines.append(f"    {item.name} ({flags})"
                         + (f": {use.explanation}" if use.explanation else ""))
    lines.append("")
    lines.append("CSV columns (tiaki submit sends only the items your agreement accepts):")
    lines.extend(f"  {name} ({'required' if required else 'optional'}): {allowed}"
                 for name, required, allowed in csv_columns(Plan.from_dict(from_proto(p))))
    return "\n".join(lines)


REFERENCES = {
    "record_ref": "your reference for the record, unique in a submission",
    "client_ref": "your reference for the client, the same on each of their records "
                  "(intake turns it into a pseudonym per purpose; no unit receives it)"}


def csv_columns(plan: Plan) -> list[tuple[str, bool, str]]:
    """The columns of a CSV for this plan, in order: (name, required, allowed values)."""
    columns = [(name, True, REFERENCES[name]) for name in REQUIRED_COLUMNS]
    columns.extend((i.name, i.required, value_format(i)) for i in plan.items)
    if plan.needs_slk581():
        columns.extend((name, False, "for the SLK-581 linkage key; sent only when a purpose "
                        "in force asks for it") for name in IDENTITY_COLUMNS)
    return columns


@plan.command("show")
@click.argument("programme")
@click.option("--version", type=click.IntRange(min=0), default=0, show_default=True,
              help="The plan version; 0 is the latest.")
@base.rpc_errors
def plan_show(programme: str, version: int) -> None:
    """Show a programme's plan: its purposes and what each one receives."""
    found = _plans().GetPlan(plan_pb2.GetPlanRequest(programme_id=programme, version=version),
                             metadata=base.call_metadata()).plan
    click.echo(_describe_plan(found))


@plan.command("template")
@click.argument("programme")
@click.option("-o", "--output", "output", metavar="FILE.csv", required=True,
              type=click.Path(dir_okay=False, writable=True),
              help="Where to write the CSV header; the allowed values go beside it.")
@click.option("--version", type=click.IntRange(min=0), default=0, show_default=True,
              help="The plan version; 0 is the latest.")
@base.rpc_errors
def plan_template(programme: str, output: str, version: int) -> None:
    """Write a CSV header for a programme's plan, and a sheet of allowed values."""
    found = _plans().GetPlan(plan_pb2.GetPlanRequest(programme_id=programme, version=version),
                             metadata=base.call_metadata()).plan
    columns = csv_columns(Plan.from_dict(from_proto(found)))
    with open(output, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow([name for name, _, _ in columns])
    sheet = Path(output).with_name(f"{Path(output).stem}.allowed-values.csv")
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["column", "required", "allowed values"])
        writer.writerows([name, "yes" if required else "no", allowed]
                         for name, required, allowed in columns)
    click.echo(f"wrote {output} ({len(columns)} columns) and the allowed values in {sheet} "
               f"(plan version {found.version})")
