"""The Agency units' SDK: consume your own queue, keep what arrives in your own
store, acknowledge it to the ledger, record who used it and what it informed.
It needs only tiaki.core, tiaki.connect and the published contracts."""
