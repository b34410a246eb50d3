"""The directory: providers', the Agency's and its units' names and contact
details, as families read them (domain.py the rules, storage.py the store)."""

from services.purpose_router.directory.storage import DirectoryStorage

__all__ = ["DirectoryStorage"]
