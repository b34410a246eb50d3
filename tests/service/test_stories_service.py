"""Tender stories in intake, started on the real broker and store and called
over gRPC: only de-identified, approved and consented stories leave in an
export; a withdrawal after an export reaches the broker; bad input changes
nothing; a provider sees only its own stories. Then, as a bare worker on the
real store, a withdrawal while the broker is down is told later."""

from __future__ import annotations

import mongoengine
import pytest
from grpc import StatusCode
from kombu import Connection, Queue
from nameko import config
from nameko.standalone.events import get_event_exchange
from nameko.testing.services import worker_factory
from nameko_grpc.client import Client
from nameko_grpc.errors import GrpcError

from services.intake.service import IntakeService
from services.intake.stories_storage import StoryStorage
from tiaki.core import messages
from tiaki.core.errors import Refused
from tiaki.intake.v1 import stories_pb2 as pb
from tiaki.intake.v1.stories_pb2_grpc import StoriesServiceStub
from tiaki.plumbing.grpc_errors import to_grpc
from tiaki.plumbing.identity import Caller
from tiaki.plumbing.store import connect

STORY = ("Aroha Ngata (NHI ZAC5361) lives at 2/14 Kauri Street, Ōtara with her son Losana. "
         "Call her on 021 234 5678 or aroha.ngata@gmail.com. Her IRD number is 49-091-850. "
         "The social worker from CCSS referred the whānau to Best foot forward, and Losana "
         "now goes to Kaikohe Primary School.")
SECRETS = ("Aroha", "Ngata", "ZAC5361", "Kauri", "Losana", "021 234 5678", "aroha.ngata",
           "49-091-850")
TENDER, REPORTING = pb.STORY_USE_TENDER, pb.STORY_USE_REPORTING


@pytest.fixture
def withdrawals(service_config):
    """A queue on intake's story_withdrawn events in the test's vhost."""
    queue = Queue("test-story-withdrawn", exchange=get_event_exchange(messages.INTAKE),
                  routing_key=messages.STORY_WITHDRAWN)
    with Connection(config["AMQP_URI"]) as conn:
        queue(conn.default_channel).declare()
    return queue


