#!/usr/bin/env bash
# Runs the whole test suite: installs missing packages, builds, and runs every test
# (unit, store suite on SQLite and PostgreSQL, gateway protocol tests against real
# PostgreSQL servers, client conformance scripts, and the demo).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
# psycopg, asyncpg and node-postgres for the client conformance tests, into target/conformance.
tests/conformance/setup.sh

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi

cargo build --workspace --all-targets
cargo nextest run --workspace --no-fail-fast
