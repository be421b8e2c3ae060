"""Write tests/data/report_golden.json: what the report scanner of a given casepack tree makes of
tests/reportlogs.py's logs and of the sample bundle.

    git archive 8bf2126 | tar -x -C /tmp/old      # the scanner before issue 16
    PYTHONPATH=/tmp/old python3 tests/data/make_report_golden.py

The golden file was made this way from 8bf2126 (the line-by-line scanner); tests/test_report_scan.py
checks that the current scanner gives exactly the same tables.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
spec = importlib.util.spec_from_file_location("reportlogs", ROOT / "tests" / "reportlogs.py")
assert spec and spec.loader
reportlogs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reportlogs)

from collector.report import build_report, load_source  # noqa: E402  (from PYTHONPATH: the tree under test)
from collector.report.logscan import LogScanner  # noqa: E402


def main() -> None:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        scanner = LogScanner(2026)
        for host, path in reportlogs.write_logs(Path(tmp)):
            scanner.scan_file(path, host, path.name)
        out["generated"] = reportlogs.dump_scan(scanner, ["n1", "n2"])
    bundle = sorted((ROOT / "sample_bundles").glob("casepack-demo-*.tar.zst.age"))[0]
    with load_source(bundle, identity=str(ROOT / "sample_bundles" / "demo-identity.txt")) as src:
        analysis = build_report(src, top=1000)
    rep = analysis.report
    out["sample_bundle"] = {"bundle": bundle.name, "errors": rep["errors"], "timeline": rep["timeline"],
                            "locations": [[s.id, [list(x) for x in s.locations]] for s in analysis.signatures.ranked()]}
    # one signature per line: a difference shows as a few changed lines
    text = json.dumps(out, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    (HERE / "report_golden.json").write_text(text.replace('},{"count"', '},\n{"count"') + "\n")
    print(f"{HERE / 'report_golden.json'}: {len(out['generated']['signatures'])} + "
          f"{len(rep['errors']['signatures'])} signatures", file=sys.stderr)


if __name__ == "__main__":
    main()