def take_all(queue: Queue) -> list[dict]:
    bodies = []
    with Connection(config["AMQP_URI"]) as conn:
        bound = queue(conn.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            bodies.append(message.payload)
    return bodies


@pytest.fixture
def client(start_container, identities):
    start_container(IntakeService)
    _, tokens = identities
    with Client(f"//127.0.0.1:{config['GRPC_BIND_PORT']}", StoriesServiceStub) as c:
        c.ccss = [("authorization", f"Bearer {tokens[('provider', 'ccss')]}")]
        c.other = [("authorization", f"Bearer {tokens[('provider', 'other-ngo')]}")]
        yield c


def submit(client, text=STORY, who="Sarah (social worker)"):
    return client.SubmitStory(pb.SubmitStoryRequest(text=text, submitted_by=who),
                              metadata=client.ccss).story


def keep_all(story, redact=()) -> list[pb.FlagDecision]:
    """A decision on every flag of `story`: those numbered in `redact` taken
    out, the others kept with a reason."""
    return [pb.FlagDecision(flag=f.number, action=pb.FLAG_ACTION_REDACT)
            if f.number in redact else
            pb.FlagDecision(flag=f.number, action=pb.FLAG_ACTION_KEEP,
                            reason="a big town; checked with the whānau")
            for f in story.flags if f.kind != "check_digit"]


def approve(client, story_id):
    story = client.GetStory(pb.GetStoryRequest(story_id=story_id), metadata=client.ccss).story
    return client.ApproveStory(pb.ApproveStoryRequest(
        story_id=story_id, approved_by="Team lead", decisions=keep_all(story)),
        metadata=client.ccss).story


def consent(client, story_id, use=TENDER):
    return client.RecordConsent(pb.RecordConsentRequest(
        story_id=story_id, use=use, recorded_by="Sarah", how_given="signed form"),
        metadata=client.ccss).story


def export(client, metadata=None, story_ids=(), use=TENDER):
    return client.ExportStories(pb.ExportStoriesRequest(
        use=use, reference="Tender 2026-14", exported_by="Manager", story_ids=list(story_ids)),
        metadata=metadata or client.ccss)


def refused(call) -> GrpcError:
    with pytest.raises(GrpcError) as caught:
        call()
    return caught.value


class TestStoryLifecycle:
    def test_only_approved_consented_stories_leave_and_a_withdrawal_reaches_the_broker(
            self, client, withdrawals, store_db):
        ready = submit(client)
        unapproved = submit(client, "Mere Tipene finished all 8 sessions of Triple P.")
        unconsented = submit(client, "Sione Taufa now volunteers at the Foodbank.")
        reporting_only = submit(client, "Wiremu Parata found work at Fonterra.")

        assert ready.state == pb.STORY_STATE_AWAITING_REVIEW
        assert not any(s in ready.redacted_text for s in SECRETS)
        assert dict(ready.replaced) == {"NAME": 3, "NHI": 1, "ADDRESS": 1, "PHONE": 1,
                                        "EMAIL": 1, "IRD": 1}
        assert "whānau" in ready.redacted_text and "Best foot forward" in ready.redacted_text
        # "Kaikohe" is inside the school's name: one flag, one decision.
        assert ("school", "Kaikohe Primary School") in {(f.kind, f.text) for f in ready.flags}
        stored = str(list(store_db.stories.find()))
        assert not any(s in stored for s in SECRETS)  # the original is never stored

        # Nothing is usable yet: unapproved and unconsented.
        assert refused(lambda: export(client)).code == StatusCode.FAILED_PRECONDITION
        approve(client, ready.story_id)
        approve(client, unconsented.story_id)
        approve(client, reporting_only.story_id)
        consent(client, ready.story_id)
        consent(client, unapproved.story_id)
        consent(client, reporting_only.story_id, use=REPORTING)

        pack = export(client)
        assert [s.story_id for s in pack.stories] == [ready.story_id]
        assert pack.stories[0].text == approve_text(client, ready.story_id)
        named = refused(lambda: export(client, story_ids=[ready.story_id, unapproved.story_id]))
        assert named.code == StatusCode.FAILED_PRECONDITION
        assert "not been approved" in named.message
        assert store_db.story_exports.count_documents({}) == 1  # the refused one left no trace

        # Another provider sees none of it.
        hidden = refused(lambda: client.GetStory(pb.GetStoryRequest(story_id=ready.story_id),
                                                 metadata=client.other))
        assert hidden.code == StatusCode.NOT_FOUND
        assert list(client.ListStories(pb.ListStoriesRequest(), metadata=client.other).stories) == []
        assert refused(lambda: export(client, client.other)).code == StatusCode.FAILED_PRECONDITION

        # The family withdraws: the Agency is told, and it leaves no later export.
        reply = client.WithdrawConsent(pb.WithdrawConsentRequest(
            story_id=ready.story_id, use=TENDER, recorded_by="Sarah",
            how_withdrawn="phone call"), metadata=client.ccss)
        assert reply.agency_told and reply.agency_notice_owed
        assert reply.story.agency_notified_at.seconds > 0 and not reply.story.agency_notice_pending
        (event,) = take_all(withdrawals)
        assert event["story_id"] == ready.story_id and event["use"] == "tender"
        assert event["export_ids"] == [pack.export_id]
        assert event["references"] == ["Tender 2026-14"]
        assert refused(lambda: export(client)).code == StatusCode.FAILED_PRECONDITION
        gone = refused(lambda: export(client, story_ids=[ready.story_id]))
        assert "withdrew consent" in gone.message

        # Reporting is a separate use: its export holds only the story consented for it.
        assert [s.story_id for s in export(client, use=REPORTING).stories] == [
            reporting_only.story_id]
        # A withdrawal of something never exported tells no one.
        quiet = client.WithdrawConsent(pb.WithdrawConsentRequest(
            story_id=unapproved.story_id, use=TENDER, recorded_by="Sarah",
            how_withdrawn="in person"), metadata=client.ccss)
        assert not quiet.agency_told and not quiet.agency_notice_owed and take_all(withdrawals) == []

    def test_bad_input_gets_a_precise_error_and_changes_nothing(self, client, store_db):
        story = submit(client)
        before = list(store_db.stories.find())

        def code_and_message(call):
            error = refused(call)
            return error.code, error.message

        empty = code_and_message(lambda: submit(client, "   \n"))
        assert empty == (StatusCode.INVALID_ARGUMENT, "text: the story is empty")
        with config.patch({"MAX_STORY_CHARS": 100}):
            code, message = code_and_message(lambda: submit(client, "kōrero " * 30))
        assert code == StatusCode.INVALID_ARGUMENT and "210 characters; at most 100" in message
        code, message = code_and_message(lambda: client.RecordConsent(pb.RecordConsentRequest(
            story_id="no-such-story", use=TENDER, recorded_by="Sarah", how_given="signed form"),
            metadata=client.ccss))
        assert (code, message) == (StatusCode.NOT_FOUND, "no story 'no-such-story'")
        for use in (pb.STORY_USE_UNSPECIFIED, 42):
            code, message = code_and_message(lambda u=use: client.RecordConsent(
                pb.RecordConsentRequest(story_id=story.story_id, use=u, recorded_by="Sarah",
                                        how_given="signed form"), metadata=client.ccss))
            assert code == StatusCode.INVALID_ARGUMENT and message.startswith("use: must be one of")
        code, message = code_and_message(lambda: client.RecordConsent(pb.RecordConsentRequest(
            story_id=story.story_id, use=TENDER, recorded_by="", how_given="signed form"),
            metadata=client.ccss))
        assert code == StatusCode.INVALID_ARGUMENT and message.startswith("recorded_by:")
        code, message = code_and_message(lambda: client.WithdrawConsent(
            pb.WithdrawConsentRequest(story_id=story.story_id, use=TENDER, recorded_by="Sarah",
                                      how_withdrawn="phone call"), metadata=client.ccss))
        assert code == StatusCode.FAILED_PRECONDITION and "no consent for tender" in message
        code, message = code_and_message(lambda: client.ApproveStory(pb.ApproveStoryRequest(
            story_id=story.story_id, approved_by="Lead",
            approved_text="Ring [NAME] on 021 234 5678."), metadata=client.ccss))
        assert code == StatusCode.INVALID_ARGUMENT and "PHONE" in message
        code, _ = code_and_message(lambda: client.ApproveStory(pb.ApproveStoryRequest(
            story_id=story.story_id, approved_by="Lead"), metadata=client.other))
        assert code == StatusCode.NOT_FOUND

        assert list(store_db.stories.find()) == before
        assert store_db.story_exports.count_documents({}) == 0

    def test_a_reviewer_may_remove_more_and_approves_once(self, client):
        story = submit(client)
        edited = story.redacted_text.replace("Kaikohe Primary School", "a local school")
        approved = client.ApproveStory(pb.ApproveStoryRequest(
            story_id=story.story_id, approved_by="Team lead", approved_text=edited),
            metadata=client.ccss).story
        assert approved.state == pb.STORY_STATE_APPROVED and approved.approved_by == "Team lead"
        assert approved.redacted_text == edited and approved.approved_at.seconds > 0
        again = refused(lambda: approve(client, story.story_id))
        assert again.code == StatusCode.FAILED_PRECONDITION


def approve_text(client, story_id):
    return client.GetStory(pb.GetStoryRequest(story_id=story_id),
                           metadata=client.ccss).story.redacted_text


# -- the withdrawal notice survives a broker outage -------------------------------------------

@pytest.fixture
def stories_worker(store_uri):
    connect(store_uri)
    storage = StoryStorage()
    storage.ensure_indexes()
    service = worker_factory(IntakeService, stories=storage)
    service.identities.require.return_value = Caller("provider", "ccss")
    yield service
    mongoengine.disconnect()


def test_withdrawal_while_the_broker_is_down_is_told_later(stories_worker):
    service = stories_worker
    context = None
    story = service.SubmitStory(pb.SubmitStoryRequest(text=STORY, submitted_by="Sarah"),
                                context).story
    service.ApproveStory(pb.ApproveStoryRequest(story_id=story.story_id, approved_by="Lead",
                                                decisions=keep_all(story)), context)
    service.RecordConsent(pb.RecordConsentRequest(story_id=story.story_id, use=TENDER,
                                                  recorded_by="Sarah", how_given="signed form"), context)
    pack = service.ExportStories(pb.ExportStoriesRequest(use=TENDER, exported_by="Manager"),
                                 context)
    service.dispatch.side_effect = ConnectionRefusedError("broker down")

    reply = service.WithdrawConsent(pb.WithdrawConsentRequest(
        story_id=story.story_id, use=TENDER, recorded_by="Sarah", how_withdrawn="phone call"), context)

    assert reply.agency_notice_owed and not reply.agency_told
    assert reply.story.agency_notice_pending
    assert reply.story.agency_notified_at.seconds == 0
    service.dispatch.side_effect = None
    service.dispatch.reset_mock()
    service.tell_agency_of_withdrawals()
    ((event_type, payload),) = [c.args for c in service.dispatch.call_args_list]
    assert event_type == messages.STORY_WITHDRAWN
    assert payload["story_id"] == story.story_id and payload["export_ids"] == [pack.export_id]
    after = service.GetStory(pb.GetStoryRequest(story_id=story.story_id), context).story
    assert not after.agency_notice_pending and after.agency_notified_at.seconds > 0
    service.dispatch.reset_mock()
    service.tell_agency_of_withdrawals()  # told once
    service.dispatch.assert_not_called()


# -- review fixes: notices per use, races, free text, re-consent, replies -----------------------

def ready_and_exported(service, uses=(TENDER,), text=STORY):
    """A story approved, consented for `uses` and exported once for each."""
    story = service.SubmitStory(pb.SubmitStoryRequest(text=text, submitted_by="Sarah"), None).story
    service.ApproveStory(pb.ApproveStoryRequest(story_id=story.story_id, approved_by="Lead",
                                                decisions=keep_all(story)), None)
    packs = {}
    for use in uses:
        service.RecordConsent(pb.RecordConsentRequest(story_id=story.story_id, use=use,
                                                      recorded_by="Sarah", how_given="signed form"),
                              None)
        packs[use] = service.ExportStories(pb.ExportStoriesRequest(
            use=use, exported_by="Manager", story_ids=[story.story_id]), None)
    return story, packs


def withdraw(service, story_id, use=TENDER, how="phone call", note=""):
    return service.WithdrawConsent(pb.WithdrawConsentRequest(
        story_id=story_id, use=use, recorded_by="Sarah", how_withdrawn=how, note=note), None)


def grpc_error(call) -> GrpcError:
    """What a caller over gRPC gets for a refusal of a bare worker: the one
    table of tiaki/plumbing/grpc_errors.py maps it, as in a running service."""
    with pytest.raises(Refused) as caught:
        call()
    return to_grpc(caught.value)


def test_two_withdrawals_while_the_broker_is_down_are_both_told_later(stories_worker):
    service = stories_worker
    story, packs = ready_and_exported(service, (TENDER, REPORTING))
    service.dispatch.side_effect = ConnectionRefusedError("broker down")
    first = withdraw(service, story.story_id, TENDER)
    second = withdraw(service, story.story_id, REPORTING)
    assert first.agency_notice_owed and not first.agency_told
    assert second.agency_notice_owed and not second.agency_told

    service.dispatch.side_effect = None
    service.dispatch.reset_mock()
    service.tell_agency_of_withdrawals()
    sent = sorted((c.args[1]["use"], c.args[1]["export_ids"])
                  for c in service.dispatch.call_args_list)
    assert sent == sorted([("tender", [packs[TENDER].export_id]),
                           ("reporting", [packs[REPORTING].export_id])])
    assert not service.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                None).story.agency_notice_pending
    service.dispatch.reset_mock()
    service.tell_agency_of_withdrawals()
    service.dispatch.assert_not_called()


