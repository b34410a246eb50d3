"""`tiaki stories redact` works offline: the redacted text on stdout, flags on stderr."""

from click.testing import CliRunner

from tiaki.cli import cli


def test_redact_prints_the_redacted_story(tmp_path):
    story = tmp_path / "story.txt"
    story.write_text("Aroha Ngata (NHI ZAC5361) rang from 021 234 5678.\n"
                     "Her son Losana goes to Kaikohe Primary School.\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["stories", "redact", str(story), "--flags"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ("[NAME] (NHI [NHI]) rang from [PHONE].\n"
                             "Her son [NAME] goes to Kaikohe Primary School.\n")
    assert "check: school 'Kaikohe Primary School'" in result.stderr


def test_redact_refuses_a_file_that_is_not_text(tmp_path):
    story = tmp_path / "story.bin"
    story.write_bytes(b"\xff\xfe\x00bad")
    result = CliRunner().invoke(cli, ["stories", "redact", str(story)])
    assert result.exit_code == 2 and "not UTF-8 text" in result.output
