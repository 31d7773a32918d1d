"""Run the external IAM policy linters over policy documents; see scripts/policy-audit.

Run by scripts/policy-audit with the repo's .venv python. Three checks per file:

- parliament (--json, every severity shown): exits 0 with no output when clean,
  1 with one JSON object per line per finding. `role` adds the community
  auditors, which flag some actions whatever their Resource or Condition
  (PERMISSIONS_MANAGEMENT_ACTIONS: iam:PassRole, iam:CreateRole,
  lambda:AddPermission, ...; PRIVILEGE_ESCALATION: lambda:UpdateFunctionCode, ...):
  right for a function's role, unusable for the deployer that must hold them.
  The policy goes on stdin: its --file flag refuses to run without a terminal.
- cloudsplaining scan-policy-file: always exits 0; each finding is a
  "Potential Issue found: ..." block, a clean policy prints exactly
  "There were no results found.". Anything else fails closed. It only looks at
  Allow statements whose Resource is exactly "*" and that have no Condition.
  It runs with an explicit exclusions file that excludes nothing (same
  include-actions as its default) and with HOME in a temp dir, so a
  ~/.policy_sentry database on the machine cannot change the verdict.
- policy-audit's own: an Allow statement with NotAction, NotResource or
  NotPrincipal (only parliament's community auditors see NotResource).

Exit 0: no finding; 1: findings; 2: usage error or a linter that failed to run.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CLEAN = "There were no results found."
ISSUE = "Potential Issue found: "

# cloudsplaining's default include-actions (flagged as data exfiltration when
# unconstrained), and no exclusions of any kind.
EXCLUSIONS_YAML = """\
policies: []
roles: []
users: []
groups: []
exclude-actions: []
known-accounts: []
include-actions:
  - s3:GetObject
  - ssm:GetParameter
  - ssm:GetParameters
  - ssm:GetParametersByPath
  - secretsmanager:GetSecretValue
  - rds:CopyDBSnapshot
  - rds:CreateDBSnapshot
