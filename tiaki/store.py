"""The store connection each service opens for its own database."""

from __future__ import annotations

import mongoengine
from nameko import config
from nameko.extensions import DependencyProvider


def connect(uri: str, alias: str = "default"):
    # uuidRepresentation is explicit so ids read back the same on MongoDB and the embedded store.
    return mongoengine.connect(host=uri, alias=alias, uuidRepresentation="standard", tz_aware=True)


class Storage(DependencyProvider):
    """Opens the service's database in setup() and hands each worker the
    service's storage object (its small domain API)."""

    def __init__(self, storage_class):
        self.storage_class = storage_class

    def setup(self):
        connect(config["MONGO_URI"])
        self.storage = self.storage_class()
        self.storage.ensure_indexes()

    def stop(self):
        mongoengine.disconnect()

    def get_dependency(self, worker_ctx):
        return self.storage
