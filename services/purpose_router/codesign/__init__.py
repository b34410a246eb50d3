"""Co-design of plan versions and providers' item-by-item agreements: the rules
(rules.py, agreement.py, family_document.py), their store (storage.py) and
the CodesignService and AgreementService entrypoints (entrypoints.py)."""

from services.purpose_router.codesign.storage import CodesignStorage, Draft, Terms

__all__ = ["CodesignStorage", "Draft", "Terms"]
