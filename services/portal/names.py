"""Organisations as people read them: the directory's display names
(purpose_router's DirectoryService ListEntries) for providers and the Agency's
units, read once per page however many names it shows. A party with no entry,
or a directory that does not answer, is shown by its id: a page never fails
for want of a name.

    names = org_names(visit)
    names.provider("ccss")      # "City Centre Social Services"
    names.unit("evaluation")    # the unit's display name"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import grpc

from services.portal.web import Visit
from tiaki.router.v1 import directory_pb2 as dpb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Names:
    """Display names by (kind, id); an id with none is its own name."""
    by_key: dict[tuple[int, str], str] = field(default_factory=dict)
    answered: bool = True  # False: the directory did not answer (every name is an id)

    def provider(self, ident: str) -> str:
        return self.by_key.get((dpb.PARTY_KIND_PROVIDER, ident), ident)

    def unit(self, ident: str) -> str:
        return self.by_key.get((dpb.PARTY_KIND_UNIT, ident), ident)

    def providers(self) -> list[str]:
        """The ids of the providers in the directory."""
        return sorted(i for k, i in self.by_key if k == dpb.PARTY_KIND_PROVIDER)


def org_names(visit: Visit) -> Names:
    """The directory's names, read once per page (as the visiting organisation)."""
    if "names" not in visit.extra:
        try:
            entries = visit.call("directory").ListEntries(dpb.ListEntriesRequest()).entries
        except grpc.RpcError as exc:
            log.warning("directory names: %s; ids shown instead", exc.code().name)
            visit.extra["names"] = Names(answered=False)
        else:
            visit.extra["names"] = Names({(e.kind, e.id): e.display_name or e.id
                                          for e in entries})
    return visit.extra["names"]
