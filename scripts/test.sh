#!/usr/bin/env bash
# Checks the Kubernetes manifests (scripts/deploy-check.sh), runs every test of the workspace
# against the real services, builds the image and runs the shop in it (scripts/image.sh
# --check), brings the Compose shop up and through the journey (scripts/compose-check.sh),
# then the contract fuzz (scripts/fuzz.sh: schemathesis against the running
# platform's OpenAPI), and prints one total line. FUZZ=0 and IMAGE=0 leave the fuzz and the
# containers out, for a quick local run; CI always runs them.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh || exit 1
scripts/test-tools.sh || exit 1
scripts/deploy-check.sh || exit 1
# Databases a crashed earlier test run left behind (tests name theirs kt_<id>_<service>).
. scripts/lib/forget.sh
forget kt_
log="$(mktemp)"
cargo test --workspace --all-targets "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
read -r passed failed < <(awk '/^test result:/ {
  for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }' "$log")
rm -f "$log"
image="not built"
if [ "$status" -eq 0 ] && [ "${IMAGE:-1}" != 0 ]; then
  ilog="$(mktemp)"
  scripts/image.sh --check 2>&1 | tee "$ilog"
  istatus=${PIPESTATUS[0]}
  image="$(grep -o 'localhost/kazna[^;]*MiB' "$ilog" | head -n 1)"
  if [ "$istatus" -eq 0 ]; then image="$image, ran"; else status=$istatus; image="${image:-not built}, FAILED"; fi
  rm -f "$ilog"
fi
compose="not run"
if [ "$status" -eq 0 ] && [ "${IMAGE:-1}" != 0 ]; then
  if scripts/compose-check.sh; then compose="up, journey passed, catalog scaled to 2 and passed again, down"
  else status=1; compose="FAILED"; fi
fi
fuzz="not run"
if [ "$status" -eq 0 ] && [ "${FUZZ:-1}" != 0 ]; then
  flog="$(mktemp)"
  scripts/fuzz.sh 2>&1 | tee "$flog"
  fstatus=${PIPESTATUS[0]}
  fuzz="$(grep -E '^ +[0-9]+ generated' "$flog" | tail -n 1 | sed 's/^ *//')"
  [ "$fstatus" -eq 0 ] || { status=$fstatus; fuzz="${fuzz:-failed to run}, FAILED"; }
  rm -f "$flog"
fi
echo
echo "tests: ${passed:-0} passed, ${failed:-0} failed; image: ${image}; compose: ${compose}; fuzz: ${fuzz}"
exit "$status"
