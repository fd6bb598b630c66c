#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter for Rasa, or explains how to get one.
set -euo pipefail
for cand in "${PYTHON310:-}" "$(command -v python3.10 || true)" $(ls -d "$HOME"/.pyenv/versions/3.10.*/bin/python 2>/dev/null | sort -V -r) /usr/bin/python3.10 /usr/local/bin/python3.10; do
  [ -n "$cand" ] && [ -x "$cand" ] || continue
  if "$cand" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    echo "$cand"; exit 0
  fi
done
echo "Python 3.10 not found (Rasa 3.6 needs it): install it, e.g. 'pyenv install 3.10.13', or set PYTHON310=/path/to/python3.10." >&2
exit 1
