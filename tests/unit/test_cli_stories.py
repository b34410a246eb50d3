"""`tiaki stories redact` works offline: the redacted text on stdout, flags on stderr."""

from click.testing import CliRunner

from tiaki.cli.app import cli


def test_redact_prints_the_redacted_story(tmp_path):
    story = tmp_path / "story.txt"
    story.write_text("Aroha Ngata (NHI ZAC5361) rang from 021 234 5678.\n"
                     "Her son Losana goes to Kaikohe Primary School.\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["stories", "redact", str(story), "--flags"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ("[NAME_1] (NHI [NHI_1]) rang from [PHONE_1].\n"
                             "Her son [NAME_2] goes to Kaikohe Primary School.\n")
    assert "check: flag 1 school 'Kaikohe Primary School'" in result.stderr


def test_redact_refuses_a_file_that_is_not_text(tmp_path):
    story = tmp_path / "story.bin"
    story.write_bytes(b"\xff\xfe\x00bad")
    result = CliRunner().invoke(cli, ["stories", "redact", str(story)])
    assert result.exit_code == 2 and "not UTF-8 text" in result.output


def test_the_stories_commands_leave_the_shared_cli_alone_and_take_the_domain_uses():
    from services.intake.stories_domain import HOW, USES
    from tiaki.cli import stories as cli_stories

    consent = cli_stories.stories.commands["consent"]
    choices = {p.name: list(p.type.choices) for p in consent.params if hasattr(p.type, "choices")}
    assert choices == {"use": list(USES), "how": list(HOW)}


def test_consent_refuses_a_free_text_how_before_sending(tmp_path):
    result = CliRunner().invoke(cli, ["--token", "t", "stories", "consent", "S1", "--use", "tender",
                                      "--by", "Sarah", "--how", "Aroha signed at home"])
    assert result.exit_code == 2 and "'Aroha signed at home' is not one of" in result.output


def test_approve_sends_a_decision_for_each_flag_and_shows_them(monkeypatch):
    from tiaki.cli import stories as cli_stories
    from tiaki.intake.v1 import stories_pb2 as pb

    sent = []

    class Stub:
        def ApproveStory(self, request, metadata):  # noqa: N802 (the contract's name)
            sent.append(request)
            return pb.ApproveStoryResponse(story=pb.Story(
                story_id="S1", state=pb.STORY_STATE_APPROVED, approved_by="Lead",
                redacted_text="[NAME_1] lives in Auckland; at [AGE_1] she left.",
                flags=[pb.StoryFlag(kind="place", text="Auckland", number=1,
                                    action=pb.FLAG_ACTION_KEEP, kept_because="a big city"),
                       pb.StoryFlag(kind="age", text="[AGE_1]", number=2,
                                    action=pb.FLAG_ACTION_REDACT)]))

    monkeypatch.setattr(cli_stories, "_stories_stub", Stub)
    result = CliRunner().invoke(cli, ["--token", "t", "stories", "approve", "S1", "--by", "Lead",
                                      "--redact", "2", "--keep", "1", "a big city"])
    assert result.exit_code == 0, result.output
    (request,) = sent
    assert [(d.flag, d.action, d.reason) for d in request.decisions] == [
        (2, pb.FLAG_ACTION_REDACT, ""), (1, pb.FLAG_ACTION_KEEP, "a big city")]
    assert "flag 1 place 'Auckland': kept because a big city" in result.output
    assert "flag 2 age: redacted as [AGE_1]" in result.output
    assert "[NAME_1] lives in Auckland; at [AGE_1] she left." in result.output


def test_a_story_reads_by_its_title_with_its_id_as_the_handle():
    from tiaki.cli.stories import _describe
    from tiaki.intake.v1 import stories_pb2 as pb

    lines = _describe(pb.Story(story_id="5b1f0c1e-7d1c-4b7e-9a57-0c2b8f0e9d11", title="Back at work",
                               state=pb.STORY_STATE_APPROVED, submitted_by="Sarah")).splitlines()
    assert lines[0] == "Back at work  (approved)"
    assert lines[1] == ("  story id 5b1f0c1e-7d1c-4b7e-9a57-0c2b8f0e9d11 (for approve, consent, "
                        "withdraw, export)")
    assert _describe(pb.Story(story_id="s1")).splitlines()[0].startswith("Untitled story")
