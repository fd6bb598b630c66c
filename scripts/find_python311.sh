#!/usr/bin/env bash
# Prints the machine's Python >= 3.11 for the platform.
set -euo pipefail
for cand in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
  [ -n "$cand" ] || continue
  path=$(command -v "$cand" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "$path"; exit 0
  fi
done
echo "Python 3.11 or newer not found for the platform: install it or set PYTHON=/path/to/python3." >&2
exit 1