def test_a_notice_written_after_the_one_sent_stays_owed(stories_worker):
    service, storage = stories_worker, stories_worker.stories
    story, _ = ready_and_exported(service)
    service.dispatch.side_effect = ConnectionRefusedError("broker down")
    withdraw(service, story.story_id)
    sent = dict(storage.get(story.story_id).notices["tender"])
    # The family consents again, the story leaves again, and is withdrawn again
    # while the first notice is still on its way.
    service.RecordConsent(pb.RecordConsentRequest(story_id=story.story_id, use=TENDER,
                                                  recorded_by="Sarah", how_given="verbal"), None)
    service.ExportStories(pb.ExportStoriesRequest(use=TENDER, exported_by="Manager",
                                                  story_ids=[story.story_id]), None)
    withdraw(service, story.story_id)
    storage.mark_notified(story.story_id, "tender", sent["withdrawn_at"])  # the first one's ack
    after = storage.get(story.story_id)
    assert after.notices_pending == ["tender"]
    assert after.notices["tender"]["withdrawn_at"] != sent["withdrawn_at"]
    assert len(after.notices["tender"]["export_ids"]) == 2


def test_an_export_racing_a_withdrawal_lets_nothing_out(stories_worker):
    service, storage = stories_worker, stories_worker.stories
    story, _ = ready_and_exported(service, ())
    service.RecordConsent(pb.RecordConsentRequest(story_id=story.story_id, use=TENDER,
                                                  recorded_by="Sarah", how_given="signed form"),
                          None)
    record_export = storage.record_export

    def withdrawn_meanwhile(*args, **kwargs):  # the family withdraws as the export is written
        export = record_export(*args, **kwargs)
        withdraw(service, story.story_id)
        return export

    storage.record_export = withdrawn_meanwhile
    error = grpc_error(lambda: service.ExportStories(pb.ExportStoriesRequest(
        use=TENDER, exported_by="Manager"), None))
    assert error.code == StatusCode.FAILED_PRECONDITION and "withdrew consent" in error.message
    assert storage.exports_of(story.story_id) == []