"""


class ToolError(Exception):
    pass


def run(cmd: list[str], tmp: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=tmp, NO_COLOR="1")
    try:
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=tmp, env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolError(f"{Path(cmd[0]).name}: {e}") from e


# What parliament reports on every trust policy and does not apply to one: a trust
# policy has no Resource (IAM refuses one: the role is the resource), and
# parliament's Federated check knows SAML providers and four legacy web-identity
# names only, not an IAM OIDC provider's ARN (`oidc-provider/HOST`).
OIDC_PROVIDER = re.compile(r"^arn:aws[-a-z]*:iam::\d{12}:oidc-provider/[^*?]+$")


def not_for_trust_policies(f: dict) -> bool:
    if f.get("issue") == "MALFORMED" and f.get("detail") == "Statement contains neither Resource nor NotResource":
        return True
    return f.get("issue") == "UNKNOWN_FEDERATION_SOURCE" and bool(OIDC_PROVIDER.match(str(f.get("detail"))))


# Actions whose resource types the Service Authorization Reference lists as
# alternatives, each marked required (one of them names the resource), which
# parliament reads as "every one required": RESOURCE_MISMATCH on any policy, even
# the narrowest. bedrock:InvokeModel and InvokeModelWithResponseStream take a
# foundation model, an inference profile, a provisioned model, ...;
# GetInferenceProfile a system-defined or an application inference profile. Such a finding is dropped only when every
# Resource of every statement granting the action matches one of the formats
# parliament itself lists for it; anything else is still reported.
ALTERNATIVE_RESOURCE_TYPES = {
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:GetInferenceProfile",
}


def resources_fit_alternatives(f: dict, doc: object) -> bool:
    if f.get("issue") != "RESOURCE_MISMATCH" or not isinstance(f.get("detail"), list) or not isinstance(doc, dict):
        return False
    formats: dict[str, list[str]] = {}
    for d in f["detail"]:
        formats.setdefault(d.get("action", ""), []).append(d.get("required_format", ""))
    if not formats or not set(formats) <= ALTERNATIVE_RESOURCE_TYPES:
        return False
    statements = doc.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    for action, fmts in formats.items():
        granting = [
            st for st in statements
            if isinstance(st, dict) and st.get("Effect") == "Allow"
            and action in ([st["Action"]] if isinstance(st.get("Action"), str) else st.get("Action", []))
        ]
        if not granting:
            return False
        for st in granting:
            res = st.get("Resource", [])
            for r in [res] if isinstance(res, str) else res:
                if r == "*" or not any(fnmatch.fnmatchcase(r, fmt) for fmt in fmts):
                    return False
    return True


def parliament(text: str, community: bool, tmp: str, trust: bool = False, doc: object = None) -> list[str]:
    cmd = [str(VENV_BIN / "parliament"), "--json", "--minimum_severity", "INFO"]
    if community:
        cmd.append("--include-community-auditors")
    p = run(cmd, tmp, stdin=text)
    label = "parliament+community" if community else "parliament"
    if p.returncode not in (0, 1):
        raise ToolError(f"{label} exited {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    out = []
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        try:
            f = json.loads(line)
        except json.JSONDecodeError as e:
            raise ToolError(f"{label}: unexpected output line: {line!r}") from e
        if trust and not_for_trust_policies(f):
            continue
        if resources_fit_alternatives(f, doc):
            continue
        loc = {k: v for k, v in (f.get("location") or {}).items() if k != "filepath"}
        where = f"line {loc['line']}" if "line" in loc else json.dumps(loc, sort_keys=True)
        detail = f.get("detail")
        detail = "" if detail in ("", None, []) else f" detail={json.dumps(detail)}"
        out.append(f"{label}: {f['severity']} {f['issue']} ({f['title']}) at {where}{detail}")
    if p.returncode == 1 and not out and not trust and doc is None:
        raise ToolError(f"{label} exited 1 without findings: {p.stderr.strip()}")
    if p.returncode == 0 and out:
        raise ToolError(f"{label} exited 0 but printed findings")
    return out


def cloudsplaining(path: Path, tmp: str) -> list[str]:
    exclusions = Path(tmp, "exclusions.yml")
    exclusions.write_text(EXCLUSIONS_YAML)
    cmd = [
        str(VENV_BIN / "cloudsplaining"),
        "scan-policy-file",
        "--input-file",
        str(path.resolve()),
        "--exclusions-file",
        str(exclusions),
    ]
    p = run(cmd, tmp)
    text = ANSI.sub("", p.stdout)
    if p.returncode != 0:
        raise ToolError(f"cloudsplaining exited {p.returncode}: {p.stderr.strip() or text.strip()}")
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if lines == [CLEAN]:
        return []
    findings: list[list[str]] = []
    for line in lines:
        if line.startswith(ISSUE):
            findings.append([line[len(ISSUE) :]])
        elif findings:
            findings[-1].append(line.strip())
        else:
            findings.append([f"unrecognised output: {line}"])
    if not findings:
        raise ToolError(f"cloudsplaining printed nothing recognisable: {text!r}")
    return ["cloudsplaining: " + " | ".join(f) for f in findings]


def own_checks(doc: object) -> list[str]:
    out = []
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    for i, st in enumerate(statements):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        for key in ("NotAction", "NotResource", "NotPrincipal"):
            if key in st:
                sid = st.get("Sid", f"#{i}")
                out.append(f"policy-audit: {key} in Allow statement {sid} (grants everything not listed)")
    return out


def audit(path: Path, mode: str) -> list[str]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ToolError(f"cannot read: {e}") from e
    with tempfile.TemporaryDirectory(prefix="claw-policy-audit-") as tmp:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            # parliament reports MALFORMED_JSON.
            findings = parliament(text, community=(mode != "deployer"), tmp=tmp, trust=(mode == "trust"))
            return findings + [f"policy-audit: invalid JSON: {e}"]
        findings = parliament(text, community=(mode != "deployer"), tmp=tmp, trust=(mode == "trust"), doc=doc)
        findings += cloudsplaining(path, tmp)
        findings += own_checks(doc)
    return findings


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("role", "deployer", "trust"):
        print(
            "usage: scripts/policy-audit role|deployer|trust FILE...\n"
            "  role      a Lambda execution-role policy: parliament with community auditors + cloudsplaining\n"
            "  deployer  the deployer's policy: parliament default auditors + cloudsplaining\n"
            "  trust     a role's trust policy: as role, without parliament's two findings every trust policy gets",
            file=sys.stderr,
        )
        return 2
    mode, files = argv[0], [Path(f) for f in argv[1:]]
    with ThreadPoolExecutor(max_workers=min(4, len(files))) as pool:
        results = list(pool.map(lambda f: _safe_audit(f, mode), files))
    n_findings = 0
    errors = 0
    for path, (findings, error) in zip(files, results):
        for f in findings:
            print(f"{path}: {f}")
        n_findings += len(findings)
        if error:
            print(f"{path}: ERROR {error}", file=sys.stderr)
            errors += 1
    summary = f"policy-audit: {len(files)} files, {n_findings} findings"
    if errors:
        summary += f", {errors} errors"
    print(summary)
    if errors:
        return 2
    return 1 if n_findings else 0


def _safe_audit(path: Path, mode: str) -> tuple[list[str], str | None]:
    try:
        return audit(path, mode), None
    except ToolError as e:
        return [], str(e)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
