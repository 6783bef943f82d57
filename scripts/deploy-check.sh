#!/usr/bin/env bash
# Renders each Kubernetes overlay (deploy/k8s/overlays/*) with `kubectl kustomize` and
# validates it offline with kubernetes-validate --strict (from PyPI, in target/deploy-venv)
# for Kubernetes 1.30 and the newest version it knows. Any error or warning fails. Then checks
# that the Prometheus alerts and the Grafana dashboard read only metrics the code exports.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VALIDATE_VERSION=1.37.0
venv=target/deploy-venv
if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$VALIDATE_VERSION"; then
  echo "deploy check: installing kubernetes-validate $VALIDATE_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VALIDATE_VERSION"
fi
command -v kubectl >/dev/null || { echo "deploy check: kubectl is needed (it renders the overlays)"; exit 1; }
out=target/k8s
mkdir -p "$out"
status=0
for overlay in deploy/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  for version in 1.30.0 "$VALIDATE_VERSION"; do
    if ! report="$("$venv/bin/kubernetes-validate" --strict -k "$version" --quiet "$out/$name.yaml" 2>&1)" \
        || [ -n "$report" ]; then
      echo "deploy check: $name for Kubernetes $version:"
      echo "$report"
      status=1
    fi
  done
  echo "deploy check: $name renders $(grep -c '^kind:' "$out/$name.yaml") objects, valid for Kubernetes 1.30.0 and $VALIDATE_VERSION"
done
# The alert rules and the dashboard read only metrics the code exports, and every rule says
# what it is about.
"$venv/bin/python" - <<'PY' || status=1
import json, pathlib, re, sys, yaml
root = pathlib.Path(".")
exprs = []
for group in yaml.safe_load(open("deploy/prometheus/alerts.yml"))["groups"]:
    for rule in group["rules"]:
        missing = [k for k in ("alert", "expr") if k not in rule]
        if missing or "severity" not in rule.get("labels", {}) or "summary" not in rule.get("annotations", {}):
            sys.exit(f"deploy check: alert rule {rule.get('alert')} lacks {missing or 'a severity or a summary'}")
        exprs.append(rule["expr"])
dashboard = json.load(open("deploy/grafana/dashboards/kazna.json"))
exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
code = "".join(f.read_text() for d in ("crates", "services") for f in (root / d).rglob("*.rs"))
names = {n for e in exprs for n in re.findall(r"\b(kazna_[a-z_]+|http_request[a-z_]*)\b", e)}
unknown = sorted(n for n in names if f'"{n}"' not in code)
if unknown:
    sys.exit(f"deploy check: alerts or dashboard read metrics no code exports: {unknown}")
print(f"deploy check: {len(exprs)} alert and panel queries read {len(names)} metrics the code exports")
PY
exit "$status"