def test_a_withdrawal_racing_an_export_tells_the_agency(stories_worker):
    service, storage = stories_worker, stories_worker.stories
    story, _ = ready_and_exported(service, ())
    service.RecordConsent(pb.RecordConsentRequest(story_id=story.story_id, use=TENDER,
                                                  recorded_by="Sarah", how_given="signed form"),
                          None)
    storage_withdraw = storage.withdraw
    raced = []

    def exported_meanwhile(*args, **kwargs):  # an export slips in as the withdrawal is written
        raced.append(storage.record_export("ccss", "tender", "T-9", "Manager", [story.story_id]))
        return storage_withdraw(*args, **kwargs)

    storage.withdraw = exported_meanwhile
    reply = withdraw(service, story.story_id)
    assert reply.agency_notice_owed and reply.agency_told
    ((_, payload),) = [c.args for c in service.dispatch.call_args_list]
    assert payload["export_ids"] == [raced[0].export_id]


def test_how_notes_and_references_are_checked_and_nothing_is_stored(stories_worker):
    service, storage = stories_worker, stories_worker.stories
    story, _ = ready_and_exported(service, ())
    before = storage.get(story.story_id)

    def consent(how="signed form", note=""):
        return service.RecordConsent(pb.RecordConsentRequest(
            story_id=story.story_id, use=TENDER, recorded_by="Sarah", how_given=how, note=note),
            None)

    free = grpc_error(lambda: consent(how="Aroha Ngata signed at 14 Kauri Street"))
    assert free.code == StatusCode.INVALID_ARGUMENT
    assert free.message == ("how_given: must be one of signed form, verbal, email, text message, "
                            "phone call, letter, in person")
    named = grpc_error(lambda: consent(note="rang Aroha on 021 234 5678"))
    assert named.code == StatusCode.INVALID_ARGUMENT and named.message.startswith("note: ")
    assert "PHONE" in named.message
    assert storage.get(story.story_id) == before
    consent(note="the form is in the paper file")
    gone = grpc_error(lambda: withdraw(service, story.story_id, how="told Mere Tipene at the door"))
    assert gone.code == StatusCode.INVALID_ARGUMENT and gone.message.startswith("how_withdrawn:")
    reference = grpc_error(lambda: service.ExportStories(pb.ExportStoriesRequest(
        use=TENDER, exported_by="Manager", reference="T-1\nfor Aroha Ngata"), None))
    assert reference.code == StatusCode.INVALID_ARGUMENT
    assert reference.message.startswith("reference: one line")
    assert storage.exports_of(story.story_id) == []


