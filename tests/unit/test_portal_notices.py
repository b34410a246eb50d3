"""Who is told what: the services' notices as the portal's notifications (notices.py)."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from services.portal.accounts import ROLES, Staff
from services.portal.notices import ROUTES, SOURCES, email_text, notifications

KINDS = sorted({kind for _, kind in ROUTES} | {"something_new"})
ORG_KINDS = sorted({r.kind for r in ROLES.values()})


def person(staff_id: str, org_kind: str, role: str, org: str = "o1", disabled=False) -> Staff:
    return Staff(staff_id, staff_id, org_kind, org, (role,), "", "", disabled=disabled,
                 email=f"{staff_id}@example.org")


def notice(kind: str, subject: str = "r-1", text: str = "the access request is due on 2026-12-08",
           due: str = "2026-12-08"):
    return SimpleNamespace(kind=kind, subject=subject, text=text, due=due)


def test_each_of_the_seven_kinds_reaches_someone():
    told = {kind for _, kind in ROUTES}
    assert {"invited_to_draft", "proposal_to_review", "item_query", "request_due_soon",
            "unit_escalated", "draft_finding_open", "reply_window_closing"} <= told


def test_every_route_names_roles_of_its_organisation_kind_and_a_source_it_calls():
    for (org_kind, _), (roles, _, _) in ROUTES.items():
        assert roles and all(ROLES[r].kind == org_kind for r in roles)
        assert any(org_kind in s.org_kinds for s in SOURCES)


def test_a_request_due_soon_tells_the_privacy_officer_not_the_board_member():
    officer, board = person("po", "provider", "privacy-officer"), person("bm", "provider", "board-member")
    (note,) = notifications("provider", [officer, board], [notice("request_due_soon")])
    assert note.staff == officer and note.link == "/provider/requests/r-1"
    assert note.what == "the access request is due on 2026-12-08"  # as the service said it


def test_the_agency_item_query_goes_to_contract_managers_and_proposals_to_analysts():
    cm, analyst = person("cm", "agency", "contract-manager"), person("an", "agency", "analyst")
    found = notifications("agency", [cm, analyst], [notice("item_query", "ccss|p@1|x"),
                                                   notice("proposal_to_review", "p@1")])
    assert {(n.staff.id, n.key.split("|")[0]) for n in found} == {
        ("cm", "item_query"), ("an", "proposal_to_review")}
    assert {n.link for n in found} == {"/agency/queries", "/agency/drafts/p/1"}


def test_a_disabled_account_is_told_nothing():
    assert notifications("provider", [person("po", "provider", "privacy-officer", disabled=True)],
                         [notice("request_due_soon")]) == []


@given(org_kind=st.sampled_from(ORG_KINDS), kinds=st.lists(st.sampled_from(KINDS), max_size=6),
       subjects=st.lists(st.sampled_from(["a", "b", "c|d@1|e"]), min_size=1, max_size=3),
       roles=st.lists(st.sampled_from(sorted(ROLES)), min_size=1, max_size=4))
def test_once_per_person_per_subject_and_only_to_the_roles_it_is_for(org_kind, kinds, subjects,
                                                                    roles):
    people = [person(f"p{i}", org_kind, r) for i, r in enumerate(roles)]
    notices = [notice(k, s) for k in kinds for s in subjects]
    found = notifications(org_kind, people, notices)
    keys = [n.key for n in found]
    assert len(keys) == len(set(keys))  # the store sends each key once
    for n in found:
        kind = n.key.split("|")[0]
        allowed, _, _ = ROUTES[(org_kind, kind)]
        assert set(n.staff.roles) & set(allowed) and n.staff.org_kind == org_kind
    expected = {(k, s, p.id) for k in set(kinds) for s in subjects for p in people
                if (org_kind, k) in ROUTES and set(p.roles) & set(ROUTES[(org_kind, k)][0])}
    assert {tuple(n.key.rsplit("|", 1)[0].split("|", 1)) + (n.staff.id,) for n in found} == expected


@given(text=st.text(min_size=1, max_size=80), subject=st.text(min_size=1, max_size=20))
def test_an_email_says_the_kind_the_date_and_a_link_and_nothing_the_service_wrote(text, subject):
    marker = "Client 6's aunt " + text
    (note,) = notifications("provider", [person("po", "provider", "privacy-officer")],
                            [notice("draft_finding_open", subject, marker, "2026-12-10")])
    title, body = email_text(note)
    assert "2026-12-10" in title and "/provider/outcomes" in body
    assert "aunt" not in title + body


def test_a_draft_links_to_its_page_for_the_person_told():
    rep, analyst = person("rv", "representative", "representative"), person("an", "agency", "analyst")
    (invited,) = notifications("representative", [rep], [notice("invited_to_draft", "bff@2")])
    (decide,) = notifications("agency", [analyst], [notice("proposal_to_review", "bff@2")])
    assert invited.link == "/representative/drafts/bff/2" and decide.link == "/agency/drafts/bff/2"
