"""The Agency units' SDK: consume your own queue, keep what arrives in your own
store, acknowledge it to the ledger, record who used it and what it informed.
It needs only tiaki.core, tiaki.connect and the published contracts, so a unit
installs it without the services (tests/unit/test_unit_sdk_alone.py).

- tiaki.unit.client: UnitClient, the consumer and the calls a unit makes;
- tiaki.unit.store: UnitStore, the unit's own database;
- tiaki.unit.checks: message_problem (what is parked unread) and the
  reference unit's correction rule;
- `python -m tiaki.unit --unit ID ...` runs a reference unit."""
