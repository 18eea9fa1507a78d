#!/usr/bin/env bash
# Headless Chromium for the book's HTML test (Debian's chromium package).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "[setup] chromium present: $(command -v chromium || command -v chromium-browser)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[setup] chromium missing and apt-get not available: install Chromium yourself for the book's HTML test" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "[setup] installing chromium with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
