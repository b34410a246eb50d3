"""The story de-identifier: each identifier type, NHI and IRD check digits, NZ
phone and address formats, names from every community, what is kept, what is
flagged, and (with hypothesis) that a generated identifier never survives."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.stories_domain import check_approved_text, check_story
from tests.bench import story_set
from tiaki.core.deidentify import PLACEHOLDER, ird_valid, nhi_valid, redact, redact_flags
from tiaki.core.errors import Invalid


def unnumbered(text: str) -> str:
    """The text with placeholders unnumbered ("[NAME_2]" as "[NAME]"), where a
    test is about what is found, not how it is numbered."""
    return PLACEHOLDER.sub(r"[\1]", text)


def redacted(text: str) -> str:
    return unnumbered(redact(text).text)


def kinds(text: str) -> list[str]:
    return [i.kind for i in redact(text).identifiers]


def assert_flags_point_at_what_they_flag(original: str, result) -> None:
    """Each flag's offsets, taken back through the replacements to the original
    text, land on the same words there (a kept quasi-identifier is unchanged),
    or, for a check-digit flag, on the placeholder that replaced the number.
    Flag.text is the redacted text's slice, so comparing against it proves nothing."""
    for flag in result.flags:
        if flag.kind == "check_digit":
            assert PLACEHOLDER.fullmatch(result.text[flag.start:flag.end]), flag
            continue
        shift = 0  # how far the redacted text has moved by this point
        for found in result.identifiers:
            placeholder_end = found.start + shift + len(found.placeholder)
            if placeholder_end > flag.start:
                break
            shift += len(found.placeholder) - (found.end - found.start)
        assert original[flag.start - shift:flag.end - shift] == result.text[flag.start:flag.end], \
            (flag, original)


# -- check digits -------------------------------------------------------------------------------

@pytest.mark.parametrize("nhi", ["ZAC5361", "ZVU27KZ", "zac5361"])
def test_valid_nhi_numbers(nhi):
    assert nhi_valid(nhi)


@pytest.mark.parametrize("nhi", ["ZAC5362", "ZVU27KY", "ZIC5361", "ZAC536", "ZAC53611", "12C5361"])
def test_invalid_nhi_numbers(nhi):
    assert not nhi_valid(nhi)


@pytest.mark.parametrize("ird", ["49091850", "49-091-850", "049 091 850", "136410132"])
def test_valid_ird_numbers(ird):
    assert ird_valid(ird)


@pytest.mark.parametrize("ird", ["49091851", "9999999", "150000001", "1234567890", "49O91850"])
def test_invalid_ird_numbers(ird):
    assert not ird_valid(ird)


def test_ird_secondary_weights_are_used_when_the_primary_check_gives_ten():
    # 136410132: the primary weights give 10, the secondary give 2.
    assert ird_valid("136410132") and not ird_valid("136410133")


@given(st.randoms(use_true_random=False))
def test_generated_nhi_and_ird_numbers_are_valid(rnd):
    rng = random.Random(rnd.random())
    assert nhi_valid(story_set.nhi(rng)) and ird_valid(story_set.ird(rng))


def test_an_unlabelled_code_with_a_wrong_check_digit_is_kept():
    assert redacted("The voucher code was ZAC5362.") == "The voucher code was ZAC5362."


def test_a_labelled_nhi_with_a_wrong_check_digit_is_replaced_and_flagged():
    result = redact("Her NHI is ZAC5362.")
    assert result.text == "Her NHI is [NHI_1]."
    assert [f.kind for f in result.flags] == ["check_digit"] and result.flags[0].text == "[NHI_1]"


def test_labelled_and_dashed_ird_numbers():
    assert redacted("IRD number 049 091 850, tax number 49091850.") == \
        "IRD number [IRD], tax number [IRD]."
    assert redacted("Paid into 49-091-850 last week.") == "Paid into [IRD] last week."


