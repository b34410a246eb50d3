"""How the portal finds a programme's drafts without a list call: versions
asked for one by one, a version made outside co-design (a plan, no draft)
passed over, a draft the organisation is not invited to left out, and the
first version with neither a draft nor a plan ending the list."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.portal.codesign import drafts_of
from tiaki.router.v1 import codesign_pb2 as cpb


class Refused(grpc.RpcError):
    def __init__(self, code):
        self._code = code

    def code(self):
        return self._code


class Codesign:
    """GetDraft and DiffPlan over versions 1..n, each "draft", "plan" (made
    outside co-design), "theirs" (a draft this organisation is not in)."""

    def __init__(self, versions: list[str]):
        self.versions = versions
        self.asked: list[int] = []

    def GetDraft(self, request):
        self.asked.append(request.version)
        kind = self._kind(request.version)
        if kind == "draft":
            return cpb.GetDraftResponse(draft=cpb.Draft(programme_id=request.programme_id,
                                                        version=request.version,
                                                        state=cpb.DRAFT_STATE_DRAFT))
        raise Refused(grpc.StatusCode.PERMISSION_DENIED if kind == "theirs"
                      else grpc.StatusCode.NOT_FOUND)

    def DiffPlan(self, request):
        if self._kind(request.version) is None:
            raise Refused(grpc.StatusCode.NOT_FOUND)
        return cpb.DiffPlanResponse(version=request.version)

    def _kind(self, version: int):
        return self.versions[version - 1] if 0 < version <= len(self.versions) else None


class Visit:
    def __init__(self, codesign):
        self.codesign = codesign

    def call(self, service: str):
        assert service == "codesign"
        return self.codesign


@given(st.lists(st.sampled_from(["draft", "plan", "theirs"]), max_size=12))
def test_every_draft_the_organisation_takes_part_in_is_listed_newest_first(versions):
    codesign = Codesign(versions)
    listed = [d["version"] for d in drafts_of(Visit(codesign), "bff")]
    assert listed == [v for v in range(len(versions), 0, -1) if versions[v - 1] == "draft"]
    assert max(codesign.asked) == len(versions) + 1  # one past the last, then it stops


def test_a_service_that_is_down_is_not_taken_for_the_end_of_the_list():
    class Down(Codesign):
        def GetDraft(self, request):
            raise Refused(grpc.StatusCode.UNAVAILABLE)

    with pytest.raises(grpc.RpcError):
        drafts_of(Visit(Down(["draft"])), "bff")
