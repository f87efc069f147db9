"""The content-addressed store: immutable environments, artifacts by sha256, roots, leases, GC."""