# -- each identifier type -----------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["021 234 5678", "021-234-5678", "0212345678", "+64 21 234 5678",
                                   "+6427 555 0199", "(09) 375 1234", "03-477 8899", "04 801 2345",
                                   "+64 9 375 1234", "022 123 4567"])
def test_nz_phone_formats(phone):
    assert redacted(f"Text her on {phone} after school.") == "Text her on [PHONE] after school."


def test_freephone_numbers_are_kept_and_flagged():
    result = redact("Healthline is 0800 611 116.")
    assert result.text == "Healthline is 0800 611 116."
    assert [f.kind for f in result.flags] == ["freephone"]


@pytest.mark.parametrize("address", [
    "14 Kauri Street", "2/14 Kauri St, Ōtara", "Flat 3, 22 Rimu Road, Māngere East",
    "123A Great North Road, Grey Lynn, Auckland 1021", "Unit 5, 10 Te Atatū Road",
    "1234 State Highway 35, RD 1, Ōpōtiki", "RD 2, Kaikohe", "PO Box 1234, Kaitaia",
    "Private Bag 3020"])
def test_nz_address_formats(address):
    assert redacted(f"The whānau lives at {address}.") == "The whānau lives at [ADDRESS]."


def test_a_street_without_a_number_is_an_address():
    assert redacted("They moved to Kōwhai Crescent in May.") == "They moved to [ADDRESS] in May."


@pytest.mark.parametrize("text,expected", [
    ("Email aroha.ngata@xtra.co.nz today.", "Email [EMAIL] today."),
    ("She was born on 3 March 2015.", "She was born on [DOB]."),
    ("DOB 03/03/2015, NHI ZVU27KZ.", "DOB [DOB], NHI [NHI]."),
    ("Date of birth: 2015-03-03.", "Date of birth: [DOB]."),
    ("His birthday is 14 June.", "His birthday is [DOB]."),
    ("MSD client number 123 456 789 was used.", "MSD client number [CLIENT_NUMBER] was used."),
    ("Our file CCSS-2024-0193 has the notes.", "Our file [CLIENT_NUMBER] has the notes."),
    ("Case no. OT-2023-0411 is closed.", "Case no. [CLIENT_NUMBER] is closed."),
    ("The car, KZP421, was towed.", "The car, [PLATE], was towed."),
    ("Her rego MOANA7 was cloned.", "Her rego [PLATE] was cloned."),
])
def test_each_identifier_type(text, expected):
    assert redacted(text) == expected


# -- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    # Māori, with macrons and two-word family names
    ("Rāwiri Te Whata came in on Monday.", "[NAME] came in on Monday."),
    ("Her partner Te Rauhina works nights.", "Her partner [NAME] works nights."),
    ("Whaea Mere does the karakia.", "Whaea [NAME] does the karakia."),
    # Pasifika, with an okina
    ("Sione and Mele Tupou joined the fono.", "[NAME] and [NAME] joined the fono."),
    ("Her daughter Fuaʻi sings in the choir.", "Her daughter [NAME] sings in the choir."),
    # Asian
    ("Xiuying Chen rang the office.", "[NAME] rang the office."),
    ("Harpreet Kaur and her son Ishaan came.", "[NAME] and her son [NAME] came."),
    # Pākehā
    ("Mrs Pemberton says Kylie sleeps well now.", "Mrs [NAME] says [NAME] sleeps well now."),
    # Names no list knows: found from context
    ("A girl named Ngāreta joined the group.", "A girl named [NAME] joined the group."),
    ("We met with Whitiora at the marae.", "We met with [NAME] at the marae."),
    ("Tavake's mum rang us.", "[NAME]'s mum rang us."),
    ("Lanuola quickly became a leader.", "[NAME] quickly became a leader."),
    # A name that is also a place, once a sentence says it is a person
    ("Her son Nelson loves rugby. Nelson is 9.", "Her son [NAME] loves rugby. [NAME] is 9."),
])
def test_names(text, expected):
    assert redacted(text) == expected


