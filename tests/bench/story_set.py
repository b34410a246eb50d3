"""A labelled set of synthetic, NZ-flavoured client stories for measuring the
story de-identifier (tests/bench/stories_eval.py).

Deterministic: `stories(n, seed)` always gives the same stories. Each story is
built piece by piece from a few hundred sentence shapes, so the position and
type of every identifier (and every quasi-identifier) is known exactly.

The name pools are this module's own, written apart from the de-identifier's
lists: about half the names are in neither, so the figures also measure what
context rules catch (names at the start of a sentence, after "named", next to
relationship words, possessives, Māori names that are also te reo words).
Organisations, towns, schools, workplaces and rare details come in two pools:
most are also in the de-identifier's lists, and a held-out part (HELD_OUT) is in
none of them, so stories_eval.py reports apart how the rules do on words they
were not written for.
Every person, number and address here is made up; phone numbers follow the NZ
numbering plan, NHI and IRD numbers carry correct check digits."""

# ruff: noqa: E501  (sentence shapes and formats read best one to a line)
from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field

import phonenumbers

DIRECT = ("NAME", "ADDRESS", "PHONE", "EMAIL", "DOB", "NHI", "IRD", "CLIENT_NUMBER", "PLATE")
QUASI = ("place", "school", "workplace", "age", "date", "rare_detail")

# -- people --------------------------------------------------------------------------------

GIVEN = {
    "maori_f": ["Aroha", "Mere", "Anahera", "Kahurangi", "Ngaio", "Hinewai", "Ataahua", "Harata",
                "Ngāreta", "Pareārohi", "Matewai", "Rangiwai", "Hikitia", "Māhina", "Ruihi",
                "Kōwhai", "Tūmanako", "Moana", "Whitiora", "Wairimu"],
    "maori_m": ["Wiremu", "Hemi", "Tamati", "Rāwiri", "Manaia", "Tāne", "Mikaere", "Aperahama",
                "Whaitiri", "Te Rauhina", "Rangi", "Hōhepa", "Ihaia", "Tūreiti", "Kupe"],
    "pasifika_f": ["Mele", "Losa", "Sina", "Sieni", "Lanuola", "Akanesi", "Vaiola", "Lupe",
                   "Salote", "Fuaʻi", "Litia", "Seini"],
    "pasifika_m": ["Sione", "Tevita", "Viliami", "Losana", "Tavake", "Peleti", "Pulotu", "Mafi",
                   "Uili", "Toa", "Semisi", "Iosefa"],
    "asian_f": ["Priya", "Wei", "Xiuying", "Jiahui", "Navneet", "Thao", "Sakura", "Mariel",
                "Harpreet", "Ji-woo", "Anjali", "Linh"],
    "asian_m": ["Arjun", "Minh", "Rajveer", "Hyun-woo", "Jomar", "Bao", "Zhiwei", "Ishaan",
                "Gurpreet", "Hiroshi", "Rahul", "Tuan"],
    "pakeha_f": ["Sarah", "Emma", "Kylie", "Kelsey", "Tegan", "Monique", "Nadine", "Skye",
                 "Ashleigh", "Grace", "Jodie", "Bronwyn", "Hope"],
    "pakeha_m": ["Jack", "Liam", "Shane", "Brodie", "Jarrod", "Corey", "Dylan", "Rhys",
                 "Lachlan", "Wayne", "Hamish", "Craig"],
}
FAMILY = {
    "maori": ["Ngata", "Parata", "Tipene", "Te Whata", "Herewini", "Wihongi", "Te Huia",
              "Rangihuna", "Tūhaka", "Manihera", "Taurua", "Mahuika", "Ngārimu", "Whatuira",
              "Pōtaka", "Kōpua", "Te Amo"],
    "pasifika": ["Tuilagi", "Fonoti", "Taufa", "Tupou", "Havili", "Tuiloma", "Fakatava", "Kioa",
                 "Vainikolo", "Lealaiauloto", "Tapueluelu", "Mataele", "Faʻafoi", "Afeaki"],
    "asian": ["Chen", "Singh", "Patel", "Nguyen", "Zhang", "Dhillon", "Sandhu", "Grewal",
              "Trinh", "Huynh", "Macaraeg", "Ocampo", "Xie", "Kapoor"],
    # Henderson, Gore and Massey are suburbs and towns too.
    "pakeha": ["Smith", "Wilson", "Thompson", "O'Brien", "McDonald", "Hollings", "Pemberton",
               "Goodwin", "Blackwell", "Fairbairn", "McAllister", "Crawshaw", "Haworth",
               "Henderson", "Gore", "Massey"],
}
GROUPS = ("maori", "pasifika", "asian", "pakeha")

# -- what is kept -------------------------------------------------------------------------

ORGS = ["CCSS", "City Centre Social Services", "Oranga Tamariki", "Work and Income", "Plunket",
        "Kāinga Ora", "the Salvation Army", "Women's Refuge", "Family Start", "Te Whatu Ora",
        "the City Mission", "Whānau Ora", "Barnardos", "the Foodbank", "Citizens Advice Bureau",
        "Kahui Tu Kaha", "Tu Tama Wahine", "Te Whare Awhina Trust", "Mahitahi Collective",
        "Pasifika Futures", "Kōkiri Marae"]
PROGRAMMES = ["Best foot forward", "Incredible Years", "Triple P", "Strengthening Families",
              "Whānau Ora", "the parenting programme", "the budgeting course", "Housing First"]
ROLES = ["the social worker", "our kaimahi", "the Whānau Ora navigator", "the nurse",
         "her GP", "the school counsellor", "the budget advisor", "the midwife",
         "the caseworker", "the family court lawyer", "the teacher", "the kaiārahi"]
CITIES = ["Auckland", "Hamilton", "Wellington", "Christchurch", "Rotorua", "Tauranga",
          "Whangārei", "Dunedin", "Palmerston North", "Gisborne", "Porirua", "Napier"]
TOWNS = ["Kaikohe", "Ōpōtiki", "Wairoa", "Ruatōria", "Murupara", "Twizel", "Moerewa",
         "Kawerau", "Tokoroa", "Ōtorohanga", "Taumarunui", "Dargaville", "Raetihi", "Te Araroa",
         "Ōtara", "Māngere", "Cannons Creek", "Flaxmere", "Naenae", "Aranui"]
SCHOOLS = ["Kaikohe Primary School", "Hillcrest High School", "Tangaroa College",
           "Te Kura Kaupapa Māori o Ngā Mokopuna", "Ōtara Intermediate", "Flaxmere College",
           "Wairoa Primary", "St Mary's School", "Aranui High School", "Naenae Kindergarten"]
WORKPLACES = ["Fonterra", "Countdown", "the freezing works", "Silver Fern Farms",
              "Pak'nSave", "the Warehouse", "a packhouse in Te Puke", "Kmart", "Affco"]
RARE = ["twins", "triplets", "a wheelchair", "a house fire", "the only Tongan family in town",
        "a cochlear implant", "a kidney transplant", "a rare heart condition"]
TE_REO = ["whānau", "tamariki", "kaumātua", "marae", "mokopuna", "kōrero", "mahi", "wairua",
          "tikanga", "karakia", "hui", "aroha", "rangatahi", "kai", "whare", "mana"]
STREETS = ["Kauri", "Rimu", "Tōtara", "Kōwhai", "Matai", "Pōhutukawa", "Great North",
           "Te Atatū", "Mahia", "Wairere", "Hillcrest", "Rata", "Ngaio", "Miro", "Nikau",
           "Tawa", "Pūriri", "Church", "School", "Station", "Beach", "Seddon", "Grey",
           "Cameron", "Domain", "Mill", "Bridge", "St Johns", "Mt Eden", "Te Rapa"]
STREET_TYPES = ["Street", "St", "Road", "Rd", "Avenue", "Ave", "Drive", "Place", "Crescent",
                "Terrace", "Lane", "Way", "Close", "Grove"]
SUBURBS = ["Ōtara", "Māngere East", "Grey Lynn", "Hornby", "Naenae", "Flaxmere", "Kelston",
           "Fenton Park", "Glen Innes", "Linwood", "Enderley", "Owhata", "Castlecliff"]
FREEPHONES = ["0800 611 116", "0800 559 009", "0800 543 354", "0508 828 865"]
# In none of the de-identifier's lists (services/intake/story_words.py): a story
# takes from these about a third of the time, and the figures on them are reported apart.
HELD_OUT = {
    "org": ["Waipareira Trust", "Emerge Aotearoa", "Raukura Hauora", "Aviva",
            "Homebuilders Family Services", "Tuvalu Community Trust", "Fono Health Centre"],
    "place": ["Ōhope", "Waipawa", "Ngātea", "Tuatapere", "Kurow", "Waimate", "Ōtautau",
              "Mangawhai", "Whangamatā"],
    "school": ["Māhurangi College", "Ōhope Beach School", "Waipawa Primary",
               "Te Kura o Hirangi"],
    "workplace": ["Alsco", "Bluebird Foods", "Tip Top", "Watties", "Inghams"],
    "rare_detail": ["a prosthetic leg", "a guide dog", "albinism", "a tracheostomy"],
}
# Organisations whose name ends in an organisation word, for "X of Kōkiri Marae".
SUFFIXED_ORGS = ["Kōkiri Marae", "Te Whare Awhina Trust", "Mahitahi Collective",
                 "City Centre Social Services", "Tuvalu Community Trust", "Waipareira Trust"]
CARS = ["silver Corolla", "blue Mazda", "white Hilux", "red Honda Fit", "van", "old Falcon"]


# -- the builder ------------------------------------------------------------------------------

@dataclass
class Story:
    text: str
    identifiers: list[tuple[str, int, int]]  # (kind, start, end) of every direct identifier
    quasi: list[tuple[str, int, int]]        # quasi-identifiers the reviewer should see
    names: list[str] = field(default_factory=list)  # every name used, for held-out figures
    held_out: list[tuple[str, int, int]] = field(default_factory=list)  # HELD_OUT words used


