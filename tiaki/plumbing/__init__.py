"""What every service stands on: the store adapter (every embedded-store quirk
lives there), identity, the broker and dead-lettering, mutual TLS, metrics,
health, and the nameko/gRPC glue (one map from error kinds to gRPC statuses)."""
