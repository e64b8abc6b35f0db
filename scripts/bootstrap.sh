#!/usr/bin/env bash
# Set up a fresh machine for pigen: data files, a virtualenv, torch, the package.
# Safe to run again: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. Debian packages when we may install them: real Fashion-MNIST (otherwise the
#    loader downloads the official files, SHA-256 checked, on first use) and
#    Chromium for the browser tests (they skip, saying why, without it).
APT_PACKAGES=()
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
  || APT_PACKAGES+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || APT_PACKAGES+=(chromium)
# promtool checks deploy/prometheus/alerts.yml in the tests (they skip without it).
command -v promtool >/dev/null 2>&1 || APT_PACKAGES+=(prometheus)
if [ ${#APT_PACKAGES[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "==> apt-get install ${APT_PACKAGES[*]}"
  # Wait for another apt run (unattended upgrades, a parallel job) instead of failing.
  (apt-get -o DPkg::Lock::Timeout=300 update -qq \
    && apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${APT_PACKAGES[@]}" >/dev/null) \
    || echo "warning: apt-get install ${APT_PACKAGES[*]} failed" >&2
fi

# 2. A virtualenv of our own.
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

# 3. torch before the package, so the range in pyproject.toml keeps it:
#    the CPU build 2.13.0 by default (on this kind of machine it installs from
#    local disk in seconds). GPU users: set PIGEN_TORCH_SPEC, e.g.
#    PIGEN_TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "==> installing ${PIGEN_TORCH_SPEC:-torch==2.13.0}"
  # shellcheck disable=SC2086
  .venv/bin/pip install -q ${PIGEN_TORCH_SPEC:-torch==2.13.0}
fi

# 4. pigen itself (editable) with test and benchmark extras.
echo "==> installing pigen"
.venv/bin/pip install -q --disable-pip-version-check -e ".[dev,bench]"
.venv/bin/python -c "import pigen.service.cli" # fail here, not later, if the install broke
