"""The portal's sign-in rules: who may have an account with which roles, the
password, the second factor (a code works once), and the lockout's clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pyotp
import pytest

from services.portal import accounts
from services.portal.auth import RateLimit
from services.portal.storage import PortalStore
from tiaki.core.errors import Invalid

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone.utc)
PASSWORD = "a long enough passphrase"


def person(roles=("privacy-officer",), kind="provider"):
    return accounts.new_staff("aroha.ngata", "Aroha Ngata", kind, "ccss", list(roles), PASSWORD)


def test_the_password_is_kept_only_as_an_argon2id_hash():
    staff = person()
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash
    assert accounts.password_ok(staff, PASSWORD)
    assert not accounts.password_ok(staff, PASSWORD + "x")


@pytest.mark.parametrize("staff_id, roles, kind, password, field", [
    ("Aroha", ["privacy-officer"], "provider", PASSWORD, "id"),
    ("a b", ["privacy-officer"], "provider", PASSWORD, "id"),
    ("aroha", [], "provider", PASSWORD, "roles"),
    ("aroha", ["wizard"], "provider", PASSWORD, "roles"),
    ("aroha", ["analyst"], "provider", PASSWORD, "roles"),  # an Agency role in a provider
    ("aroha", ["privacy-officer"], "provider", "short", "password"),
    ("aroha", ["privacy-officer"], "provider", PASSWORD + " not-an-address", "email"),
])
def test_an_account_that_is_not_allowed_is_refused_naming_the_field(staff_id, roles, kind,
                                                                      password, field):
    password, _, email = password.partition(" not-")
    with pytest.raises(Invalid) as refused:
        accounts.new_staff(staff_id, "", kind, "ccss", roles, password, email and "not-" + email)
    assert refused.value.field == field


def test_every_role_that_sees_families_information_needs_the_second_factor():
    assert person().needs_second_factor
    assert not person(("board-member",)).needs_second_factor
    assert person(("board-member", "reporting-admin")).needs_second_factor
    assert {r.name for r in accounts.ROLES.values() if not r.second_factor} == {"board-member"}


def test_a_code_works_once_and_only_near_its_time():
    staff = person()
    totp = pyotp.TOTP(staff.totp_secret)
    step = accounts.code_step(staff, totp.at(NOW), NOW)
    assert step == totp.timecode(NOW)
    assert accounts.code_step(replace(staff, last_code_step=step), totp.at(NOW), NOW) is None
    assert accounts.code_step(staff, totp.at(NOW - dt.timedelta(seconds=30)), NOW) is not None
    assert accounts.code_step(staff, totp.at(NOW - dt.timedelta(minutes=5)), NOW) is None
    assert accounts.code_step(staff, "000000" if totp.at(NOW) != "000000" else "111111", NOW) is None


def test_a_lock_lasts_until_its_time():
    staff = replace(person(), locked_until=(NOW + accounts.LOCK_FOR).isoformat())
    assert staff.locked(NOW)
    assert staff.locked(NOW + accounts.LOCK_FOR - dt.timedelta(seconds=1))
    assert not staff.locked(NOW + accounts.LOCK_FOR)
    assert not person().locked(NOW)


class Counters:
    """Collection's counters (`tally`, `delete_many` of the expired), in memory."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.expires: dict[str, str] = {}

    def tally(self, key, expires):
        self.counts[key] = self.counts.get(key, 0) + 1
        self.expires[key] = expires
        return self.counts[key]

    def delete_many(self, query):
        gone = [k for k, e in self.expires.items() if e <= query["expires"]["$lte"]]
        for key in gone:
            del self.counts[key], self.expires[key]
        return len(gone)


def test_sign_in_posts_are_limited_per_address_per_window():
    store = PortalStore()
    store.counters = Counters()
    limit = RateLimit(store, "sign-in", 3)
    assert [limit.allow("10.0.0.1", NOW) for _ in range(4)] == [True, True, True, False]
    assert limit.allow("10.0.0.2", NOW), "another address has its own count"
    assert not limit.allow("10.0.0.1", NOW + dt.timedelta(seconds=59)), "the same minute"
    assert limit.allow("10.0.0.1", NOW + dt.timedelta(seconds=60)), "the next minute it may try again"
    assert len(store.counters.counts) == 1, "the first count of a minute forgets the minutes past"
