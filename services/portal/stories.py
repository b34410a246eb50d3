"""Provider staff's tender stories: the provider's stories listed; one entered
(de-identified by intake on arrival, only the redacted text kept); while it
is reviewed, the redaction beside the original (the original is shown once,
in the answer to the post that sent it, to the provider's own staff: the
portal never stores it), each flag redacted or kept with a reason; the
family's consent per use recorded and withdrawn; an export for one use.
Every call goes to intake's StoriesService as the person's organisation."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from services.portal.web import Refusal, Visit, page, render
from tiaki.core.stories import HOW, USES
from tiaki.intake.v1 import stories_pb2 as pb

PROVIDER = ("provider",)
STAFF = ("privacy-officer", "reporting-admin")
USE_VALUES = {use: pb.StoryUse.Value(f"STORY_USE_{use.upper()}") for use in USES}
USE_NAMES = {value: use for use, value in USE_VALUES.items()}
ACTIONS = {"redact": pb.FLAG_ACTION_REDACT, "keep": pb.FLAG_ACTION_KEEP}


def _field(visit: Visit, name: str) -> str:
    value = visit.form.get(name) if visit.form is not None else None
    return value.strip() if isinstance(value, str) else ""


def _use(visit: Visit) -> int:
    use = _field(visit, "use")
    if use not in USE_VALUES:
        raise Refusal(400, f"Choose a use: {', '.join(USES)}.")
    return USE_VALUES[use]


def _view(s: pb.Story) -> dict:
    """A story as the templates show it."""
    consents = [{"use": USE_NAMES.get(c.use, "?"), "by": c.recorded_by, "how": c.how_given,
                 "note": c.note_given, "at": c.recorded_at.ToDatetime().strftime("%d %b %Y"),
                 "withdrawn": c.withdrawn_at.ToDatetime().strftime("%d %b %Y")
                 if c.withdrawn_at.seconds else "", "how_withdrawn": c.how_withdrawn}
                for c in s.consents]
    current = sorted({c["use"] for c in consents if not c["withdrawn"]})
    flags = [{"number": f.number, "kind": f.kind.replace("_", " "), "text": f.text,
              "reason": f.reason, "check_only": f.kind == "check_digit",
              "action": {pb.FLAG_ACTION_REDACT: "redacted",
                         pb.FLAG_ACTION_KEEP: "kept"}.get(f.action, ""),
              "kept_because": f.kept_because} for f in s.flags]
    return {"id": s.story_id, "title": s.title or "Untitled story",
            "state": pb.StoryState.Name(s.state).removeprefix("STORY_STATE_").lower()
            .replace("_", " "), "reviewing": s.state == pb.STORY_STATE_AWAITING_REVIEW,
            "text": s.redacted_text, "replaced": sorted(s.replaced.items()), "flags": flags,
            "submitted_by": s.submitted_by, "approved_by": s.approved_by,
            "consents": consents, "current": current, "exports": list(s.export_ids),
            "notice_pending": s.agency_notice_pending,
            "agency_told": bool(s.agency_notified_at.seconds)}


def _story_page(visit: Visit, story: pb.Story, original: str = "", said: str = ""):
    view = _view(story)
    return render(visit, "stories/story.html", title=view["title"], s=view, original=original,
                  said=said, uses=USES, how=HOW)


@page("/provider/stories", kinds=PROVIDER, roles=STAFF, nav="Tender stories")
def stories_list(visit: Visit):
    listed = visit.call("stories").ListStories(pb.ListStoriesRequest()).stories
    return render(visit, "stories/list.html", title="Tender stories",
                  stories=[_view(s) for s in listed], uses=USES)


@page("/provider/stories", kinds=PROVIDER, roles=STAFF, methods=("POST",))
def story_submit(visit: Visit):
    """De-identified by intake; the answer shows the original beside the
    redaction once, and the portal keeps nothing of it."""
    text = _field(visit, "text")
    if not text:
        raise Refusal(400, "Write or paste the story.")
    story = visit.call("stories").SubmitStory(pb.SubmitStoryRequest(
        text=text, title=_field(visit, "title"), submitted_by=visit.person.id)).story
    return _story_page(visit, story, original=text)


def _story_id(visit: Visit) -> str:
    return visit.request.path_params["story_id"]


@page("/provider/stories/{story_id}", kinds=PROVIDER, roles=STAFF)
def story_show(visit: Visit):
    story = visit.call("stories").GetStory(pb.GetStoryRequest(story_id=_story_id(visit))).story
    return _story_page(visit, story)


@page("/provider/stories/{story_id}/approve", kinds=PROVIDER, roles=STAFF, methods=("POST",))
def story_approve(visit: Visit):
    stories = visit.call("stories")
    story = stories.GetStory(pb.GetStoryRequest(story_id=_story_id(visit))).story
    decisions = []
    for f in story.flags:
        action = ACTIONS.get(_field(visit, f"flag-{f.number}"))
        if action is not None:
            decisions.append(pb.FlagDecision(flag=f.number, action=action,
                                             reason=_field(visit, f"reason-{f.number}")))
    story = stories.ApproveStory(pb.ApproveStoryRequest(
        story_id=story.story_id, approved_by=visit.person.id, decisions=decisions)).story
    return _story_page(visit, story, said="Approved: the redacted text may now be used "
                                          "where the family consents.")


@page("/provider/stories/{story_id}/consent", kinds=PROVIDER, roles=STAFF, methods=("POST",))
def story_consent(visit: Visit):
    visit.call("stories").RecordConsent(pb.RecordConsentRequest(
        story_id=_story_id(visit), use=_use(visit), recorded_by=visit.person.id,
        how_given=_field(visit, "how"), note=_field(visit, "note")))
    return RedirectResponse(f"/provider/stories/{_story_id(visit)}", status_code=303)


@page("/provider/stories/{story_id}/withdraw", kinds=PROVIDER, roles=STAFF, methods=("POST",))
def story_withdraw(visit: Visit):
    reply = visit.call("stories").WithdrawConsent(pb.WithdrawConsentRequest(
        story_id=_story_id(visit), use=_use(visit), recorded_by=visit.person.id,
        how_withdrawn=_field(visit, "how"), note=_field(visit, "note")))
    said = "Consent withdrawn."
    if reply.agency_told:
        said += " The Agency had received this story and has been told."
    elif reply.agency_notice_owed:
        said += " The Agency had received this story; it will be told once the broker takes the notice."
    return _story_page(visit, reply.story, said=said)


@page("/provider/stories/export", kinds=PROVIDER, roles=STAFF, methods=("POST",))
def stories_export(visit: Visit):
    use = _use(visit)
    reply = visit.call("stories").ExportStories(pb.ExportStoriesRequest(
        use=use, reference=_field(visit, "reference"), exported_by=visit.person.id))
    lines = [f"{USE_NAMES[use]} pack {reply.reference} (export {reply.export_id}, "
             f"{reply.exported_at.ToJsonString()})"]
    for story in reply.stories:
        lines.append(f"\n--- {story.title or story.story_id}\n\n{story.text.strip()}")
    return Response("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="stories-{reply.export_id}.txt"'})
