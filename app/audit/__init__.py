"""The append-only audit log: who changed or revealed what, when, from where."""
