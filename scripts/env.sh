# shellcheck shell=bash
# Source me after scripts/setup: `source scripts/env.sh` (bash/zsh, from
# anywhere; plain sh: `. scripts/env.sh` from the repo root).
# Puts the repo's .venv/bin first on PATH (moto_server, parliament,
# cloudsplaining, cargo-zigbuild, python -m ziglang) and keeps cargo's build
# output outside the work tree, where it survives a fresh checkout.
# No `set -e` here: this runs inside the caller's shell.

if [ -n "${BASH_SOURCE:-}" ]; then
    _claw_env_file="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:-}" ]; then
    eval '_claw_env_file="${(%):-%x}"' # zsh: path of the sourced file
else
    # POSIX sh cannot tell which file it is sourcing: source from the repo root.
    _claw_env_file="$PWD/scripts/env.sh"
fi
CLAW_ROOT="$(cd "$(dirname "$_claw_env_file")/.." && pwd)"
unset _claw_env_file
export CLAW_ROOT

case ":$PATH:" in
    *":$CLAW_ROOT/.venv/bin:"*) ;;
    *) export PATH="$CLAW_ROOT/.venv/bin:$PATH" ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/claw/target}"

if [ ! -x "$CLAW_ROOT/.venv/bin/python" ]; then
    echo "env.sh: $CLAW_ROOT/.venv is missing; run scripts/setup" >&2
fi
