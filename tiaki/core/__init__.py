"""tiaki's rules as plain code: the plan model, periods and NZ working days,
the ledger format, message names and shapes, records and pseudonym buckets,
de-identification, the error kinds, the clock. No I/O, and nothing of ours is
imported here (import-linter holds it in `make lint`)."""
