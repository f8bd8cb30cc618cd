#!/usr/bin/env bash
# Installs the client libraries that the conformance tests drive
# (crates/portcullis/tests/conformance.rs) into the git-ignored directory
# target/conformance, or into $PORTCULLIS_CONFORMANCE_DIR when that is set:
#
#   venv/           psycopg and asyncpg, the versions pinned in requirements.txt
#   node_modules/   pg, pg-cursor and pg-copy-streams, from package-lock.json
#
# A second run with unchanged pins changes nothing. The system packages (psql,
# javac, the pgjdbc jar, python3, npm) come from `scripts/install-deps.sh --test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${PORTCULLIS_CONFORMANCE_DIR:-$root/target/conformance}"
mkdir -p "$dir"

for command in python3 npm; do
    if ! command -v "$command" >/dev/null; then
        echo "conformance setup: $command not found; run scripts/install-deps.sh --test" >&2
        exit 1
    fi
done

# Each part records the pin file it was installed from, and is reinstalled only
# when that file changes.
up_to_date() {
    local pins="$1" stamp="$2"
    [[ -f "$stamp" ]] && cmp -s "$pins" "$stamp"
}

if ! up_to_date "$here/requirements.txt" "$dir/venv/installed-requirements.txt" || [[ ! -x "$dir/venv/bin/python" ]]; then
    echo "conformance setup: installing Python clients into $dir/venv"
    rm -rf "$dir/venv"
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$dir/venv/installed-requirements.txt"
fi

if ! up_to_date "$here/package-lock.json" "$dir/installed-package-lock.json" || [[ ! -d "$dir/node_modules/pg" ]]; then
    echo "conformance setup: installing Node clients into $dir/node_modules"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$dir/installed-package-lock.json"
fi

echo "conformance setup: clients ready in $dir"
