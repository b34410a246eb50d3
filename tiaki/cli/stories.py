"""`tiaki stories ...`: tender stories from the command line.

    tiaki stories redact story.txt          # offline: the redacted text on stdout
    tiaki stories submit story.txt --by "Sarah (social worker)"
    tiaki stories list
    tiaki stories show STORY_ID
    tiaki stories approve STORY_ID --by "Team lead" --redact 1 --redact 3 \
        --keep 2 "Auckland is a big city" [--text edited.txt]
    tiaki stories consent STORY_ID --use tender --by Sarah --how "signed form" [--note ...]
    tiaki stories withdraw STORY_ID --use tender --by Sarah --how "phone call" [--note ...]
    tiaki stories export --use tender --reference "Tender 2026-14" --by Manager -o pack.txt
"""

from __future__ import annotations

import sys

import click

from tiaki.cli import base
from tiaki.core.stories import HOW, USES
from tiaki.intake.v1 import stories_pb2 as pb
from tiaki.intake.v1.stories_pb2_grpc import StoriesServiceStub

# The uses are the domain's (as in the service), with their values in the contract.
USE_VALUES = {use: pb.StoryUse.Value(f"STORY_USE_{use.upper()}") for use in USES}
USE_NAMES = {value: use for use, value in USE_VALUES.items()}

use_option = click.option("--use", type=click.Choice(list(USE_VALUES)), required=True,
                          help="What the family consents to the story being used for.")
how_option = click.option("--how", type=click.Choice(HOW), required=True,
                          help="How the family said it.")
note_option = click.option("--note", default="",
                           help="Optional, one line, without names or contact details.")


def _stories_stub() -> StoriesServiceStub:
    """The stories stub, on the channel the other intake calls share."""
    return base.stub(StoriesServiceStub, "intake")


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path} is not UTF-8 text: {exc.reason}") from None


def _describe(s: pb.Story) -> str:
    state = pb.StoryState.Name(s.state).removeprefix("STORY_STATE_").lower().replace("_", " ")
    lines = [f"{s.title or 'Untitled story'}  ({state})",
             f"  story id {s.story_id} (for approve, consent, withdraw, export)",
             f"  submitted by {s.submitted_by}"]
    if s.approved_by:
        lines.append(f"  approved by {s.approved_by} at {s.approved_at.ToJsonString()}")
    if s.replaced:
        lines.append("  replaced: " + ", ".join(f"{k} {v}" for k, v in sorted(s.replaced.items())))
    for c in s.consents:
        line = (f"  consent for {USE_NAMES[c.use]}: recorded by {c.recorded_by} ({c.how_given}"
                f"{'; ' + c.note_given if c.note_given else ''}) at {c.recorded_at.ToJsonString()}")
        if c.withdrawn_at.seconds:
            line += (f"; WITHDRAWN at {c.withdrawn_at.ToJsonString()} by {c.withdrawn_recorded_by} "
                     f"({c.how_withdrawn}{'; ' + c.note_withdrawn if c.note_withdrawn else ''})")
        lines.append(line)
    if s.export_ids:
        lines.append(f"  exported in: {', '.join(s.export_ids)}")
    if s.agency_notice_pending:
        lines.append("  the Agency is yet to be told of a withdrawal (waiting for the broker)")
    elif s.agency_notified_at.seconds:
        lines.append(f"  the Agency was told of the withdrawal at {s.agency_notified_at.ToJsonString()}")
    for f in s.flags:
        lines.append(f"  {_flag_line(f)}")
    return "\n".join(lines)


def _flag_line(f: pb.StoryFlag) -> str:
    if f.action == pb.FLAG_ACTION_REDACT:
        return f"flag {f.number} {f.kind}: redacted as {f.text}"
    if f.action == pb.FLAG_ACTION_KEEP:
        return f"flag {f.number} {f.kind} {f.text!r}: kept because {f.kept_because}"
    return f"check: flag {f.number} {f.kind} {f.text!r}: {f.reason}"


@click.group()
def stories() -> None:
    """Client stories for tenders: de-identified, reviewed, used only with consent."""


@stories.command("redact")
@click.argument("story_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--flags", is_flag=True, help="Also list, on stderr, what a reviewer should check.")
def stories_redact(story_file: str, flags: bool) -> None:
    """Print the redacted text of a plain-text story (offline: nothing is sent)."""
    from tiaki.core.deidentify import redact

    result = redact(_read_text(story_file))
    sys.stdout.write(result.text if result.text.endswith("\n") else result.text + "\n")
    if flags:
        for number, f in enumerate(result.flags, 1):
            click.echo(f"check: flag {number} {f.kind} {f.text!r}: {f.reason}", err=True)


@stories.command("submit")
@click.argument("story_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", "submitted_by", required=True, help="Who is submitting it.")
@click.option("--title", default="", help="A short label for staff.")
@base.rpc_errors
def stories_submit(story_file: str, submitted_by: str, title: str) -> None:
    """Submit a story: it is de-identified on arrival and waits for review."""
    reply = _stories_stub().SubmitStory(pb.SubmitStoryRequest(
        text=_read_text(story_file), title=title, submitted_by=submitted_by),
        metadata=base.call_metadata())
    click.echo(_describe(reply.story))
    click.echo("\n" + reply.story.redacted_text)


