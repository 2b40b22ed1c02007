#!/usr/bin/env bash
# Audit the locked dependency set (constraints.txt) for known vulnerabilities with pip-audit.
#
#   ./scripts/audit_dependencies.sh [REQUIREMENTS_FILE]     (default: constraints.txt)
#
# pip-audit checks exactly the pinned versions (--disable-pip --no-deps: nothing is resolved or
# installed) against its default vulnerability service, PyPI's JSON API on pypi.org: the only
# network access needed. Accepted findings are listed in audit-allowlist.txt (or $AUDIT_ALLOWLIST),
# one vulnerability ID per line followed by "# <why it is accepted>"; an entry without a reason is
# an error, and a finding is accepted when its ID or one of its aliases (CVE, GHSA, PYSEC) is listed.
#
# Exit status:
#   0  every dependency was audited; no finding outside the allow-list
#   1  findings outside the allow-list (listed with their fix versions)
#   2  setup error: pip-audit missing, unreadable allow-list, pip-audit itself failed
#   3  some dependencies could not be audited (vulnerability service unreachable or incomplete):
#      an audit that did not happen never passes as "no known vulnerabilities"; with
#      AUDIT_UNREACHABLE=warn it is a loud warning and exit 0 instead (for a CI runner whose
#      network lets pip install but not reach pypi.org/pypi/<name>/<version>/json)
set -euo pipefail
cd "$(dirname "$0")/.."

REQUIREMENTS="${1:-constraints.txt}"
ALLOWLIST="${AUDIT_ALLOWLIST:-audit-allowlist.txt}"
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
# PIP_AUDIT_CMD replaces the pip-audit command (the tests use a stub that needs no network).
read -r -a AUDIT <<< "${PIP_AUDIT_CMD:-$PYTHON -m pip_audit}"

if [ ! -f "$REQUIREMENTS" ]; then
  echo "error: requirements file $REQUIREMENTS not found" >&2
  exit 2
fi
if [ -z "${PIP_AUDIT_CMD:-}" ] && ! "$PYTHON" -m pip_audit --version >/dev/null 2>&1; then
  echo "error: pip-audit is not installed; install it with: $PYTHON -m pip install pip-audit" >&2
  exit 2
fi

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
set +e
"${AUDIT[@]}" -r "$REQUIREMENTS" --disable-pip --no-deps --progress-spinner off \
  --format json --output "$report" \
  2> >(grep -v -e "--no-deps is supported" -e "pip-compile" -e "No known vulnerabilities" >&2)
audit_status=$?
set -e

"$PYTHON" - "$report" "$audit_status" "$ALLOWLIST" "$REQUIREMENTS" <<'PY'
"""Apply the allow-list to pip-audit's JSON report and decide the exit status."""
import json
import os
import re
import sys
from pathlib import Path

report_path, audit_status, allowlist_path, requirements = sys.argv[1:5]
ENTRY = re.compile(r"^(?P<id>[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9._:-]*)\s*#\s*(?P<why>\S.*)$")

accepted: dict[str, str] = {}
allowlist = Path(allowlist_path)
if allowlist.exists():
    for number, line in enumerate(allowlist.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = ENTRY.match(text)
        if match is None:
            print(f"error: {allowlist}:{number}: expected 'VULN-ID  # why it is accepted', "
                  f"got {text!r}", file=sys.stderr)
            sys.exit(2)
        accepted[match["id"].upper()] = match["why"].strip()

try:
    report = json.loads(Path(report_path).read_text() or "null")
except (OSError, ValueError):
    report = None
if not isinstance(report, dict) or "dependencies" not in report:
    print(f"error: pip-audit produced no report (exit status {audit_status})", file=sys.stderr)
    sys.exit(2)

dependencies = report["dependencies"]
skipped = [d for d in dependencies if d.get("skip_reason")]
audited = [d for d in dependencies if not d.get("skip_reason")]
findings, allowed, used = [], [], set()
for dep in audited:
    for vuln in dep.get("vulns", []):
        ids = {vuln["id"].upper(), *(a.upper() for a in vuln.get("aliases", []))}
        match = sorted(ids & accepted.keys())
        if match:
            allowed.append((dep, vuln, accepted[match[0]]))
            used.update(match)
        else:
            findings.append((dep, vuln))

print(f"pip-audit: {len(audited)} of {len(dependencies)} pinned dependencies in {requirements} "
      f"audited; {len(findings)} finding(s), {len(allowed)} accepted in {allowlist}")
for dep, vuln, why in allowed:
    print(f"  accepted {dep['name']} {dep['version']} {vuln['id']}: {why}")
for dep, vuln in findings:
    fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
    aliases = ", ".join(vuln.get("aliases", []))
    print(f"  FINDING  {dep['name']} {dep['version']} {vuln['id']}"
          f"{f' ({aliases})' if aliases else ''}: fixed in {fixes}")
for stale in sorted(accepted.keys() - used):
    print(f"  note: allow-list entry {stale} matches no finding any more; remove it")
if findings:
    sys.exit(1)
if skipped:
    print(f"error: {len(skipped)} dependencies could not be audited, e.g. "
          f"{skipped[0]['name']}: {skipped[0]['skip_reason']}", file=sys.stderr)
    print("       the vulnerability service (pypi.org/pypi/<name>/<version>/json) is not "
          "reachable from here; run the audit where it is", file=sys.stderr)
    if os.environ.get("AUDIT_UNREACHABLE") == "warn":
        print("warning: AUDIT_UNREACHABLE=warn: passing although these dependencies were NOT "
              "audited", file=sys.stderr)
        sys.exit(0)
    sys.exit(3)
print("no known vulnerabilities outside the allow-list")
PY