def test_a_name_found_once_is_replaced_everywhere():
    text = "Her son is called Tūreiti. Tūreiti's teacher says Tūreiti reads well."
    assert redacted(text) == "Her son is called [NAME]. [NAME]'s teacher says [NAME] reads well."


# -- what is kept, what is flagged --------------------------------------------------------------

KEPT = [
    "The social worker from CCSS referred the whānau to Best foot forward.",
    "Oranga Tamariki and Work and Income met with the kaumātua at the marae.",
    "They had $1,200 in rent arrears and 3 tamariki under five.",
    "Our kaimahi and the Whānau Ora navigator visited 6 times over the winter.",
    "The mokopuna love kapa haka, and there is a lot of aroha in this whare.",
    "She finished all 12 sessions of Incredible Years in Hamilton in March 2024.",
    "The family moved from Auckland to Christchurch for work.",
]


@pytest.mark.parametrize("text", KEPT)
def test_non_identifying_text_is_kept(text):
    assert redacted(text) == text


@pytest.mark.parametrize("text,kind", [
    ("They live in Ruatōria.", "place"),
    ("Her boy goes to Tangaroa College.", "school"),
    ("He works at Silver Fern Farms.", "workplace"),
    ("She lost her job at the freezing works.", "workplace"),
    ("He is a 34-year-old father of three.", "age"),
    ("The house fire was on 12 May 2024.", "date"),
    ("They are the only Tongan family in town.", "rare_detail"),
])
def test_quasi_identifiers_are_kept_and_flagged(text, kind):
    result = redact(text)
    assert result.text == text
    assert kind in {f.kind for f in result.flags}


def test_flags_point_into_the_redacted_text():
    result = redact("Aroha Ngata lives in Kaikohe and works at Countdown.")
    assert result.text == "[NAME_1] lives in Kaikohe and works at Countdown."
    assert {(f.kind, f.text) for f in result.flags} == {("place", "Kaikohe"),
                                                        ("workplace", "Countdown")}
    # Positions worked out here, not by the de-identifier.
    assert sorted((f.start, f.end) for f in result.flags) == [(18, 25), (39, 48)]
    assert_flags_point_at_what_they_flag("Aroha Ngata lives in Kaikohe and works at Countdown.",
                                         result)


def test_a_story_written_as_staff_write_them():
    story = ("Referral from Plunket 14/02/2024. Mum (Ataahua, 23) and baby Manaaki are staying "
             "with Ataahua's aunty in Moerewa. Ataahua's phone: 027 555 0199. She has no car. "
             "Baby's NHI ZVU27KZ, born 02/01/2024. Dad not involved. We linked her with "
             "Kāinga Ora and the Foodbank, and she started Family Start in March.")
    result = redact(story)
    assert result.text == (
        "Referral from Plunket 14/02/2024. Mum ([NAME_1], 23) and baby [NAME_2] are staying "
        "with [NAME_1]'s aunty in Moerewa. [NAME_1]'s phone: [PHONE_1]. She has no car. "
        "Baby's NHI [NHI_1], born [DOB_1]. Dad not involved. We linked her with "
        "Kāinga Ora and the Foodbank, and she started Family Start in March.")
    assert {("date", "14/02/2024"), ("place", "Moerewa"), ("age", "23")} <= {
        (f.kind, f.text) for f in result.flags}


# -- for all inputs ---------------------------------------------------------------------------

FILLER = st.sampled_from(["The whānau", "came to CCSS", "with 3 tamariki", "and $400 owing.",
                          "Our kaimahi", "visited the marae", "in March", "for Triple P,",
                          "and the social worker", "rang", "on", "at", "said", "."])


