"""Tender stories end to end, on the real services, broker and store: a story
submitted over gRPC leaves in a tender pack only once approved and consented,
and a withdrawal after the export reaches the broker for the Agency."""

from __future__ import annotations

import grpc
import pytest
from kombu import Connection, Exchange, Queue

from tiaki.core import messages
from tiaki.intake.v1 import stories_pb2 as pb
from tiaki.intake.v1.stories_pb2_grpc import StoriesServiceStub

STORY = ("Mere Tipene (NHI ZVU27KZ) and her partner Sione came to CCSS in March. "
         "Ring Mere on 027 555 0199. Their tamariki love Best foot forward.")


@pytest.fixture
def withdrawals(stack):
    queue = Queue(f"e2e-story-withdrawn-{stack.name}", durable=False, auto_delete=False,
                  exchange=Exchange(f"{messages.INTAKE}.events", type="topic", durable=True),
                  routing_key=messages.STORY_WITHDRAWN)
    with Connection(stack.amqp_uri) as conn:
        queue(conn.default_channel).declare()
    yield queue
    with Connection(stack.amqp_uri) as conn:
        queue(conn.default_channel).delete()


def test_story_from_submission_to_withdrawal_notice(stack, withdrawals):
    stories = StoriesServiceStub(stack.channel("intake"))
    ccss, other = stack.metadata("provider", "ccss"), stack.metadata("provider", "other-ngo")
    story = stories.SubmitStory(pb.SubmitStoryRequest(text=STORY, submitted_by="Sarah"),
                                metadata=ccss, timeout=30).story
    assert story.redacted_text == ("[NAME_1] (NHI [NHI_1]) and her partner [NAME_2] came to CCSS "
                                   "in March. Ring [NAME_1] on [PHONE_1]. Their tamariki love "
                                   "Best foot forward.")

    def tender_pack():
        return stories.ExportStories(pb.ExportStoriesRequest(
            use=pb.STORY_USE_TENDER, reference="T-1", exported_by="Manager",
            story_ids=[story.story_id]), metadata=ccss, timeout=30)

    with pytest.raises(grpc.RpcError) as unapproved:
        tender_pack()
    assert unapproved.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    stories.ApproveStory(pb.ApproveStoryRequest(story_id=story.story_id, approved_by="Lead"),
                         metadata=ccss, timeout=30)
    with pytest.raises(grpc.RpcError) as unconsented:
        tender_pack()
    assert "not consented" in unconsented.value.details()
    stories.RecordConsent(pb.RecordConsentRequest(
        story_id=story.story_id, use=pb.STORY_USE_TENDER, recorded_by="Sarah",
        how_given="signed form"), metadata=ccss, timeout=30)
    pack = tender_pack()
    assert [s.text for s in pack.stories] == [story.redacted_text]

    with pytest.raises(grpc.RpcError) as hidden:
        stories.GetStory(pb.GetStoryRequest(story_id=story.story_id), metadata=other, timeout=30)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

    reply = stories.WithdrawConsent(pb.WithdrawConsentRequest(
        story_id=story.story_id, use=pb.STORY_USE_TENDER, recorded_by="Sarah",
        how_withdrawn="phone call"), metadata=ccss, timeout=30)
    assert reply.agency_told

    def notice():
        with Connection(stack.amqp_uri) as conn:
            message = withdrawals(conn.default_channel).get(no_ack=True)
            return message.payload if message else None

    event = stack.wait_for(notice, timeout=30, what="the story_withdrawn event")
    assert event["story_id"] == story.story_id and event["export_ids"] == [pack.export_id]
    with pytest.raises(grpc.RpcError) as withdrawn:
        tender_pack()
    assert "withdrew consent" in withdrawn.value.details()