def test_consenting_again_keeps_the_withdrawal(stories_worker):
    service = stories_worker
    story, _ = ready_and_exported(service)
    withdraw(service, story.story_id, how="letter")
    again = service.RecordConsent(pb.RecordConsentRequest(
        story_id=story.story_id, use=TENDER, recorded_by="Sarah", how_given="in person"),
        None).story
    first, second = again.consents
    assert (first.how_given, first.how_withdrawn) == ("signed form", "letter")
    assert first.withdrawn_at.seconds > 0
    assert (second.how_given, second.how_withdrawn, second.withdrawn_at.seconds) == (
        "in person", "", 0)
    pack = service.ExportStories(pb.ExportStoriesRequest(use=TENDER, exported_by="Manager"), None)
    assert [s.story_id for s in pack.stories] == [story.story_id]


def test_an_edited_approval_gets_the_flags_of_its_text(stories_worker):
    service = stories_worker
    story = service.SubmitStory(pb.SubmitStoryRequest(
        text="Aroha Ngata lives in Kaikohe and works at Countdown.", submitted_by="Sarah"),
        None).story
    edited = "[NAME_1] works at Countdown."
    # The edit's own flags are decided: "1" is now Countdown, not Kaikohe.
    unresolved = grpc_error(lambda: service.ApproveStory(pb.ApproveStoryRequest(
        story_id=story.story_id, approved_by="Lead", approved_text=edited), None))
    assert unresolved.code == StatusCode.INVALID_ARGUMENT
    assert "1 flag not decided" in unresolved.message and "1 workplace 'Countdown'" in unresolved.message
    approved = service.ApproveStory(pb.ApproveStoryRequest(
        story_id=story.story_id, approved_by="Lead", approved_text=edited,
        decisions=[pb.FlagDecision(flag=1, action=pb.FLAG_ACTION_REDACT)]), None).story
    assert approved.redacted_text == "[NAME_1] works at [WORKPLACE_1]."
    assert [(f.kind, f.start, f.end, f.text, f.action) for f in approved.flags] == [
        ("workplace", 18, 31, "[WORKPLACE_1]", pb.FLAG_ACTION_REDACT)]


