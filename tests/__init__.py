"""The test suite (a package, so that test helpers such as ``tests.faults`` import by one name everywhere:
in pytest, in Ray workers and in simulator child processes started from the repository root)."""
