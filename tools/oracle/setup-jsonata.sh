#!/usr/bin/env bash
# The JSONata differential's reference: the jsonata npm package at the
# version AWS documents (2.0.6), installed with npm into DIR.
#   bash tools/oracle/setup-jsonata.sh target/jsonata-node
set -euo pipefail
dir=${1:?usage: setup-jsonata.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund jsonata@2.0.6