@st.composite
def identifiers(draw):
    rng = random.Random(draw(st.integers(0, 2**32)))
    person = story_set._Person(rng)
    kind = draw(st.sampled_from(["nhi", "ird", "phone", "email", "address"]))
    return {"nhi": lambda: "NHI " + story_set.nhi(rng),
            "ird": lambda: "IRD " + story_set.ird(rng),
            "phone": lambda: story_set.phone(rng),
            "email": lambda: story_set.email(rng, person),
            "address": lambda: "lives at " + story_set.address(rng)}[kind]()


@settings(max_examples=150, deadline=None)
@given(before=st.lists(FILLER, max_size=6), secret=identifiers(), after=st.lists(FILLER, max_size=6))
def test_a_generated_identifier_never_survives(before, secret, after):
    text = " ".join([*before, secret, *after])
    out = redact(text).text
    value = secret.split(" ", 1)[1] if secret.startswith(("NHI ", "IRD ", "lives at ")) else secret
    assert value not in out
    for digits in filter(None, "".join(c if c.isdigit() else " " for c in value).split()):
        if len(digits) >= 3:
            assert digits not in out.replace("$400", "")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_text_redacts_without_error_and_flags_point_into_it(text):
    assert_flags_point_at_what_they_flag(text, redact(text))


# -- the story rules -----------------------------------------------------------------------------

def test_empty_and_oversized_stories_are_refused():
    with pytest.raises(Invalid, match="text: the story is empty"):
        check_story(" \n\t")
    with pytest.raises(Invalid, match="11 characters; at most 10"):
        check_story("x" * 11, max_chars=10)


def test_a_reviewer_cannot_put_an_identifier_back():
    assert check_approved_text("[NAME] rang [PHONE] about Triple P.")
    with pytest.raises(Invalid, match="EMAIL"):
        check_approved_text("[NAME] wrote from aroha@gmail.com.")


# -- names inside what looks like an organisation, a place, a quote or a workplace -----------

@pytest.mark.parametrize("text,expected", [
    # a run running on through "and"/"of" into an organisation
    ("Sione and Work and Income agreed on a plan.", "[NAME] and Work and Income agreed on a plan."),
    ("Aroha Ngata of Kōkiri Marae rang us.", "[NAME] of Kōkiri Marae rang us."),
    ("We met Hemi Parata and Oranga Tamariki at the hui.",
     "We met [NAME] and Oranga Tamariki at the hui."),
    # a quote holding a name
    ('Mum said "Kylie is settled" at the hui.', 'Mum said "[NAME] is settled" at the hui.'),
    # surnames that are also places
    ("Kylie Henderson came in on Monday.", "[NAME] came in on Monday."),
    ("Shane Gore rang the office.", "[NAME] rang the office."),
    ("We met Tegan Massey at the marae.", "We met [NAME] at the marae."),
    ("Corey Nelson and Jodie Hamilton joined the group.", "[NAME] and [NAME] joined the group."),
    # a person after a work word
    ("She works for Mere Tipene now.", "She works for [NAME] now."),
    ("He got a job with Hemi Parata on the farm.", "He got a job with [NAME] on the farm."),
])
def test_names_next_to_organisations_places_quotes_and_work_words(text, expected):
    assert redacted(text) == expected


@pytest.mark.parametrize("text", [
    "Oranga Tamariki and Work and Income met with the kaumātua at the marae.",
    "The whānau moved from Henderson to Massey last winter.",
    'The programme is called "Best foot forward" and the kids love it.',
    "She works at Silver Fern Farms in Hastings.",
    "He works for Kāinga Ora now.",
])
def test_organisations_places_quotes_and_workplaces_without_a_person_are_kept(text):
    assert redacted(text) == text


def test_a_labelled_nhi_that_loses_to_a_longer_client_number_does_not_crash():
    # The NHI-shaped "num1234" has a wrong check digit and is labelled; the client
    # number "1234 5678" starts later and is longer, so it wins the overlap.
    result = redact("NHI: case num1234 5678")
    assert "1234" not in result.text and "5678" not in result.text
    assert "[CLIENT_NUMBER_1]" in result.text


