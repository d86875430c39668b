# Sourced by the top-level scripts: picks the Python interpreter and, on request, sets up .venv.
#   PYTHON=/path/to/python bash script.sh   uses that interpreter and installs nothing.
#   otherwise ./.venv/bin/python when it exists, else python3.
# ensure_venv REQUIREMENTS_FILE creates .venv and installs the file's packages once (re-run when it changes).
# require_python REQUIREMENTS_FILE (the stage scripts): without PYTHON and without .venv, creates .venv as
# ensure_venv does; then checks that the interpreter has the file's packages, else one line saying how.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON_GIVEN=${PYTHON:+true}

if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO_ROOT/.venv/bin/python" ]; then
        PYTHON="$REPO_ROOT/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi

ensure_venv() {
    local requirements="$REPO_ROOT/$1"
    local venv="$REPO_ROOT/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        echo "creating the virtual environment $venv"
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || { echo "error: Python 3.11 or newer is needed (python3 is $(python3 --version 2>&1))" >&2; return 1; }
        python3 -m venv "$venv" || { echo "error: could not create $venv (is python3-venv installed?)" >&2; return 1; }
    fi
    PYTHON="$venv/bin/python"
    local stamp="$venv/.installed-$(basename "$requirements")-$(cat "$REPO_ROOT"/requirements*.txt | cksum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ]; then
        echo "installing $(basename "$requirements") into $venv (once; about two minutes)"
        "$PYTHON" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
            || { echo "error: pip could not install $requirements; check the network and run again" >&2; return 1; }
        rm -f "$venv"/.installed-"$(basename "$requirements")"-*
        touch "$stamp"
    fi
}

require_python() {
    if [ -z "$PYTHON_GIVEN" ] && [ ! -x "$REPO_ROOT/.venv/bin/python" ]; then
        ensure_venv "$1" || return 1
    fi
    "$PYTHON" "$REPO_ROOT/tools/check_environment.py" "$REPO_ROOT/$1"
}
