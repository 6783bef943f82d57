#!/usr/bin/env bash
# What the tests run besides the platform, from PyPI in a virtual environment of their own
# (target/test-venv): aiosmtpd, the real SMTP server the email tests send to.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
AIOSMTPD_VERSION=1.4.6
venv=target/test-venv
if ! "$venv/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
  echo "test tools: installing aiosmtpd $AIOSMTPD_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi
