"""A quick self-test of the redaction engine, run by ``process-test``."""

from __future__ import annotations

from collector.preflight.inspect import Finding
from redaction import Redactor

SECRETS = {
    b"db_password = Hunter2Secret\n": b"Hunter2Secret",
    b"url = postgres://app:PgS3cretPw@db:5432/x\n": b"PgS3cretPw",
    b"Authorization: Bearer abcdefghijklmnop.qrstuv\n": b"abcdefghijklmnop.qrstuv",
    b"aws_key = AKIAABCDEFGHIJKLMNOP\n": b"AKIAABCDEFGHIJKLMNOP",
}
SURVIVORS = (b"password_encryption = scram-sha-256\n", b"token_ttl = 3600\n", b"version 5.3.4.112\n")


def redaction_selftest() -> Finding:
    redactor = Redactor()
    stream = redactor.stream("selftest")
    text = b"".join(SECRETS) + b"".join(SURVIVORS)
    out = stream.feed(text) + stream.close()
    leaks = [s.decode() for s in SECRETS.values() if s in out]
    lost = [s.decode().strip() for s in SURVIVORS if s not in out]
    if leaks or lost:
        return Finding("-", "redaction", "fail", f"self-test: {len(leaks)} secret(s) leaked, {len(lost)} harmless "
                       "line(s) altered", "report this to the casepack maintainers; do not send bundles")
    return Finding("-", "redaction", "pass", f"self-test: {len(SECRETS)} planted secrets removed, "
                   f"{len(SURVIVORS)} look-alikes kept")
