#!/usr/bin/env bash
# System packages from Debian, installed only when missing (needs root or sudo):
# - always: a Chinese font the platform embeds in printable PDFs (一表一书);
# - with --test: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium and
#   never downloads a browser of its own), poppler-utils and tesseract-ocr to check rendered PDFs;
# - with --test or --scaled: HAProxy, the scaled set-up's load balancer (scripts/scaled/).
set -euo pipefail
need=()
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)  # ERMA_PDF_FONT's default
if [ "${1:-}" = --test ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
  command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
fi
if [ "${1:-}" = --test ] || [ "${1:-}" = --scaled ]; then
  command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "==> Installing ${need[*]} from Debian's packages"
run=()
if [ "$(id -u)" != 0 ]; then run=(sudo); fi
"${run[@]}" apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
