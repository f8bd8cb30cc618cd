#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Portcullis needs to build, run the demo and run
# its tests. Packages already present are skipped, so a second run changes nothing.
#
#   scripts/install-deps.sh          packages for building and for `portcullis demo`
#   scripts/install-deps.sh --test   also the clients and tools the test suite drives
set -euo pipefail

packages=(
    build-essential pkg-config cmake
    libclang-dev        # pg_query builds PostgreSQL's parser through bindgen
    postgresql          # initdb, pg_ctl and postgres for throwaway clusters
    postgresql-client   # psql, driven by the demo
)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(
        postgresql-contrib  # pgbench
        pgbouncer           # benchmark baseline
        sqlite3             # tamper tests edit the embedded store by hand
        libpostgresql-jdbc-java
    )
    # Toolchains count as present when their command is, whatever installed them.
    command -v python3 >/dev/null || packages+=(python3 python3-venv python3-pip)
    # Debian's python3 creates virtual environments only with python3-venv installed.
    python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
    command -v javac >/dev/null || packages+=(default-jdk-headless)
    command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
