"""The scanner's survey (one hyperscan pass also telling whether a key end line or a twilio key may be
in a block) must redact exactly what the separate passes did: the pure scanner still makes them."""

from __future__ import annotations

import random
import re

import pytest

from redaction import Redactor

try:
    import hyperscan  # noqa: F401

    HAVE_HYPERSCAN = True
except ImportError:  # pragma: no cover
    HAVE_HYPERSCAN = False

KEY_TAIL = ("MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
            "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
            "-----END RSA PRIVATE KEY-----\n")


def _log(seed: int) -> bytes:
    rnd = random.Random(seed)
    lines = []
    for i in range(6000):
        pick = rnd.randrange(400)
        if pick == 0:
            lines.append(f"twilio sid SK{rnd.getrandbits(128):032x} sent")
        elif pick == 1:
            lines.append(f"account AC{rnd.getrandbits(128):032x},ok")
        elif pick == 2:
            lines.append(f"not a key xSK{rnd.getrandbits(128):032x} nor AC{rnd.getrandbits(120):030x}")
        elif pick == 3:
            lines.append(KEY_TAIL.rstrip("\n"))
        elif pick == 4:
            lines.append("Static key V1----- stray")
        else:
            lines.append(f"2026-12-01T10:00:{i % 60:02d} info: request {i} from 10.0.{i % 255}.1 took {pick}ms")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan not installed")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_survey_redacts_like_the_separate_passes(seed: int) -> None:
    data = KEY_TAIL.encode() + _log(seed)  # a tail starting inside a key: the headless-key path
    outs, audits = [], []
    for scanner in ("re", "hyperscan"):
        r = Redactor(salt=b"s", scanner=scanner)
        s = r.stream("var/log/app.log")
        step = 4096 + seed * 777  # blocks cut anywhere, keys and tokens across block boundaries
        outs.append(b"".join(s.feed(data[i:i + step]) for i in range(0, len(data), step)) + s.close())
        audits.append(s.audit)
    assert outs[0] == outs[1]
    assert audits[0] == audits[1]
    assert re.search(rb"(twilio sid |account )(SK|AC)[0-9a-f]{32}", outs[1]) is None
    assert b"[REDACTED:twilio-key" in outs[1] and b"[REDACTED:private-key" in outs[1]
    assert b"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun" not in outs[1]


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan not installed")
def test_survey_mask_reports_the_extras() -> None:
    r = Redactor(salt=b"s", scanner="hyperscan")
    plain = b"2026-12-01 info: nothing here\n" * 100
    starts, mask = r.scanner.survey(plain)
    assert (starts, mask) == ([], 0)
    _, mask = r.scanner.survey(plain + b"x\n" + KEY_TAIL.encode())
    assert mask & 1
    _, mask = r.scanner.survey(plain + b"id SK" + b"ab" * 16 + b"\n")
    assert mask & ~1 and not mask & 1


@pytest.mark.parametrize("scanner", ["re", "hyperscan"] if HAVE_HYPERSCAN else ["re"])
def test_audit_line_numbers_whatever_the_line_lengths(scanner: str) -> None:
    """Newlines are counted two ways (long lines: replace; short: count): the audit's line numbers stay exact."""
    rnd = random.Random(7)
    lines, expected = [], []
    for block in range(12):  # runs of long lines, of empty/short lines, and mixed
        for _ in range(rnd.randrange(200, 3000)):
            kind = block % 3
            width = (rnd.randrange(100, 400), rnd.randrange(0, 3), rnd.randrange(0, 200))[kind]
            if rnd.randrange(97) == 0:
                expected.append(len(lines) + 1)
                lines.append(f"connecting to postgres://app:S3cr{rnd.getrandbits(40):x}@db.internal/x " + "y" * width)
            else:
                lines.append("z" * width)
    data = ("\n".join(lines) + "\n").encode()
    s = Redactor(salt=b"s", scanner=scanner).stream("var/log/app.log")
    for i in range(0, len(data), 65536):
        s.feed(data[i:i + 65536])
    s.close()
    assert [a["line"] for a in s.audit] == expected
