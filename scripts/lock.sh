#!/usr/bin/env bash
# Re-resolves both lock files from requirements/*.in in throwaway environments.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
"$(scripts/find_python311.sh)" -m venv "$tmp/p" && "$tmp/p/bin/pip" install -q -r requirements/platform.in
{ echo "# Locked with pip freeze from requirements/platform.in on Python 3.11 (scripts/lock.sh)."; "$tmp/p/bin/pip" freeze; } > requirements/platform.lock
"$(scripts/find_python310.sh)" -m venv "$tmp/r" && "$tmp/r/bin/pip" install -q -r requirements/rasa.in
{ echo "# Locked with pip freeze from requirements/rasa.in on Python 3.10 (scripts/lock.sh)."; "$tmp/r/bin/pip" freeze; } > requirements/rasa.lock
rm -rf "$tmp"
