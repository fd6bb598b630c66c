#!/usr/bin/env bash
# Trains the assistant when there is no model or its inputs changed; skips otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
RASA_PY=.venv-rasa/bin/python
mkdir -p var models
echo "==> Building the jieba user dictionary (var/jieba_dict) from the catalog and place names"
$RASA_PY scripts/build_jieba_dict.py --out var/jieba_dict
fingerprint=$(cat config.yml domain.yml endpoints.yml $(find data erma_nlu var/jieba_dict -type f \( -name '*.yml' -o -name '*.py' -o -name '*.txt' \) | sort) | sha256sum | cut -c1-16)
model="models/erma-$fingerprint.tar.gz"
if [ -f "$model" ]; then
  echo "==> Model is up to date ($model); not training"
else
  echo "==> Training the assistant (2-core machine: a few minutes; Rasa prints the epochs as it goes)"
  start=$(date +%s)
  PYTHONPATH=. .venv-rasa/bin/rasa train --config config.yml --domain domain.yml --data data \
    --out models --fixed-model-name "erma-$fingerprint"
  echo "==> Trained in $(( $(date +%s) - start )) s: $model"
fi
ln -sf "$(basename "$model")" models/current.tar.gz