# -- issue 11: numbered placeholders, organisations kept whole, more quasi-identifiers -------

def test_placeholders_are_numbered_so_a_reader_can_follow_who_is_who():
    result = redact("Aroha Ngata rang us. Her son Nikau came with Mere. Aroha said Nikau and "
                    "Mere are well; text Aroha on 021 234 5678 or 021 234 5678.")
    assert result.text == ("[NAME_1] rang us. Her son [NAME_2] came with [NAME_3]. [NAME_1] said "
                           "[NAME_2] and [NAME_3] are well; text [NAME_1] on [PHONE_1] or [PHONE_1].")
    assert result.counts() == {"NAME": 7, "PHONE": 2}


def test_a_family_name_alone_is_not_taken_for_the_one_person_who_has_it():
    # Mrs Parata may be Hemi's mother: the reader is not told she is Hemi.
    result = redact("Hemi Parata came in. Hemi's mum, Mrs Parata, rang later.")
    assert result.text == "[NAME_1] came in. [NAME_1]'s mum, Mrs [NAME_2], rang later."


@pytest.mark.parametrize("text", [
    "The Ministry for Children (Oranga Tamariki) came to the hui.",
    "Her son, Oranga Tamariki and Work and Income all came.",
    "Te Whatu Ora, Oranga Tamariki, Kāinga Ora and Whaikaha met.",
    "Mere rang Oranga Tamariki, then the Department of Internal Affairs.",
])
def test_known_organisations_and_agencies_are_kept_whole(text):
    kept = redact(text).text
    for organisation in ("Oranga Tamariki", "Work and Income", "Kāinga Ora", "Whaikaha",
                         "Ministry for Children", "Department of Internal Affairs"):
        assert (organisation in kept) == (organisation in text)


@pytest.mark.parametrize("text, kind, flagged", [
    ("Aroha (42) came in.", "age", "42"),
    ("Her daughter Mere (2) goes to kōhanga.", "age", "2"),
    ("Her son Nikau, 15, plays league.", "age", "15"),
    ("At 15 he left school.", "age", "15"),
    ("She left home at the age of 16 and never went back.", "age", "16"),
    ("Her partner is 42.", "age", "42"),
    ("She is in her forties.", "age", "in her forties"),
    ("They are a family of seven.", "family_size", "a family of seven"),
    ("She is a mum of 6.", "family_size", "mum of 6"),
    ("They raise nine tamariki.", "family_size", "nine tamariki"),
    ("We met at Kōkiri Marae in June.", "marae", "Kōkiri Marae"),
    ("When Ōrākei Marae hosted the hui we went.", "marae", "Ōrākei Marae"),
    ("She was at Middlemore Hospital for a week.", "health", "Middlemore Hospital"),
    ("Her baby was in the neonatal unit.", "health", "neonatal unit"),
    ("He goes to Ōtara Health Centre.", "health", "Ōtara Health Centre"),
    ("He is the rugby captain this year.", "sport", "rugby captain"),
    ("She is captain of the netball team.", "sport", "captain of the netball team"),
    ("He plays for the Marist Rugby Club.", "sport", "Marist Rugby Club"),
    ("She was made head girl.", "sport", "head girl"),
    ("He works the night shift at the plant.", "shift", "night shift"),
    ("She works nights at Countdown.", "shift", "works nights"),
    ("She works nights at Silver Fern Farms.", "workplace", "Silver Fern Farms"),
])
def test_more_quasi_identifiers_are_flagged(text, kind, flagged):
    result = redact(text)
    assert (kind, flagged) in {(f.kind, f.text) for f in result.flags}, result.flags
    assert_flags_point_at_what_they_flag(text, result)


