"""Stand-ins for outside systems, for `wengang dev` and the tests: never used in production."""