def test_an_edited_approval_is_held_to_the_configured_length(stories_worker):
    service = stories_worker
    story = service.SubmitStory(pb.SubmitStoryRequest(text="Short story about kai.",
                                                      submitted_by="Sarah"), None).story
    with config.patch({"MAX_STORY_CHARS": 100}):
        error = grpc_error(lambda: service.ApproveStory(pb.ApproveStoryRequest(
            story_id=story.story_id, approved_by="Lead", approved_text="kai " * 40), None))
    assert error.code == StatusCode.INVALID_ARGUMENT and "at most 100" in error.message


# -- issue 11: no approval while a quasi-identifier flag is undecided --------------------------

ISSUE_STORY = ("Aroha Ngata (42) is raising a family of seven in Kaikohe. Her son Nikau, 15, is "
               "the rugby captain at Tangaroa College. Aroha works at Silver Fern Farms on the "
               "night shift, and at 15 Nikau started helping at Kōkiri Marae. Oranga Tamariki "
               "and Work and Income helped the whānau.")


def test_the_issue_story_cannot_be_approved_until_every_flag_is_decided(stories_worker):
    service = stories_worker
    story = service.SubmitStory(pb.SubmitStoryRequest(text=ISSUE_STORY, submitted_by="Sarah"),
                                None).story
    flags = {f.text: f.number for f in story.flags}
    assert {"42", "a family of seven", "Kaikohe", "15", "rugby captain", "Tangaroa College",
            "Silver Fern Farms", "night shift", "Kōkiri Marae"} <= set(flags)
    assert "Oranga Tamariki and Work and Income helped" in story.redacted_text

    def approve_with(decisions):
        return service.ApproveStory(pb.ApproveStoryRequest(
            story_id=story.story_id, approved_by="Lead", decisions=decisions), None)

    every = keep_all(story, redact={f.number for f in story.flags if f.text != "Kaikohe"})
    for decisions, says in [
            ([], f"{len(story.flags)} flags not decided"),
            (every[1:], "1 flag not decided; redact each or keep it with a reason: 1 age '42'"),
            (every + [pb.FlagDecision(flag=99, action=pb.FLAG_ACTION_REDACT)], "there is no flag 99"),
            (every + every[:1], "flag 1 is decided twice"),
            ([pb.FlagDecision(flag=flags["Kaikohe"], action=pb.FLAG_ACTION_KEEP)]
             + [d for d in every if d.flag != flags["Kaikohe"]], "is kept without a reason"),
            ([pb.FlagDecision(flag=flags["Kaikohe"], action=pb.FLAG_ACTION_KEEP,
                              reason="Aroha said it is fine, ring 021 234 5678")]
             + [d for d in every if d.flag != flags["Kaikohe"]], "direct identifier"),
            ([pb.FlagDecision(flag=1)] + every[1:], "flag 1: the action must be redact or keep")]:
        error = grpc_error(lambda decisions=decisions: approve_with(decisions))
        assert error.code == StatusCode.INVALID_ARGUMENT and says in error.message, error.message
        unchanged = service.GetStory(pb.GetStoryRequest(story_id=story.story_id), None).story
        assert unchanged == story  # nothing changed

    approved = approve_with(every).story
    assert approved.state == pb.STORY_STATE_APPROVED
    assert approved.redacted_text == (
        "[NAME_1] ([AGE_1]) is raising [FAMILY_SIZE_1] in Kaikohe. Her son [NAME_2], [AGE_2], is "
        "the [SPORT_1] at [SCHOOL_1]. [NAME_1] works at [WORKPLACE_1] on the [SHIFT_1], and at "
        "[AGE_2] [NAME_2] started helping at [MARAE_1]. Oranga Tamariki and Work and Income "
        "helped the whānau.")
    decided = {(f.text, f.action, f.kept_because) for f in approved.flags}
    assert ("Kaikohe", pb.FLAG_ACTION_KEEP, "a big town; checked with the whānau") in decided
    assert ("[MARAE_1]", pb.FLAG_ACTION_REDACT, "") in decided
    assert all(approved.redacted_text[f.start:f.end] == f.text for f in approved.flags)
