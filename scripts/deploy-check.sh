#!/usr/bin/env bash
# Renders each Kubernetes overlay (deploy/k8s/overlays/*) with `kubectl kustomize` and
# validates it offline with kubernetes-validate --strict (from PyPI, in target/deploy-venv)
# for Kubernetes 1.30 and the newest version it knows. Any error or warning fails.
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
exit "$status"
