"""`make screenshots`: docs/screenshots/*.png of the portal's main pages for each
role, at 1280 and at 375 px wide, and their index docs/screenshots/README.md,
taken in headless Chromium against the real services (a stack of their own,
started and removed here) with the example programme: a quarter uploaded
through the portal, a draft of its next version with a proposal and a lesson,
an evaluation measure proposed, and a family's access request that waits at
the evaluation unit (answering after review) until its reviewer approves it.

    .venv/bin/python -m tests.browser.screenshots           # everything (about 3 minutes)
    .venv/bin/python -m tests.browser.screenshots --index   # only README.md, from SHOTS
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
import yaml

from tests.browser.conftest import CHROMIUM, portal_on_stack, sign_in
from tests.e2e.journey import agreed_measure, csv_text, quarter, queried_copy
from tests.stack import ROOT, free_port
from tiaki.cli.directory import entries_from_file
from tiaki.core.clock import nz_today
from tiaki.insights.v1 import outcomes_pb2 as opb
from tiaki.insights.v1.outcomes_pb2_grpc import OutcomesServiceStub, UnitOutcomesServiceStub
from tiaki.plumbing import plan_proto
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub
from tiaki.unit.v1 import review_pb2 as upb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceStub

OUT = ROOT / "docs" / "screenshots"
WIDTHS = (1280, 375)
PROGRAMME = "best-foot-forward"


@dataclass(frozen=True)
class Shot:
    name: str   # the file: NAME.png at 1280 px, NAME-375px.png at 375 px
    role: str   # who is signed in ("" for nobody)
    what: str   # the page, for the index


# Every page taken, in the order taken: the index is written from this table, and
# the run fails if it took a page the table does not name or missed one it does.
SHOTS = (
    Shot("sign-in", "", "Signing in (a password, then the authenticator code)"),
    Shot("reporting-admin-upload", "Provider reporting admin", "Upload a quarter's CSV"),
    Shot("reporting-admin-upload-result", "Provider reporting admin",
         "The upload's result: accepted and rejected rows, each rejection to download"),
    Shot("reporting-admin-home", "Provider reporting admin",
         "Programme and period: what was submitted and where it went, with the ledger's status"),
    Shot("reporting-admin-agreement", "Provider reporting admin", "The agreement, item by item"),
    Shot("reporting-admin-letter", "Provider reporting admin", "The families' letter for a period"),
    Shot("unit-reviewer-queries", "Agency unit reviewer (evaluation)",
         "Queries waiting for the unit's review, with working days left"),
    Shot("unit-reviewer-query", "Agency unit reviewer (evaluation)",
         "One query: the records the answer would give, each item to give or withhold under "
         "a Privacy Act ground, and the request's deadline"),
    Shot("unit-reviewer-approved", "Agency unit reviewer (evaluation)",
         "The query approved, with the item withheld and its ground"),
    Shot("unit-reviewer-mode", "Agency unit reviewer (evaluation)",
         "How the unit answers, as the running unit says, and the grounds"),
    Shot("privacy-officer-requests", "Provider privacy officer",
         "Access and correction requests with working days left"),
    Shot("privacy-officer-request", "Provider privacy officer",
         "One request, answered, with the family's answer"),
    Shot("privacy-officer-outcomes", "Provider privacy officer", "The outcomes feed"),
    Shot("privacy-officer-stories", "Provider privacy officer", "Tender stories"),
    Shot("board-member-report", "Provider board member", "The Board influence report"),
    Shot("analyst-drafts", "Agency analyst", "A programme's co-design drafts"),
    Shot("analyst-draft", "Agency analyst",
         "One draft: invitations, proposals to decide, lessons, the check before publishing"),
    Shot("analyst-measures", "Agency analyst", "Evaluation measures, one proposed"),
    Shot("analyst-outcomes", "Agency analyst",
         "Outcomes recorded by units, and draft findings with what stands before publication"),
    Shot("analyst-finding", "Agency analyst",
         "A draft finding: a provider's correction of fact, the reply window, the blockers"),
    Shot("contract-manager-agreements", "Agency contract manager",
         "Every provider's agreement and their queries"),
    Shot("contract-manager-query", "Agency contract manager",
         "A provider's query on an agreement item, to answer in the record"),
    Shot("representative-drafts", "Service-user representative", "Drafts the group is invited to"),
    Shot("representative-draft", "Service-user representative",
         "One draft: proposals to endorse, object to or comment on, and lessons"),
    Shot("representative-measures", "Service-user representative",
         "Evaluation measures to endorse"),
)


def index() -> str:
    """docs/screenshots/README.md: every screenshot, by role, at both widths."""
    lines = ["# Screenshots of the portal", "",
             "The portal's main pages for each role, at 1280 px and 375 px wide, against the",
             "real services with the example programme. Regenerate them all (and this index) with",
             "`make screenshots` (`python -m tests.browser.screenshots`).", "",
             "| Who | Page | 1280 px | 375 px |", "|---|---|---|---|"]
    for s in SHOTS:
        lines.append(f"| {s.role or 'Anyone'} | {s.what} | [{s.name}.png]({s.name}.png) "
                     f"| [{s.name}-375px.png]({s.name}-375px.png) |")
    return "\n".join(lines) + "\n"


def units_config(tmp: Path) -> Path:
    """The evaluation unit answers after review, service-delivery automatically (both
    with their review service, so the unit pages have a unit to ask)."""
    config = {}
    for unit, answer in (("evaluation", "review"), ("service-delivery", "auto")):
        token = tmp / f"unit-staff-{unit}"
        token.write_text(f"tk_unitstaff_{uuid.uuid4().hex}\n")
        config[unit] = {"answer": answer, "review_address": f"127.0.0.1:{free_port()}",
                        "staff_token_file": str(token)}
    path = tmp / "units.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def quarter_csv(tmp: Path) -> tuple[Path, list[dict]]:
    rows = quarter(40, seed=3, quarter="2026Q3")
    rows[5]["goals_met"] = "nearly"  # one rejection to show
    path = tmp / "2026Q3.csv"
    path.write_text(csv_text(rows))
    return path, rows


def draft_with_a_proposal(stack, plan: dict) -> None:
    """Version 2 of the programme in co-design: CCSS and a representatives' group
    invited, a proposal from CCSS and a lesson from a past programme."""
    codesign = CodesignServiceStub(stack.channel("purpose_router"))
    codesign.OpenDraft(cpb.OpenDraftRequest(
        programme_id=PROGRAMME, participants=["provider:ccss", "representative:whanau-voice"]),
        metadata=stack.metadata("agency", "agency"))
    age_band = next(i for i in plan["items"] if i["name"] == "age_band")
    codesign.ProposeChange(cpb.ProposeChangeRequest(
        programme_id=PROGRAMME, version=2, kind=cpb.CHANGE_KIND_CHANGE, item_name="age_band",
        reason="Plainer words for families.", item=plan_proto.to_proto({**plan, "items": [
            {**age_band, "description": "The child's age group"}]}).items[0]),
        metadata=stack.metadata("provider", "ccss"))
    codesign.AttachLesson(cpb.AttachLessonRequest(
        programme_id=PROGRAMME, version=2, from_programme="Strong start 2019",
        what_went_wrong="Families were never told where their answers went.",
        what_would_help="A letter in plain words before anything is collected."),
        metadata=stack.metadata("provider", "ccss"))


def outcomes_of(stack, submission: str) -> str:
    """The evaluation unit's advice and a draft finding from ccss's quarter (on a measure
    all three voices agreed), which ccss corrects: the finding's id."""
    measure = agreed_measure(stack, PROGRAMME, "Sessions attended", "Sessions per family",
                             "Attendance shows reach")
    units, unit = UnitOutcomesServiceStub(stack.channel("insights")), stack.metadata("unit", "evaluation")
    today = nz_today().isoformat()
    units.RecordOutcome(opb.RecordOutcomeRequest(
        kind=opb.OUTCOME_KIND_ADVICE, title="Keep funding joint sessions", date=today,
        summary="Joint sessions helped families meet their goals.", audience="the Minister",
        submission_ids=[submission]), metadata=unit)
    finding = units.RecordOutcome(opb.RecordOutcomeRequest(
        kind=opb.OUTCOME_KIND_EVALUATION_FINDING, title="Attendance fell in winter", date=today,
        summary="Families attended 10 sessions on average.", audience="the public",
        submission_ids=[submission], measure_ids=[measure.measure_id]), metadata=unit).outcome
    OutcomesServiceStub(stack.channel("insights")).RespondToFinding(opb.RespondToFindingRequest(
        outcome_id=finding.outcome_id, kind=opb.RESPONSE_KIND_CORRECT_FACT,
        text="We ran 12 sessions, not 10."), metadata=stack.metadata("provider", "ccss"))
    return finding.outcome_id


