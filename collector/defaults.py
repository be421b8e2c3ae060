"""Facts decided once: default time window, timeouts, parallelism, outcome sets.

Every module that needs one of these imports it from here; docs and ``--help``
quote these values.
"""

from __future__ import annotations

DEFAULT_WINDOW = 24 * 3600  # seconds: the time window when neither --since nor the case file gives one
CONNECT_TIMEOUT = 10.0  # seconds to reach a host over SSH (ssh_config ConnectTimeout / inventory override it)
HOST_JOBS = 4  # hosts collected at once (-j)
ARTIFACT_JOBS = 4  # artifacts collected at once on one host (each SSH command costs a round trip)
MAX_FILE_SIZE = "256MiB"  # per-file cap; logs keep their newest part
PROCESS_TEST_TIMEOUT = 20.0  # seconds a command may run during process-test

# artifact outcomes, as recorded in the manifest and predicted by process-test
STATUSES = ("ok", "missing", "skipped", "denied", "failed", "timed_out", "interrupted")
FAILED = frozenset({"missing", "denied", "failed", "timed_out", "interrupted"})  # make a run partial unless optional
INTERRUPT_GRACE = 1.2  # seconds collect waits for its workers after Ctrl-C/SIGTERM before writing what it has