@stories.command("list")
@base.rpc_errors
def stories_list() -> None:
    """Your stories."""
    for story in _stories_stub().ListStories(pb.ListStoriesRequest(),
                                                   metadata=base.call_metadata()).stories:
        click.echo(_describe(story))


@stories.command("show")
@click.argument("story_id")
@base.rpc_errors
def stories_show(story_id: str) -> None:
    """One story, its redacted text, consents and exports."""
    story = _stories_stub().GetStory(pb.GetStoryRequest(story_id=story_id),
                                           metadata=base.call_metadata()).story
    click.echo(_describe(story) + "\n\n" + story.redacted_text)


@stories.command("approve")
@click.argument("story_id")
@click.option("--by", "approved_by", required=True, help="Who reviewed and approves it.")
@click.option("--text", "text_file", type=click.Path(exists=True, dir_okay=False),
              help="Your edit of the redacted text, if you removed more (its flags are "
                   "numbered afresh: see `tiaki stories redact --flags` on it).")
@click.option("--redact", "redact", type=int, multiple=True, metavar="N",
              help="Take flag N out of the text (repeatable).")
@click.option("--keep", "keep", type=(int, str), multiple=True, metavar="N REASON",
              help="Keep flag N, and why that is safe (repeatable).")
@base.rpc_errors
def stories_approve(story_id: str, approved_by: str, text_file: str | None,
                    redact: tuple[int, ...], keep: tuple[tuple[int, str], ...]) -> None:
    """Approve the redacted text for use, once every flag `show` lists is decided:
    redacted (--redact N) or kept with a reason (--keep N REASON)."""
    decisions = [pb.FlagDecision(flag=n, action=pb.FLAG_ACTION_REDACT) for n in redact]
    decisions += [pb.FlagDecision(flag=n, action=pb.FLAG_ACTION_KEEP, reason=reason)
                  for n, reason in keep]
    reply = _stories_stub().ApproveStory(pb.ApproveStoryRequest(
        story_id=story_id, approved_by=approved_by,
        approved_text=_read_text(text_file) if text_file else "", decisions=decisions),
        metadata=base.call_metadata())
    click.echo(_describe(reply.story) + "\n\n" + reply.story.redacted_text)


@stories.command("consent")
@click.argument("story_id")
@use_option
@click.option("--by", "recorded_by", required=True, help="Who is recording the consent.")
@how_option
@note_option
@base.rpc_errors
def stories_consent(story_id: str, use: str, recorded_by: str, how: str, note: str) -> None:
    """Record the family's consent to one use of the story."""
    reply = _stories_stub().RecordConsent(pb.RecordConsentRequest(
        story_id=story_id, use=USE_VALUES[use], recorded_by=recorded_by, how_given=how,
        note=note), metadata=base.call_metadata())
    click.echo(_describe(reply.story))


@stories.command("withdraw")
@click.argument("story_id")
@use_option
@click.option("--by", "recorded_by", required=True, help="Who is recording the withdrawal.")
@how_option
@note_option
@base.rpc_errors
def stories_withdraw(story_id: str, use: str, recorded_by: str, how: str, note: str) -> None:
    """Withdraw the family's consent to one use; the Agency is told if it has the story."""
    reply = _stories_stub().WithdrawConsent(pb.WithdrawConsentRequest(
        story_id=story_id, use=USE_VALUES[use], recorded_by=recorded_by, how_withdrawn=how,
        note=note), metadata=base.call_metadata())
    click.echo(_describe(reply.story))
    if reply.agency_told:
        click.echo("the Agency had received this story: it has been told of the withdrawal")
    elif reply.agency_notice_owed:
        click.echo("the Agency had received this story: it will be told of the withdrawal "
                   "once the broker takes the notice")


@stories.command("export")
@use_option
@click.option("--reference", default="", help="E.g. the tender's reference.")
@click.option("--by", "exported_by", required=True, help="Who is exporting.")
@click.option("--story", "story_ids", multiple=True, help="Only these stories (repeatable).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Where to write the pack (plain text).")
@base.rpc_errors
def stories_export(use: str, reference: str, exported_by: str, story_ids: tuple[str, ...],
                   output: str) -> None:
    """Export the stories approved and consented for a use (a tender pack for tender)."""
    reply = _stories_stub().ExportStories(pb.ExportStoriesRequest(
        use=USE_VALUES[use], reference=reference, exported_by=exported_by, story_ids=list(story_ids)),
        metadata=base.call_metadata())
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(f"{use} pack {reply.reference} (export {reply.export_id}, "
                 f"{reply.exported_at.ToJsonString()})\n")
        for story in reply.stories:
            fh.write(f"\n--- {story.title or story.story_id}\n\n{story.text.strip()}\n")
    click.echo(f"wrote {output}: {len(reply.stories)} stories, export {reply.export_id}")
