"""Redaction recall on the Debian-conffile corpus (issue 12): fetch, generate, score.

    python3 -m bench.redaction_corpus fetch                 # apt-get download + dpkg-deb -x, ≥ 150 packages
    python3 -m bench.redaction_corpus generate [--seed 12]  # /work/corpus/out/{tree,truth.json}
    python3 -m bench.redaction_corpus score [--engine-path /work/wt-redact] [--cli] [--json FILE]
    python3 -m bench.redaction_corpus all                   # the three in a row

See bench/corpus/README.md.
"""

from __future__ import annotations

import sys

from bench.corpus import fetch, plant, score

COMMANDS = {"fetch": fetch.main, "generate": plant.main, "score": score.main}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in (*COMMANDS, "all"):
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "all":
        return fetch.main([]) or plant.main([]) or score.main(rest)
    return COMMANDS[cmd](rest)


if __name__ == "__main__":
    sys.exit(main())
