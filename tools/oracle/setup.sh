#!/usr/bin/env bash
# Installs LocalStack's Step Functions interpreter (localstack-core from PyPI)
# into a virtual environment for tools/oracle/differential.py.
#
#   bash tools/oracle/setup.sh VENV_DIR [PYTHON]
#
# localstack-core 2026.3.0 declares Python >= 3.10 but its sources use a few
# 3.12 forms (type aliases, type parameters); patch311.py rewrites those so a
# 3.11 interpreter imports it (localstack_run.py shims threading.Lock and
# warnings.deprecated, the two 3.13 names it needs).
set -euo pipefail
venv=${1:?usage: setup.sh VENV_DIR [PYTHON]}
python=${2:-python3}
here=$(cd "$(dirname "$0")" && pwd)
"$python" -m venv "$venv"
"$venv/bin/pip" install -q "localstack-core[runtime]==2026.3.0"
# localstack is a namespace package (no __init__.py): its directory is its __path__.
site=$("$venv/bin/python" -c 'import localstack; print(list(localstack.__path__)[0])')
"$venv/bin/python" "$here/patch311.py" "$site"
echo "LocalStack's interpreter is ready: $venv/bin/python"