@pytest.mark.parametrize("text", [
    "We meet at 10 am on Tuesdays.",
    "She paid $40 at 3 pm and left at 5.30.",
    "They have two kids.",
    "The team at the marae cooked for the whānau.",
    "She was in hospital twice with asthma.",
    "Our team met the Family Start team at the hospital.",
])
def test_ordinary_words_are_not_flagged(text):
    assert [(f.kind, f.text) for f in redact(text).flags] == []


def test_the_issue_example_is_flagged_everywhere_a_family_could_be_found():
    story = ("Aroha Ngata (42) is raising a family of seven in Kaikohe. Her son Nikau, 15, is the "
             "rugby captain at Tangaroa College. Aroha works at Silver Fern Farms on the night "
             "shift, and at 15 Nikau started helping at Kōkiri Marae. Oranga Tamariki helped.")
    result = redact(story)
    flagged = {(f.kind, f.text) for f in result.flags}
    assert {("age", "42"), ("family_size", "a family of seven"), ("place", "Kaikohe"),
            ("age", "15"), ("sport", "rugby captain"), ("school", "Tangaroa College"),
            ("workplace", "Silver Fern Farms"), ("shift", "night shift"),
            ("marae", "Kōkiri Marae")} <= flagged
    assert "Oranga Tamariki helped." in result.text


def test_redacting_flags_numbers_them_by_kind_and_moves_the_rest():
    text = "[NAME_1] lives in Kaikohe; [NAME_2] moved to Kaikohe from Wairoa and is 42."
    result = redact(text)
    by_text = {f.text: i for i, f in enumerate(result.flags)}
    chosen = {i for i, f in enumerate(result.flags) if f.text in ("Kaikohe", "Wairoa")}
    redacted, moved = redact_flags(result.text, list(result.flags), chosen)
    assert redacted == "[NAME_1] lives in [PLACE_1]; [NAME_2] moved to [PLACE_1] from [PLACE_2] and is 42."
    assert moved[by_text["42"]].text == "42"
    assert [f.text for i, f in enumerate(moved) if i in chosen] == ["[PLACE_1]", "[PLACE_1]", "[PLACE_2]"]


@given(st.lists(st.sampled_from(["Aroha (42) lives in Kaikohe", "a family of seven", "Kōkiri Marae",
                                 "the rugby captain", "at Middlemore Hospital", "Mere, 15,",
                                 "and", "the night shift", "at Silver Fern Farms", "."]),
                min_size=1, max_size=12), st.data())
@settings(max_examples=150, deadline=None)
def test_redacting_any_choice_of_flags_keeps_the_others_where_they_point(parts, data):
    result = redact(" ".join(parts))
    chosen = set(data.draw(st.sets(st.sampled_from(range(len(result.flags))))
                           if result.flags else st.just(set())))
    redacted, moved = redact_flags(result.text, list(result.flags), chosen)
    for i, (before, after) in enumerate(zip(result.flags, moved)):
        assert after.text == redacted[after.start:after.end]
        if i in chosen:
            assert PLACEHOLDER.search(after.text)
        elif not any(result.flags[j].start < before.end and before.start < result.flags[j].end
                     for j in chosen):
            assert after.text == before.text


@pytest.mark.parametrize("text, expected", [
    ("Per Bridget, Autumn is now the one other mums ring first.",
     "Per [NAME_1], [NAME_2] is now the one other mums ring first."),
    ("Justice agreed to this story being shared.", "[NAME_1] agreed to this story being shared."),
    ("The Ministry of Justice wrote in autumn.", "The Ministry of Justice wrote in autumn."),
    ("Waiana, 40, is the first in her family at university.",
     "[NAME_1], 40, is the first in her family at university."),
    ("Letters go to Flat B, 51 Albert Rise.", "Letters go to [ADDRESS_1]."),
    ("SWN 059-144-495 (for Royal).", "SWN [CLIENT_NUMBER_1] (for [NAME_1])."),
])
def test_gaps_the_fresh_story_set_showed(text, expected):
    assert redact(text).text == expected