def waiting_at(stack, config: Path, unit: str, request_id: str) -> None:
    c = yaml.safe_load(config.read_text())[unit]
    stub = UnitReviewServiceStub(grpc.insecure_channel(c["review_address"]))
    token = Path(c["staff_token_file"]).read_text().strip()

    def waiting():
        try:
            found = stub.ListWaitingQueries(upb.ListWaitingQueriesRequest(),
                                            metadata=(("authorization", f"Bearer {token}"),))
        except grpc.RpcError:
            return False
        return any(q.request_id == request_id for q in found.queries)
    stack.wait_for(waiting, what=f"request {request_id} waiting at the {unit} unit")


def main():
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="portal-shots-"))
    config = units_config(tmp)
    taken: list[str] = []
    with portal_on_stack(tmp, unit_config=config) as (stack, portal), sync_playwright() as pw:
        plan = yaml.safe_load((ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text())
        stack.create_plan(plan)
        directory = DirectoryServiceStub(stack.channel("purpose_router"))
        for entry in entries_from_file(str(ROOT / "programmes" / "directory.yaml")):
            directory.SetEntry(dpb.SetEntryRequest(entry=entry),  # names, as make run loads them
                               metadata=stack.metadata("agency", "agency"))
        csv_file, rows = quarter_csv(tmp)
        OUT.mkdir(parents=True, exist_ok=True)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

        def as_(role: str, kind: str, org: str):
            """A fresh browser (no cookies) with `role` of `org` signed in."""
            page = browser.new_context(base_url=portal.url,
                                       viewport={"width": WIDTHS[0], "height": 800}).new_page()
            page.set_default_timeout(30000)
            if role:
                sign_in(page, portal.person(role, kind, org))
            return page

        def shot(page, name: str, path: str = ""):
            """`path` (or the page as it is) at each width."""
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                reply = page.goto(path) if path else page.reload() if width != WIDTHS[0] else None
                assert reply is None or reply.ok, f"{page.url}: {reply.status}"  # no refusal pictured
                file = f"{name}.png" if width == WIDTHS[0] else f"{name}-{width}px.png"
                page.screenshot(path=str(OUT / file), full_page=True)
                print(f"docs/screenshots/{file}")
            page.set_viewport_size({"width": WIDTHS[0], "height": 800})
            taken.append(name)

        shot(as_("", "", ""), "sign-in", "/sign-in")

        admin = as_("reporting-admin", "provider", "ccss")
        shot(admin, "reporting-admin-upload", "/provider/upload?period=2026Q3")
        admin.get_by_label("The quarter's CSV file").set_input_files(str(csv_file))
        admin.get_by_role("button", name="Upload and send").click()
        admin.wait_for_url("**/provider/uploads/**")
        submission = admin.url.rsplit("/", 1)[-1]
        shot(admin, "reporting-admin-upload-result")
        stack.wait_for(lambda: stack.unit_deliveries("evaluation"), what="the deliveries")
        shot(admin, "reporting-admin-home", "/provider?period=2026Q3")
        shot(admin, "reporting-admin-agreement", "/provider/agreement")
        shot(admin, "reporting-admin-letter", "/provider/letter")

        ccss = stack.metadata("provider", "ccss")
        rid = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
            programme_id=PROGRAMME, client_ref=rows[1]["client_ref"],
            requester="Whānau of client 1", authorisation="signed consent form",
            received=nz_today().isoformat()), metadata=ccss).request.request_id
        waiting_at(stack, config, "evaluation", rid)
        reviewer = as_("unit-reviewer", "unit", "evaluation")
        shot(reviewer, "unit-reviewer-queries", "/unit")
        shot(reviewer, "unit-reviewer-query", f"/unit/queries/{rid}")
        withhold = reviewer.locator("select[name^='withhold:1:']").first
        withhold.select_option("s53(b)")
        reviewer.get_by_role("button", name="Approve the answer").click()
        reviewer.wait_for_url("**approved=1")
        shot(reviewer, "unit-reviewer-approved")
        shot(reviewer, "unit-reviewer-mode", "/unit/mode")

        stack.wait_for(lambda: stack.requests().GetRequest(rpb.GetRequestRequest(
            request_id=rid), metadata=ccss).request.state == rpb.REQUEST_STATE_COMPLETE,
            what="the answer")
        officer = as_("privacy-officer", "provider", "ccss")
        shot(officer, "privacy-officer-requests", "/provider/requests")
        shot(officer, "privacy-officer-request", f"/provider/requests/{rid}")
        shot(officer, "privacy-officer-outcomes", "/provider/outcomes")
        shot(officer, "privacy-officer-stories", "/provider/stories")
        shot(as_("board-member", "provider", "ccss"), "board-member-report",
             "/provider/board-report")

        draft_with_a_proposal(stack, plan)
        analyst = as_("analyst", "agency", "agency")
        shot(analyst, "analyst-drafts", f"/agency/drafts?programme={PROGRAMME}")
        shot(analyst, "analyst-draft", f"/agency/drafts/{PROGRAMME}/2")
        analyst.goto(f"/agency/measures?programme={PROGRAMME}")
        analyst.get_by_label("Measure", exact=True).fill("Goals met")
        analyst.get_by_label("How it is worked out").fill("Share of families meeting their goals.")
        analyst.get_by_label("Why it matters").fill("Families said goals matter most.")
        analyst.get_by_role("button", name="Propose the measure").click()
        analyst.wait_for_url("**done=proposed")
        shot(analyst, "analyst-measures", f"/agency/measures?programme={PROGRAMME}")
        finding = outcomes_of(stack, submission)
        shot(analyst, "analyst-outcomes", "/agency/outcomes")
        shot(analyst, "analyst-finding", f"/agency/outcomes/{finding}")
        manager = as_("contract-manager", "agency", "agency")
        queried = queried_copy(stack, plan)["programme_id"]
        shot(manager, "contract-manager-agreements", f"/agency/agreements?programme={queried}")
        manager.goto("/agency/queries")
        manager.get_by_role("link", name="Answer City Centre Social Services's query on "
                                          "wellbeing_end").click()
        shot(manager, "contract-manager-query")

        rep = as_("representative", "representative", "whanau-voice")
        shot(rep, "representative-drafts", f"/representative/drafts?programme={PROGRAMME}")
        shot(rep, "representative-draft", f"/representative/drafts/{PROGRAMME}/2")
        shot(rep, "representative-measures", f"/representative/measures?programme={PROGRAMME}")
        browser.close()

    assert taken == [s.name for s in SHOTS], (taken, [s.name for s in SHOTS])
    wanted = {f"{s.name}{tail}.png" for s in SHOTS for tail in ("", "-375px")}
    for old in OUT.glob("*.png"):  # pages no longer taken (renamed or gone)
        if old.name not in wanted:
            old.unlink()
    (OUT / "README.md").write_text(index())
    print("docs/screenshots/README.md")


if __name__ == "__main__":
    if "--index" in sys.argv[1:]:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "README.md").write_text(index())
    else:
        main()
