"""The `tiaki` command line: submit a quarter's CSV, read the flow ledger, manage plans,
and the other groups, each in its own module; this one builds the root group.

    tiaki submit records.csv --programme best-foot-forward --period 2026Q3
    tiaki flows --submission <id>
    tiaki flows --verify
    tiaki flows --head
    tiaki plan load plan.yaml
    tiaki plan show best-foot-forward
"""

from __future__ import annotations

import click

from tiaki.cli.access_requests import requests
from tiaki.cli.agreement import agreement
from tiaki.cli.base import Settings
from tiaki.cli.codesign import codesign
from tiaki.cli.dead_letters import dead_letters
from tiaki.cli.directory import directory
from tiaki.cli.flows import flows
from tiaki.cli.insights import measures, outcomes
from tiaki.cli.keys import keys
from tiaki.cli.plan import plan
from tiaki.cli.staff import staff
from tiaki.cli.stories import stories
from tiaki.cli.submissions import submissions
from tiaki.cli.submit import submit
from tiaki.cli.unit_review import unit
from tiaki.plumbing.broker_users import broker_users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--intake", metavar="HOST:PORT", envvar="TIAKI_INTAKE",
              default="127.0.0.1:50051", show_default=True, help="The intake service.")
@click.option("--router", metavar="HOST:PORT", envvar="TIAKI_ROUTER",
              default="127.0.0.1:50052", show_default=True, help="The purpose_router service.")
@click.option("--requests", "requests_address", metavar="HOST:PORT", envvar="TIAKI_REQUESTS",
              default="127.0.0.1:50053", show_default=True, help="The requests service.")
@click.option("--token", envvar="TIAKI_TOKEN", help="Your API token (or TIAKI_TOKEN).")
@click.option("--token-file", type=click.Path(dir_okay=False), envvar="TIAKI_TOKEN_FILE",
              help="A file holding your API token (or TIAKI_TOKEN_FILE).")
@click.pass_context
def cli(ctx: click.Context, intake: str, router: str, requests_address: str,
        token: str | None, token_file: str | None) -> None:
    """tiaki: a purpose-bound data exchange between providers and the Agency."""
    settings = Settings(intake=intake, router=router, token=token, token_file=token_file,
                        requests=requests_address)
    ctx.obj = settings
    ctx.call_on_close(settings.close)


for command in (submit, flows, plan, requests, stories, codesign, agreement, outcomes, measures,
                keys, broker_users, dead_letters, directory, submissions, staff, unit):
    cli.add_command(command)


def main() -> None:
    """The `tiaki` console script."""
    cli(prog_name="tiaki")


if __name__ == "__main__":
    main()
