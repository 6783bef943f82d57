#!/usr/bin/env bash
# What the tests run besides the platform:
# - from PyPI, in a virtual environment of their own (target/test-venv): aiosmtpd, the real
#   SMTP server the email tests send to;
# - from Debian, when missing: Chromium and ChromeDriver, the browser the storefront's tests
#   drive;
# - from npm, into target/test-node: axe-core, the accessibility checker they run in it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
AIOSMTPD_VERSION=1.4.6
AXE_VERSION=4.10.3
venv=target/test-venv
if ! "$venv/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
  echo "test tools: installing aiosmtpd $AIOSMTPD_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "test tools: installing Debian's chromium and chromium-driver"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver >/dev/null
fi
node=target/test-node
if ! grep -qs "\"version\": \"$AXE_VERSION\"" "$node/node_modules/axe-core/package.json"; then
  echo "test tools: installing axe-core $AXE_VERSION into $node"
  mkdir -p "$node"
  npm install --silent --no-audit --no-fund --prefix "$node" "axe-core@$AXE_VERSION" >/dev/null
fi
