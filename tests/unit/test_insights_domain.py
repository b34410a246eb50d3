"""insights' rules without I/O: what an outcome must say, what a unit may
cite, the right of reply in working days, and co-defined measures."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.insights import domain
from services.insights.domain import OutcomeDraft, Party
from tiaki.core.errors import Invalid, NotFound, NotNow

TODAY = dt.date(2026, 3, 2)  # a Monday
AGENCY = Party("agency", "agency")
CCSS = Party("provider", "ccss")
OTHER = Party("provider", "other-ngo")
WHANAU = Party("representative", "whanau-voice")


def draft(**overrides) -> OutcomeDraft:
    base = dict(kind="decision", title=" Extend the parenting strand ",
                summary="Funding continues for two more years.", date="2026-02-27",
                audience="Agency leadership", delivery_ids=("b1:evaluation",))
    base.update(overrides)
    return OutcomeDraft(**base)


def received(*rows) -> list[dict]:
    return [{"delivery_id": d, "submission_id": s, "provider_id": p, "programme_id": "bff",
             "purpose_id": "evaluation", "unit_id": "evaluation", "period": "2026Q1"}
            for d, s, p in rows]


# -- what an outcome must say ----------------------------------------------------------


def test_a_good_outcome_is_trimmed_and_kept():
    checked = domain.check_outcome(draft(delivery_ids=(" b1:evaluation", "b1:evaluation")), TODAY)
    assert checked.title == "Extend the parenting strand"
    assert checked.delivery_ids == ("b1:evaluation",)


@pytest.mark.parametrize("overrides, field, words", [
    ({"kind": "rumour"}, "kind", "must be one of decision"),
    ({"title": "   "}, "title", "is required"),
    ({"summary": ""}, "summary", "is required"),
    ({"audience": ""}, "audience", "is required"),
    ({"title": "x" * 201}, "title", "at most 200"),
    ({"date": "2026-3-2"}, "date", "YYYY-MM-DD"),
    ({"date": "2026-03-03"}, "date", "in the future"),
    ({"delivery_ids": ()}, "delivery_ids", "name the deliveries or submissions"),
    ({"delivery_ids": ("b1", " ")}, "delivery_ids", "empty entry"),
    ({"measure_ids": ("m1",)}, "measure_ids", "only an evaluation finding"),
    ({"kind": "evaluation_finding"}, "measure_ids", "names the agreed measures"),
])
def test_bad_outcomes_name_the_field_and_why(overrides, field, words):
    with pytest.raises(Invalid) as caught:
        domain.check_outcome(draft(**overrides), TODAY)
    assert caught.value.field == field and words in caught.value.reason


def test_an_outcome_dated_today_is_fine():
    assert domain.check_outcome(draft(date="2026-03-02"), TODAY).date == "2026-03-02"


# -- citations -----------------------------------------------------------------------------


def test_citations_must_have_reached_the_unit():
    got = received(("b1:evaluation", "s1", "ccss"))
    d = draft(delivery_ids=("b1:evaluation", "b9:evaluation"), submission_ids=("s1", "s7"))
    assert domain.unreceived(d, got) == (["b9:evaluation"], ["s7"])


def test_a_submission_stands_for_each_of_its_deliveries_to_the_unit():
    got = received(("b2:evaluation", "s1", "ccss"), ("b1:evaluation", "s1", "ccss"),
                   ("b7:evaluation", "s2", "other-ngo"))
    d = draft(delivery_ids=("b7:evaluation", "b1:evaluation"), submission_ids=("s1",))
    cites = domain.citations(d, got)
    assert [c.delivery_id for c in cites] == ["b1:evaluation", "b2:evaluation", "b7:evaluation"]
    assert {c.provider_id for c in cites} == {"ccss", "other-ngo"}


# -- the right of reply ----------------------------------------------------------------------


def test_the_review_window_is_counted_in_working_days():
    (review,) = domain.open_reviews(["ccss", "ccss"], TODAY, working_days=10)
    assert review.shared_on == TODAY and review.respond_by == dt.date(2026, 3, 16)
    # Shared on Christmas Eve: 25 Dec to 15 Jan are not working days.
    (review,) = domain.open_reviews(["ccss"], dt.date(2026, 12, 24), working_days=1)
    assert review.respond_by == dt.date(2027, 1, 18)


def test_publication_waits_for_the_window_or_the_providers_word_that_it_may_go_early():
    (review,) = domain.open_reviews(["ccss"], TODAY, working_days=2)  # respond by Wed 4 March
    assert domain.publication_blockers("draft", (review,), dt.date(2026, 3, 4)) == [
        "ccss may respond until 2026-03-04 and has not said it may be published earlier"]
    assert domain.publication_blockers("draft", (review,), dt.date(2026, 3, 5)) == []
    agreed = domain.respond(review, "agree", "", dt.date(2026, 3, 3), 1.0)  # a reply alone: wait
    assert domain.publication_blockers("draft", (agreed,), dt.date(2026, 3, 3)) == [
        "ccss may respond until 2026-03-04 and has not said it may be published earlier"]
    answered = domain.respond(review, "agree", "", dt.date(2026, 3, 3), 1.0,
                              may_publish_early=True)
    assert domain.publication_blockers("draft", (answered,), dt.date(2026, 3, 3)) == []
    assert domain.publication_blockers("published", (answered,), dt.date(2026, 3, 9)) == [
        "it is published, not a draft"]


def test_every_provider_the_finding_is_about_has_its_own_window():
    reviews = domain.open_reviews(["ccss", "other-ngo"], TODAY, working_days=2)
    one = (domain.respond(reviews[0], "correct_fact", "We ran 12 sessions, not 10.", TODAY, 1.0),
           reviews[1])
    assert domain.publication_blockers("draft", one, TODAY) == [
        "ccss may respond until 2026-03-04 and has not said it may be published earlier",
        "other-ngo may respond until 2026-03-04 and has not said it may be published earlier",
        "ccss's correction of fact 1 ('We ran 12 sessions, not 10.') awaits the Agency's "
        "response: accept it and revise the finding, or decline it with reasons"]


def test_responses_within_the_window_only_and_with_words_when_needed():
    (review,) = domain.open_reviews(["ccss"], TODAY, working_days=2)
    with pytest.raises(Invalid) as caught:
        domain.respond(review, "add_context", "  ", TODAY, 1.0)
    assert caught.value.field == "text"
    with pytest.raises(Invalid) as caught:
        domain.respond(review, "shrug", "", TODAY, 1.0)
    assert caught.value.field == "kind"
    with pytest.raises(NotNow, match="closed on 2026-03-04"):
        domain.respond(review, "agree", "", dt.date(2026, 3, 5), 1.0)
    twice = domain.respond(domain.respond(review, "correct_fact", "12 sessions", TODAY, 1.0),
                           "add_context", "Staff changed mid-year", TODAY, 2.0)
    assert [r.kind for r in twice.responses] == ["correct_fact", "add_context"]


# -- co-defined measures ------------------------------------------------------------------------


def proposed(by=AGENCY) -> domain.Measure:
    return domain.propose("m1", "bff", "Goals met", "Share of families meeting most goals",
                          "Families told us goals matter more than attendance", by, 1.0)


def test_proposing_endorses_and_agreement_needs_all_three_voices():
    m = proposed()
    assert m.state == "proposed" and [p.party for p in m.positions] == [AGENCY]
    assert domain.still_needed(m) == ["an endorsement from a provider",
                                      "an endorsement from a representative"]
    m = domain.take_position(m, CCSS, "endorse", "", 2.0)
    assert m.state == "proposed"
    m = domain.take_position(m, WHANAU, "endorse", "It is what whānau want", 3.0)
    assert m.state == "agreed" and m.agreed_at == 3.0
    assert m.agreed_by == (AGENCY, CCSS, WHANAU)


def test_an_objection_needs_reasons_and_holds_agreement_until_withdrawn():
    m = proposed(by=WHANAU)
    with pytest.raises(Invalid) as caught:
        domain.take_position(m, OTHER, "object", " ", 2.0)
    assert caught.value.field == "reason"
    m = domain.take_position(m, OTHER, "object", "Attendance is not success", 2.0)
    m = domain.take_position(m, CCSS, "endorse", "", 3.0)
    m = domain.take_position(m, AGENCY, "endorse", "", 4.0)
    assert m.state == "proposed"
    assert domain.still_needed(m) == ["provider other-ngo objects: Attendance is not success"]
    m = domain.take_position(m, OTHER, "endorse", "Reworded; fine now", 5.0)
    assert m.state == "agreed"
    assert OTHER in m.agreed_by and len(m.positions) == 4  # its latest position only


def test_an_agreed_measure_is_settled():
    m = proposed()
    for party in (CCSS, WHANAU):
        m = domain.take_position(m, party, "endorse", "", 2.0)
    with pytest.raises(NotNow, match="already agreed"):
        domain.take_position(m, OTHER, "object", "too late", 3.0)


def test_measures_are_co_defined_by_the_three_parties_only():
    with pytest.raises(Invalid) as caught:
        domain.propose("m2", "bff", "x", "y", "z", Party("unit", "evaluation"), 1.0)
    assert caught.value.field == "party"
    with pytest.raises(Invalid) as caught:
        domain.propose("m2", "bff", "x", "y", "", AGENCY, 1.0)
    assert caught.value.field == "reason"


def test_findings_use_only_agreed_measures_of_their_programme():
    agreed = domain.take_position(domain.take_position(proposed(), CCSS, "endorse", "", 2.0),
                                  WHANAU, "endorse", "", 3.0)
    pending = replace(proposed(), measure_id="m2", name="Attendance")
    measures = {"m1": agreed, "m2": pending}
    domain.check_finding_measures(("m1",), measures, {"bff"})
    with pytest.raises(NotNow, match="m2 .*'Attendance'.* not agreed yet"):
        domain.check_finding_measures(("m1", "m2"), measures, {"bff"})
    with pytest.raises(Invalid, match="no measure 'm1' for other-programme"):
        domain.check_finding_measures(("m1",), measures, {"other-programme"})
    with pytest.raises(Invalid, match="no measure 'm9'"):
        domain.check_finding_measures(("m9",), measures, {"bff"})


# -- recording, publishing and replying, as the service does -----------------------------------


def plan_names(programme_id: str, purpose_id: str) -> str:
    return {"evaluation": "Programme evaluation"}.get(purpose_id, purpose_id)


def agreed(measure_id: str = "m1") -> domain.Measure:
    m = replace(proposed(), measure_id=measure_id)
    for party in (CCSS, WHANAU):
        m = domain.take_position(m, party, "endorse", "", 2.0)
    return m


def finding(working_days: int = 2) -> domain.Outcome:
    got = received(("b1:evaluation", "s1", "ccss"), ("b7:evaluation", "s2", "other-ngo"))
    return domain.new_outcome(
        "o1", "evaluation", draft(kind="evaluation_finding", measure_ids=("m1",),
                                  delivery_ids=("b1:evaluation", "b7:evaluation")),
        got, plan_names, {"m1": agreed()}, TODAY, working_days, 10.0)


def test_an_outcome_names_its_purposes_and_reaches_the_providers_whose_data_informed_it():
    got = received(("b2:evaluation", "s1", "ccss"), ("b7:evaluation", "s2", "other-ngo"))
    outcome = domain.new_outcome("o1", "evaluation", draft(submission_ids=("s1", "s2"),
                                                           delivery_ids=()),
                                 got, plan_names, {}, TODAY, 10, 5.0)
    assert outcome.state == "recorded" and outcome.reviews == () and outcome.version == 1
    assert outcome.provider_ids == ("ccss", "other-ngo") and outcome.programme_ids == ("bff",)
    assert [(c.delivery_id, c.purpose_name) for c in outcome.citations] == [
        ("b2:evaluation", "Programme evaluation"), ("b7:evaluation", "Programme evaluation")]
    assert outcome.recorded_at == outcome.changed_at == 5.0
    assert outcome.history == (domain.Step(5.0, "evaluation", "recorded the outcome"),)


def test_an_outcome_citing_what_its_unit_never_received_is_refused():
    got = received(("b1:evaluation", "s1", "ccss"))
    with pytest.raises(NotFound) as caught:
        domain.new_outcome("o1", "evaluation", draft(delivery_ids=("b1:evaluation", "b9:x"),
                                                     submission_ids=("s7",)),
                           got, plan_names, {}, TODAY, 10, 1.0)
    assert str(caught.value) == ("unit evaluation never received deliveries b9:x; nor "
                                 "submissions s7: an outcome cites only deliveries its unit "
                                 "received")


def test_a_finding_starts_as_a_draft_shared_with_each_provider():
    draft_finding = finding()
    assert draft_finding.state == "draft"
    assert [(r.provider_id, r.shared_on, r.respond_by) for r in draft_finding.reviews] == [
        ("ccss", TODAY, dt.date(2026, 3, 4)), ("other-ngo", TODAY, dt.date(2026, 3, 4))]
    assert draft_finding.history[-1].what == "shared the draft finding for reply"
    with pytest.raises(NotNow, match="not agreed yet"):
        domain.new_outcome("o2", "evaluation", draft(kind="evaluation_finding",
                                                     measure_ids=("m1",)),
                           received(("b1:evaluation", "s1", "ccss")), plan_names,
                           {"m1": proposed()}, TODAY, 2, 1.0)


def test_publication_after_replies_or_the_window():
    outcome = finding()
    with pytest.raises(NotFound, match="no outcome 'o1' recorded by unit service-delivery"):
        domain.publish(outcome, "o1", "service-delivery", TODAY, 20.0)
    with pytest.raises(NotFound):
        domain.publish(None, "o1", "evaluation", TODAY, 20.0)
    with pytest.raises(NotNow, match="o1 cannot be published yet: ccss may respond until"):
        domain.publish(outcome, "o1", "evaluation", TODAY, 20.0)
    published = domain.publish(outcome, "o1", "evaluation", dt.date(2026, 3, 5), 20.0)
    assert published.state == "published" and published.published_at == 20.0
    assert published.changed_at == 20.0 and len(published.history) == 2
    assert published.version == outcome.version  # the store counts versions on
    with pytest.raises(NotNow, match="it is published, not a draft"):
        domain.publish(published, "o1", "evaluation", dt.date(2026, 3, 5), 21.0)
    decision = replace(outcome, kind="decision", state="recorded")
    with pytest.raises(NotNow, match="only an evaluation finding is published"):
        domain.publish(decision, "o1", "evaluation", TODAY, 20.0)


def test_a_reply_changes_only_the_providers_own_review():
    outcome = finding()
    with pytest.raises(NotFound, match="no outcome 'o1'"):
        domain.reply(outcome, "o1", "stranger", "agree", "", TODAY, 11.0)
    replied = domain.reply(outcome, "o1", "ccss", "correct_fact", "12 sessions", TODAY, 11.0)
    assert [len(r.responses) for r in replied.reviews] == [1, 0]
    assert replied.history[-1] == domain.Step(11.0, "ccss", "responded: correct fact")
    with pytest.raises(NotNow, match="closed on 2026-03-04"):
        domain.reply(outcome, "o1", "other-ngo", "agree", "", dt.date(2026, 3, 5), 12.0)
    with pytest.raises(NotNow, match="correction of fact 1 .* awaits the Agency's response"):
        domain.publish(replied, "o1", "evaluation", dt.date(2026, 3, 5), 13.0)
    resolved = domain.resolve_correction(replied, "o1", "evaluation", "ccss", 1, False,
                                         "Our attendance records show 10.", "", "", 12.5)
    published = domain.publish(resolved, "o1", "evaluation", dt.date(2026, 3, 5), 13.0)
    with pytest.raises(NotNow, match="o1 is already published"):
        domain.reply(published, "o1", "ccss", "agree", "", dt.date(2026, 3, 5), 14.0)
    with pytest.raises(NotNow, match="only a draft evaluation finding takes a reply"):
        domain.reply(replace(outcome, kind="advice"), "o1", "ccss", "agree", "", TODAY, 14.0)


def test_a_providers_view_holds_only_its_own_citations_and_review():
    outcome = domain.reply(finding(), "o1", "ccss", "agree", "", TODAY, 11.0)
    mine = domain.view(outcome, "ccss")
    assert [c["delivery_id"] for c in mine["informed_by"]] == ["b1:evaluation"]
    assert mine["informed_by"][0] == {
        "delivery_id": "b1:evaluation", "provider_id": "ccss", "programme_id": "bff",
        "submission_id": "s1", "purpose_id": "evaluation", "purpose_name": "Programme evaluation",
        "period": "2026Q1"}  # the ledger's period of the delivery, kept with the citation
    assert mine["reviews"] == [{"provider_id": "ccss", "shared_on": "2026-03-02",
                                "respond_by": "2026-03-04",
                                "responses": [{"kind": "agree", "text": "", "at": 11.0,
                                               "person": "", "resolution": "",
                                               "resolution_reason": "", "resolved_at": None,
                                               "resolved_by_person": ""}],
                                "may_publish_early": False}]
    everything = domain.view(outcome)
    assert len(everything["informed_by"]) == 2 and len(everything["reviews"]) == 2
    assert everything["measure_ids"] == ["m1"] and everything["published_at"] is None


def test_periods_are_dates_in_order():
    assert domain.period("", "", required=False) == ("", "")
    assert domain.period("2026-01-01", "2026-03-31", required=True) == ("2026-01-01", "2026-03-31")
    for date_from, date_to, words in (("", "2026-03-31", "date_from: is required"),
                                      ("2026-01-01", "", "date_to: is required"),
                                      ("2026-13-01", "2026-03-31", "date_from: must be a date"),
                                      ("2026-03-01", "2026-01-01",
                                       "date_to: 2026-01-01 is before date_from 2026-03-01")):
        with pytest.raises(Invalid, match=words):
            domain.period(date_from, date_to, required=True)


def test_a_purpose_is_named_as_its_plan_names_it():
    plan = {"purposes": [{"purpose_id": "evaluation", "name": "Programme evaluation"},
                         {"purpose_id": "audit"}]}
    assert domain.purpose_name(plan, "evaluation") == "Programme evaluation"
    assert domain.purpose_name(plan, "audit") == "audit"
    assert domain.purpose_name({}, "evaluation") == "evaluation"


def test_positions_on_a_measure_are_written_in_its_history():
    m = proposed()
    assert m.history == (domain.Step(1.0, "agency agency", "proposed the measure"),)
    m = domain.respond_to_measure(m, OTHER, "object", " Too vague ", 2.0)
    m = domain.respond_to_measure(m, CCSS, "endorse", "", 3.0)
    assert [(s.who, s.what) for s in m.history[1:]] == [
        ("provider other-ngo", "objected: Too vague"), ("provider ccss", "endorsed")]


# -- the right of reply: early publication and corrections of fact, for all dates ------

DAYS = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2032, 12, 31))


@settings(deadline=None)  # the first call loads the year's public holidays
@given(shared=DAYS, later=st.integers(0, 40), days=st.integers(1, 15),
       early=st.lists(st.booleans(), min_size=1, max_size=3))
def test_published_early_only_when_every_provider_said_so(shared, later, days, early):
    reviews = domain.open_reviews([f"p{i}" for i in range(len(early))], shared, days)
    reviews = tuple(domain.respond(r, "agree", "", shared, 1.0, may_publish_early=e)
                    for r, e in zip(reviews, early))
    today = shared + dt.timedelta(days=later)
    closed = today > reviews[0].respond_by
    assert (domain.publication_blockers("draft", reviews, today) == []) == (closed or all(early))


@settings(deadline=None)
@given(shared=DAYS, later=st.integers(0, 60))
def test_a_correction_of_fact_holds_publication_until_the_agency_responds(shared, later):
    (review,) = domain.open_reviews(["ccss"], shared, 2)
    corrected = domain.respond(review, "correct_fact", "12 sessions, not 10", shared, 1.0,
                               may_publish_early=True)
    today = shared + dt.timedelta(days=later)
    assert any("awaits the Agency's response" in b
               for b in domain.publication_blockers("draft", (corrected,), today))


def test_the_agency_accepts_a_correction_with_the_finding_revised_or_declines_with_reasons():
    outcome = finding()
    replied = domain.reply(outcome, "o1", "ccss", "correct_fact", "We ran 12 sessions.", TODAY,
                           11.0, person="mere.tane")
    replied = domain.reply(replied, "o1", "ccss", "add_context", "Winter storms.", TODAY, 11.5)
    with pytest.raises(Invalid, match="revised_summary"):  # accepted means revised
        domain.resolve_correction(replied, "o1", "evaluation", "ccss", 1, True, "", "", "", 12.0)
    with pytest.raises(Invalid, match="reason"):  # declined means reasons
        domain.resolve_correction(replied, "o1", "evaluation", "ccss", 1, False, " ", "", "",
                                  12.0)
    with pytest.raises(NotNow, match="not a correction of fact"):
        domain.resolve_correction(replied, "o1", "evaluation", "ccss", 2, False, "No.", "", "",
                                  12.0)
    with pytest.raises(NotFound):
        domain.resolve_correction(replied, "o1", "evaluation", "ccss", 3, False, "No.", "", "",
                                  12.0)
    with pytest.raises(NotFound):  # only the unit that recorded it answers for it
        domain.resolve_correction(replied, "o1", "service-delivery", "ccss", 1, False, "No.",
                                  "", "", 12.0)
    accepted = domain.resolve_correction(replied, "o1", "evaluation", "ccss", 1, True, "",
                                         "Families attended 12 sessions on average.", "", 12.0,
                                         person="hana.kaimahi")
    assert accepted.summary == "Families attended 12 sessions on average."
    fixed = accepted.reviews[0].responses[0]
    assert (fixed.resolution, fixed.resolved_at, fixed.resolved_by_person) == (
        "accepted", 12.0, "hana.kaimahi")
    assert accepted.history[-1].what == "accepted ccss's correction of fact and revised the finding"
    with pytest.raises(NotNow, match="already accepted"):
        domain.resolve_correction(accepted, "o1", "evaluation", "ccss", 1, False, "No.", "", "",
                                  13.0)
    declined = domain.resolve_correction(replied, "o1", "evaluation", "ccss", 1, False,
                                         "Our register shows 10.", "", "", 12.0)
    shown = domain.view(declined, "ccss")["reviews"][0]["responses"][0]
    assert (shown["resolution"], shown["resolution_reason"]) == ("declined",
                                                                 "Our register shows 10.")
    assert declined.summary == outcome.summary


def test_notices_of_a_draft_finding_for_its_providers_and_its_unit():
    outcome = finding(working_days=5)  # shared Mon 2 March, replies by Mon 9 March
    assert [(n["kind"], n["due"]) for n in domain.notices(outcome, TODAY, "ccss")] == [
        ("draft_finding_open", "2026-03-09")]
    assert [n["kind"] for n in domain.notices(outcome, dt.date(2026, 3, 5), "ccss")] == [
        "draft_finding_open", "reply_window_closing"]   # two working days left
    assert domain.notices(outcome, dt.date(2026, 3, 10), "ccss") == []  # closed
    assert domain.notices(outcome, TODAY, "stranger") == []
    replied = domain.reply(outcome, "o1", "ccss", "correct_fact", "12 sessions", TODAY, 11.0)
    assert [n["kind"] for n in domain.notices(replied, dt.date(2026, 3, 5), "ccss")] == [
        "reply_window_closing"]
    assert [n["kind"] for n in domain.notices(replied, TODAY)] == ["correction_to_answer"]
    early = domain.reply(outcome, "o1", "ccss", "agree", "", TODAY, 11.0,
                         may_publish_early=True)
    assert domain.notices(early, dt.date(2026, 3, 5), "ccss") == []