class _Builder:
    def __init__(self):
        self.parts: list[str] = []
        self.length = 0
        self.identifiers: list[tuple[str, int, int]] = []
        self.quasi: list[tuple[str, int, int]] = []
        self.held_out: list[tuple[str, int, int]] = []

    def add(self, text: str, kind: str | None = None, quasi: str | None = None):
        for pool, held in HELD_OUT.items():
            if text in held:
                self.held_out.append((pool, self.length, self.length + len(text)))
        if kind:
            self.identifiers.append((kind, self.length, self.length + len(text)))
        if quasi:
            self.quasi.append((quasi, self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)


class _Person:
    def __init__(self, rng: random.Random, group: str | None = None, sex: str | None = None):
        self.group = group or rng.choice(GROUPS)
        self.sex = sex or rng.choice("fm")
        self.given = rng.choice(GIVEN[f"{self.group}_{self.sex}"])
        self.family = rng.choice(FAMILY[self.group])


def _digits(rng, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def nhi(rng: random.Random, new_format: bool | None = None) -> str:
    """A random NHI number with a correct check digit (old or new format)."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    value = {c: i + 1 for i, c in enumerate(letters)}
    new = rng.random() < 0.4 if new_format is None else new_format
    while True:
        head = "".join(rng.choice(letters) for _ in range(3)) + _digits(rng, 2)
        head += rng.choice(letters) if new else _digits(rng, 1)
        total = sum((value[c] if c.isalpha() else int(c)) * w
                    for c, w in zip(head, (7, 6, 5, 4, 3, 2)))
        if new:
            return head + letters[24 - total % 24 - 1]
        if total % 11:
            return head + str((11 - total % 11) % 10)


def ird(rng: random.Random) -> str:
    """A random IRD number (8 or 9 digits, 10,000,000 to 150,000,000) with a correct check digit."""
    while True:
        number = rng.randint(10_000_000, 149_999_999) // 10
        base = [int(d) for d in str(number).zfill(8)]
        for weights in ((3, 2, 7, 6, 5, 4, 3, 2), (7, 4, 3, 2, 5, 2, 7, 6)):
            remainder = sum(d * w for d, w in zip(base, weights)) % 11
            check = 0 if remainder == 0 else 11 - remainder
            if check != 10:
                break
        if check == 10:
            continue
        digits = str(number * 10 + check)
        if 10_000_000 <= int(digits) <= 150_000_000:
            return digits


def _ird_text(rng, digits: str) -> str:
    shape = rng.choice(["dashed", "spaced", "plain"])
    if len(digits) == 8:
        parts = (digits[:2], digits[2:5], digits[5:])
    else:
        parts = (digits[:3], digits[3:6], digits[6:])
    return {"dashed": "-".join(parts), "spaced": " ".join(parts), "plain": digits}[shape]


def phone(rng: random.Random) -> str:
    """A number in a range the NZ numbering plan assigns (libphonenumber's NZ
    metadata says which), written as people write them."""
    while True:
        number = _phone(rng)
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "NZ")):
            return number


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.6:
        prefix = rng.choice(["21", "22", "27", "29"])
        rest = str(rng.randint(2, 9)) + _digits(rng, 6)
        shape = rng.choice(["space", "dash", "plain", "intl", "intl_tight", "paren"])
        return {"space": f"0{prefix} {rest[:3]} {rest[3:]}", "dash": f"0{prefix}-{rest[:3]}-{rest[3:]}",
                "plain": f"0{prefix}{rest}", "intl": f"+64 {prefix} {rest[:3]} {rest[3:]}",
                "intl_tight": f"+64{prefix}{rest}", "paren": f"(0{prefix}) {rest[:3]} {rest[3:]}"}[shape]
    area = rng.choice(["3", "4", "6", "7", "9"])
    rest = str(rng.randint(2, 9)) + _digits(rng, 6)
    shape = rng.choice(["paren", "space", "dash", "intl"])
    return {"paren": f"(0{area}) {rest[:3]} {rest[3:]}", "space": f"0{area} {rest[:3]} {rest[3:]}",
            "dash": f"0{area}-{rest[:3]} {rest[3:]}", "intl": f"+64 {area} {rest[:3]} {rest[3:]}"}[shape]


def email(rng, person: _Person) -> str:
    given = person.given.lower().replace("ā", "a").replace("ō", "o").replace("ū", "u") \
        .replace("ē", "e").replace("ī", "i").replace("ʻ", "").replace(" ", "")
    family = person.family.lower().replace("'", "").replace(" ", "").replace("ā", "a") \
        .replace("ō", "o").replace("ū", "u").replace("ʻ", "")
    local = rng.choice([f"{given}.{family}", f"{given}{rng.randint(70, 99)}", f"{given}_{family[:1]}",
                        f"{family}.{given[:1]}", f"{given}{family}{rng.randint(1, 9)}"])
    return f"{local}@{rng.choice(['gmail.com', 'xtra.co.nz', 'hotmail.com', 'outlook.co.nz', 'yahoo.com'])}"


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def _date(rng, year_from: int, year_to: int) -> tuple[int, int, int]:
    return rng.randint(1, 28), rng.randint(1, 12), rng.randint(year_from, year_to)


def dob_phrase(rng) -> list[tuple[str, str | None]]:
    d, m, y = _date(rng, 1975, 2022)
    shape = rng.randint(0, 6)
    if shape == 0:
        return [("born on ", None), (f"{d} {MONTHS[m - 1]} {y}", "DOB")]
    if shape == 1:
        return [("DOB ", None), (f"{d:02d}/{m:02d}/{y}", "DOB")]
    if shape == 2:
        return [("date of birth: ", None), (f"{y}-{m:02d}-{d:02d}", "DOB")]
    if shape == 3:
        return [("d.o.b. ", None), (f"{d}/{m}/{str(y)[2:]}", "DOB")]
    if shape == 4:
        return [("birthday is ", None), (f"{d} {MONTHS[m - 1]}", "DOB")]
    if shape == 5:
        return [("born in ", None), (f"{MONTHS[m - 1]} {y}", "DOB")]
    return [("born ", None), (f"{MONTHS[m - 1]} {d}, {y}", "DOB")]


def address(rng) -> str:
    street = f"{rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
    number = f"{rng.randint(1, 420)}{rng.choice(['', '', '', 'A', 'B'])}"
    shape = rng.randint(0, 7)
    if shape == 0:
        return f"{number} {street}"
    if shape == 1:
        return f"{rng.randint(1, 9)}/{number} {street}, {rng.choice(SUBURBS)}"
    if shape == 2:
        return f"Flat {rng.randint(1, 12)}, {number} {street}, {rng.choice(SUBURBS)}"
    if shape == 3:
        return f"{number} {street}, {rng.choice(SUBURBS)}, {rng.choice(CITIES)} {rng.randint(1010, 9893)}"
    if shape == 4:
        return f"{rng.randint(100, 4999)} State Highway {rng.choice([1, 2, 5, 35, 12])}, RD {rng.randint(1, 9)}, {rng.choice(TOWNS)}"
    if shape == 5:
        return f"RD {rng.randint(1, 9)}, {rng.choice(TOWNS)}"
    if shape == 6:
        return f"PO Box {rng.randint(10, 9999)}, {rng.choice(TOWNS + CITIES)}"
    return f"Unit {rng.randint(1, 30)}, {number} {street}"


def client_number(rng) -> list[tuple[str, str | None]]:
    shape = rng.randint(0, 4)
    if shape == 0:
        return [("client number ", None), (_digits(rng, rng.randint(5, 9)), "CLIENT_NUMBER")]
    if shape == 1:
        return [("MSD client number ", None), (f"{_digits(rng, 3)} {_digits(rng, 3)} {_digits(rng, 3)}", "CLIENT_NUMBER")]
    if shape == 2:
        return [("case no. ", None), (f"OT-{rng.randint(2018, 2025)}-{_digits(rng, 4)}", "CLIENT_NUMBER")]
    if shape == 3:
        return [("our file ", None), (f"CCSS-{rng.randint(2019, 2025)}-{_digits(rng, 4)}", "CLIENT_NUMBER")]
    return [("file number ", None), (_digits(rng, 6), "CLIENT_NUMBER")]


def plate(rng) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    if rng.random() < 0.8:
        return "".join(rng.choice(letters) for _ in range(3)) + _digits(rng, 3)
    return rng.choice(["MOANA", "TAMA", "SIONE", "BRO", "NANA", "KIWI"]) + str(rng.randint(1, 9))


# -- sentences -------------------------------------------------------------------------------
#
# A sentence is a list of pieces: plain text, or a tuple (slot, ...). Slots are
# filled per story from its cast and the pools above.

def _sentences():
    return {
        "intro": [
            ["{A_full} came to ", "{org}", " in ", "{month_year}", " with ", "{n}", " tamariki under five."],
            ["{A} was referred to us by ", "{role}", " after a hard winter."],
            ["When ", "{A}", " first walked into ", "{org}", ", ", "{pro}", " did not want to talk to anyone."],
            ["Our kaimahi met ", "{A_full}", " at the marae during a hui about housing."],
            ["Referral: ", "{A_full}", ", ", "{dob}", ", ", "{nhi}", "."],
            ["{title_A}", " rang our office in ", "{month_year}", " asking about ", "{programme}", "."],
            ["This is the story of a whānau from ", "{city}", ", shared with their permission."],
            ["{A}", "'s whānau had moved between three motels in a year before ", "{org}", " stepped in."],
            ["We first heard from ", "{A}", " through ", "{role}", ", who was worried about the tamariki."],
            ["{A_full}", " ", "{age_phrase}", " and raising ", "{n}", " children on ", "{pro_poss}", " own."],
        ],
        "family": [
            ["{pro_cap}", " lives with ", "{pro_poss}", " partner ", "{P}", " and their ", "{kids}", "."],
            ["{pro_poss_cap}", " eldest, ", "{C1}", ", ", "{age_phrase}", ", had stopped going to school."],
            ["{C1}", " and ", "{C2}", " are at ", "{school}", "."],
            ["{A}", "'s nan, ", "{title_N}", ", looks after the mokopuna after school."],
            ["{pro_poss_cap}", " son ", "{C1}", " loves kapa haka and waiata."],
            ["The kids' dad, ", "{P_full}", ", ", "{work}", "."],
            ["{pro_cap}", " has a daughter named ", "{C2}", " who was ", "{dob}", "."],
            ["{P}", " ", "{work}", " and only sees the kids on weekends."],
            ["Their youngest, ", "{C2}", ", has ", "{rare}", "."],
            ["{A}", " and ", "{P}", " have been together since school."],
            ["{P}", " works for ", "{W_full}", " now, on the farm."],
            ["{pro_cap}", " got a job with ", "{W_full}", " last spring."],
            ["Koro ", "{N}", " comes to every session and does the karakia."],
            ["{pro_poss_cap}", " sister ", "{S_full}", " moved up from ", "{town}", " to help."],
        ],
        "hardship": [
            ["The whare was cold and damp, and ", "{C1}", " was in hospital twice with asthma."],
            ["They owed ", "{amount}", " in rent arrears and had ", "{amount}", " a week left for kai."],
            ["{A}", " lost ", "{pro_poss}", " job at ", "{workplace}", " when the plant closed."],
            ["After the flood in ", "{town}", ", the family lived in their ", "{car}", " for ", "{n}", " weeks."],
            ["{pro_cap}", " told ", "{role}", ": \"I didn't know where else to go.\""],
            ["There were ", "{n}", " people sleeping in a two-bedroom whare."],
            ["Things got worse after ", "{rare}", " in ", "{event_date}", "."],
        ],
        "contact": [
            ["{pro_poss_cap}", " phone is ", "{phone}", " and email ", "{email}", "."],
            ["You can reach ", "{A}", " on ", "{phone}", "."],
            ["Address on file: ", "{address}", "."],
            ["The family now lives at ", "{address}", "."],
            ["{pro_cap}", " moved to ", "{address}", " in ", "{month_year}", "."],
            ["Mail goes to ", "{address}", "."],
            ["If ", "{pro}", " misses a session we text ", "{phone}", " or ring ", "{P}", " on ", "{phone}", "."],
            ["{A}", " emailed us from ", "{email}", " to say thanks."],
            ["They live on ", "{street}", ", near the shops."],
            ["Helpline numbers we gave: Healthline ", "{freephone}", " and Work and Income ", "{freephone}", "."],
        ],
        "ids": [
            ["{A}", "'s NHI is ", "{nhi_bare}", " and ", "{pro_poss}", " IRD number is ", "{ird}", "."],
            ["Work and Income ", "{client_no}", " was used for the hardship grant."],
            ["{pro_poss_cap}", " ", "{client_no}", "."],
            ["{C1}", " (NHI ", "{nhi_bare}", ") was seen by ", "{role}", " in ", "{event_date}", "."],
            ["The car, a ", "{car}", " with plate ", "{plate}", ", was towed in ", "{month_year}", "."],
            ["{P}", " drives a ", "{car}", ", ", "{plate_bare}", "."],
            ["IRD ", "{ird}", " was updated for Working for Families."],
            ["We checked the tax number ", "{ird}", " with ", "{A}", "."],
            ["The stock code on the food parcel was ", "{bad_nhi}", ", and the voucher was for ", "{amount}", "."],
        ],
        "voice": [
            ["\"I was scared they would take my babies,\" ", "{A}", " told us."],
            ["In ", "{A}", "'s words: \"", "{programme}", " was the first place nobody judged me.\""],
            ["\u2014 ", "{A}", ", mum of ", "{n}", "."],
            ["Aroha is what got this whānau through, and ", "{A}", " says so every week."],
            ["Kōrero with ", "{A}", " and ", "{P}", " happened at their kitchen table."],
            ["{A}", " quickly became the one other parents rang for advice."],
            ["Mum said \"", "{C1}", " is settled now\" at the last hui."],
            ["{A}", " and ", "{org}", " agreed on a plan for the winter."],
            ["{W_full}", " of ", "{suffixed_org}", " rang us about the whānau."],
            ["For ", "{C1}", ", the best part was the kai and the waiata."],
            ["The ", "{family}", " whānau have been coming to the marae for ", "{n}", " years."],
            ["{A}", ", ", "{C1}", " and ", "{C2}", " went to the Matariki hui together."],
            ["Her tamariki (", "{C1}", ", ", "{C2}", ") stayed with ", "{title_N}", " that week."],
            ["{pro_cap}", " asked us to call ", "{pro_poss}", " boy ", "{C1}", " by his nickname, ", "{nick}", "."],
            ["Our navigator, ", "{W}", ", visited ", "{n}", " times over the winter."],
            ["{W_full}", " from ", "{org}", " wrote the referral."],
        ],
        "progress": [
            ["Through ", "{programme}", ", ", "{A}", " set ", "{n}", " goals and met ", "{n}", " of them."],
            ["{A}", " says the kōrero with other parents made the biggest difference."],
            ["{A}", " now volunteers at ", "{org}", " two days a week."],
            ["{C1}", " is back at school and ", "{pro}", " was made a prefect this year."],
            ["With help from ", "{role}", ", they paid off ", "{amount}", " of debt."],
            ["\"", "{programme}", " gave me my mana back,\" said ", "{A}", "."],
            ["{pro_cap}", " finished all ", "{n}", " sessions of ", "{programme}", " in ", "{city}", "."],
            ["In ", "{event_date}", ", ", "{A}", " signed a lease with ", "{org}", "."],
            ["{A}", " started work at ", "{workplace}", " and the whānau moved out of the motel."],
            ["{title_A}", " says ", "{C2}", " sleeps through the night now."],
            ["{A}", " ", "{age_phrase}", " and has just enrolled in a te reo class at the wānanga."],
            ["Attendance went from ", "{n}", " to ", "{n}", " sessions a term, and ", "{n}", " whānau joined the hui."],
        ],
        "closing": [
            ["{A}", " agreed to share this story so other whānau know help is there."],
            ["The tamariki are thriving and the whare is warm."],
            ["{A}", "'s advice to other parents: \"Ask for help early.\""],
            ["Our team is proud of this whānau and the aroha they show each other."],
            ["{role_cap}", " closed the case in ", "{month_year}", " with all goals met."],
            ["We still see ", "{A}", " at the marae, helping with the kai."],
        ],
    }


def _pick(rng, listed: list[str], pool: str) -> str:
    """From the listed pool, or about a third of the time from the held-out one."""
    return rng.choice(HELD_OUT[pool] if rng.random() < 0.33 else listed)


def _fill(rng, slot: str, cast: dict) -> list[tuple[str, str | None, str | None]]:
    """The pieces a slot becomes: (text, identifier kind, quasi kind)."""
    a, p, n, s = cast["A"], cast["P"], cast["N"], cast["S"]
    if slot in ("A", "P", "N", "C1", "C2"):
        return [(cast[slot].given, "NAME", None)]
    if slot in ("A_full", "P_full", "S_full"):
        person = cast[slot[0]]
        return [(f"{person.given} {person.family}", "NAME", None)]
    if slot == "title_A":
        return [("Mrs " if a.sex == "f" else "Mr ", None, None), (a.family, "NAME", None)]
    if slot == "title_N":
        return [(rng.choice(["Whaea ", "Nana ", "Aunty "]), None, None), (n.given, "NAME", None)]
    if slot == "family":
        return [(a.family, "NAME", None)]
    if slot == "nick":
        return [(rng.choice(["Bubba", "Junior", "Boy", "Tama", "Moko", "Bro", "Pēpi"]), "NAME", None)]
    if slot in ("W", "W_full"):
        w = cast["W"]
        return [(w.given if slot == "W" else f"{w.given} {w.family}", "NAME", None)]
    if slot == "kids":
        return [("two boys, ", None, None), (cast["C1"].given, "NAME", None), (" and ", None, None),
                (cast["C2"].given, "NAME", None)]
    pronoun = {"f": ("she", "her"), "m": ("he", "his")}[a.sex]
    if slot in ("pro", "pro_cap"):
        return [(pronoun[0].capitalize() if slot.endswith("cap") else pronoun[0], None, None)]
    if slot in ("pro_poss", "pro_poss_cap"):
        return [(pronoun[1].capitalize() if slot.endswith("cap") else pronoun[1], None, None)]
    if slot == "org":
        return [(_pick(rng, ORGS, "org"), None, None)]
    if slot == "suffixed_org":
        return [(rng.choice(SUFFIXED_ORGS), None, None)]
    if slot == "programme":
        return [(rng.choice(PROGRAMMES), None, None)]
    if slot in ("role", "role_cap"):
        role = rng.choice(ROLES)
        return [(role[0].upper() + role[1:] if slot == "role_cap" else role, None, None)]
    if slot == "city":
        return [(rng.choice(CITIES), None, None)]
    if slot == "town":
        return [(_pick(rng, TOWNS, "place"), None, "place")]
    if slot == "school":
        return [(_pick(rng, SCHOOLS, "school"), None, "school")]
    if slot == "workplace":
        return [(_pick(rng, WORKPLACES, "workplace"), None, "workplace")]
    if slot == "work":
        return [(rng.choice(["works at ", "has a job at ", "works nights at "]), None, None),
                (_pick(rng, WORKPLACES, "workplace"), None, "workplace")]
    if slot == "rare":
        return [(_pick(rng, RARE, "rare_detail"), None, "rare_detail")]
    if slot == "age_phrase":
        age = rng.randint(4, 58)
        return [(rng.choice([f"is {age} years old", f"aged {age}", f"is a {age}-year-old",
                             f"turned {age} this year"]), None, "age")]
    if slot == "n":
        return [(str(rng.randint(2, 12)), None, None)]
    if slot == "amount":
        return [(rng.choice([f"${rng.randint(20, 900)}", f"${rng.randint(1, 9)},{rng.randint(100, 999)}",
                             f"{rng.randint(2, 40)} dollars"]), None, None)]
    if slot == "month_year":
        return [(f"{rng.choice(MONTHS)} {rng.randint(2019, 2025)}", None, None)]
    if slot == "event_date":
        d, m, y = _date(rng, 2019, 2025)
        return [(rng.choice([f"{d} {MONTHS[m - 1]} {y}", f"{d}/{m}/{y}"]), None, "date")]
    if slot == "dob":
        return [(t, k, None) for t, k in dob_phrase(rng)]
    if slot == "nhi":
        return [("NHI ", None, None), (nhi(rng), "NHI", None)]
    if slot == "nhi_bare":
        return [(nhi(rng), "NHI", None)]
    if slot == "bad_nhi":  # the shape of an NHI but a wrong check digit, and no label: kept
        value = nhi(rng, new_format=False)
        return [(value[:6] + str((int(value[6]) + 1) % 10), None, None)]
    if slot == "ird":
        return [(_ird_text(rng, ird(rng)), "IRD", None)]
    if slot == "phone":
        return [(phone(rng), "PHONE", None)]
    if slot == "freephone":
        return [(rng.choice(FREEPHONES), None, None)]
    if slot == "email":
        return [(email(rng, rng.choice([a, p, s])), "EMAIL", None)]
    if slot == "address":
        return [(address(rng), "ADDRESS", None)]
    if slot == "street":
        return [(f"{rng.choice(STREETS)} {rng.choice(STREET_TYPES)}", "ADDRESS", None)]
    if slot == "client_no":
        return [(t, k, None) for t, k in client_number(rng)]
    if slot == "plate":
        return [(plate(rng), "PLATE", None)]
    if slot == "plate_bare":
        return [("rego ", None, None), (plate(rng), "PLATE", None)]
    if slot == "car":
        return [(rng.choice(CARS), None, None)]
    raise KeyError(slot)


def _story(rng: random.Random) -> Story:
    group = rng.choice(GROUPS)
    # Families are often, not always, of one background.
    cast = {"A": _Person(rng, group), "P": _Person(rng, group if rng.random() < 0.7 else None),
            "N": _Person(rng, group, "f"), "S": _Person(rng, group, "f"),
            "C1": _Person(rng, group), "C2": _Person(rng, group), "W": _Person(rng)}
    if rng.random() < 0.05:  # a child named after a place ("her son Nelson")
        cast["C1"].given = rng.choice(["Nelson", "Napier", "Hastings"])
    for child in ("C1", "C2"):
        cast[child].family = cast["A"].family
    while cast["C2"].given == cast["C1"].given:
        cast["C2"] = _Person(rng, group)
    shapes = _sentences()
    plan = ["intro"]
    plan += rng.sample(["family", "family", "hardship", "contact", "contact", "ids", "progress",
                        "progress", "hardship", "ids", "voice", "voice"], rng.randint(3, 8))
    plan.append("closing")
    b = _Builder()
    used = set()
    for i, section in enumerate(plan):
        choices = [s for s in shapes[section] if id(s) not in used] or shapes[section]
        sentence = rng.choice(choices)
        used.add(id(sentence))
        if i:
            b.add("\n\n" if rng.random() < 0.25 else " ")
        for piece in (p for whole in sentence for p in re.split(r"(\{\w+\})", whole) if p):
            if piece.startswith("{") and piece.endswith("}"):
                for text, kind, quasi in _fill(rng, piece[1:-1], cast):
                    b.add(text, kind, quasi)
            else:
                b.add(piece)
    text = "".join(b.parts)
    names = sorted({p.given for p in cast.values()} | {p.family for p in cast.values()})
    return Story(text, b.identifiers, b.quasi, names, b.held_out)


def stories(n: int = 240, seed: int = 20260401) -> list[Story]:
    """`n` labelled stories; the same ones for the same seed."""
    rng = random.Random(seed)
    return [_story(rng) for _ in range(n)]


if __name__ == "__main__":  # a look at a few
    for story in stories(3):
        print(story.text, "\n", story.identifiers, "\n")
