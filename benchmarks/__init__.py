"""Benchmarks and development tools, not part of the installed package: ``python -m benchmarks NAME``
from the repository root.  Each prints measured numbers and the machine; the results kept in the
repository are under ``benchmarks/results``."""
