#!/usr/bin/env bash
# Runs `portcullis demo`: installs missing packages (PostgreSQL server binaries,
# libclang-dev, build tools), builds the gateway, and plays the demo scenario against
# a throwaway PostgreSQL cluster. Extra arguments go to `portcullis demo`, for
# example `scripts/demo.sh --serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --locked --bin portcullis
exec target/release/portcullis demo "$@"
