#!/usr/bin/env bash
# Debian's Chromium and a Chinese font for the browser tests (Playwright drives /usr/bin/chromium;
# it never downloads a browser of its own). Installs only what is missing; needs root or sudo.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "==> Installing ${need[*]} from Debian's packages (browser tests)"
run=()
if [ "$(id -u)" != 0 ]; then run=(sudo); fi
"${run[@]}" apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -q "${need[@]}" >/dev/null
