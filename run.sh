#!/usr/bin/env bash
# coflex-ray's two commands on a fresh machine (Python 3.11+ is the only prerequisite):
#
#   ./run.sh main [ARGS]   set up .venv (first time only), then run the main job: experiments/sss.py ARGS
#   ./run.sh test [ARGS]   set up .venv (first time only), then run the test suite: pytest ARGS
#   ./run.sh lock          re-resolve the newest allowed versions into requirements-lock.txt
#
# .venv is installed from requirements-lock.txt (a tested, locked set of versions) and reused while
# the lock file and pyproject.toml are unchanged. PYTHON picks the interpreter (default: python3),
# VENV the environment's folder (default: .venv beside this script).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
python="${PYTHON:-python3}"
venv="${VENV:-$here/.venv}"
lock="$here/requirements-lock.txt"
export RAY_USAGE_STATS_ENABLED="${RAY_USAGE_STATS_ENABLED:-0}" RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"

die() { echo "run.sh: $*" >&2; exit 2; }
# pip, quiet, without the notes some mirrors' configs print for every package they do not hold
pip_q() { "$@" --quiet 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

check_python() {
    command -v "$python" >/dev/null || die "no '$python' on PATH; install Python 3.11+ or set PYTHON=/path/to/python3.11"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$("$python" --version 2>&1) found; coflex-ray needs Python 3.11+ (set PYTHON=...)"
}

setup() {
    check_python
    local stamp="$venv/.coflex-ray-installed" want
    want="$(cat "$lock" pyproject.toml | "$python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    local start=$SECONDS
    echo "run.sh: setting up $venv from requirements-lock.txt (once; a few minutes)"
    [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
    pip_q "$venv/bin/python" -m pip install --upgrade pip
    pip_q "$venv/bin/python" -m pip install -c "$lock" -e ".[test]"
    echo "$want" > "$stamp"
    echo "run.sh: environment ready in $((SECONDS - start)) s ($(du -sh "$venv" | cut -f1))"
}

refresh_lock() {
    check_python
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$python" -m venv "$tmp/venv"
    pip_q "$tmp/venv/bin/python" -m pip install --upgrade pip
    # torch: the CPU build where one is at hand (a plain resolve may otherwise pull a multi-GB CUDA build)
    pip_q "$tmp/venv/bin/python" -m pip install "torch==${TORCH_VERSION:-2.13.0}" -e ".[test]"
    {
        echo "# Tested, locked versions for ./run.sh and CI; refresh with ./run.sh lock, then ./run.sh test"
        echo "# and ./run.sh main must pass before the new lock is committed (docs/development.md)."
        echo "# python $("$tmp/venv/bin/python" -c 'import platform; print(platform.python_version())')"
        # local version labels (torch's +cpu) are dropped: ==X matches X+cpu here and X elsewhere
        "$tmp/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^-e ' | sed -E 's/^([^=]+==[^+]+)\+.*/\1/'
    } > "$lock"
    echo "run.sh: wrote $lock ($(grep -vc '^#' "$lock") pins); now run ./run.sh test and ./run.sh main"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    main) setup; exec "$venv/bin/python" experiments/sss.py "$@" ;;
    test) setup; exec "$venv/bin/python" -m pytest "$@" ;;
    lock) refresh_lock ;;
    *) die "usage: ./run.sh main|test|lock [ARGS] (got '${cmd}')" ;;
esac
