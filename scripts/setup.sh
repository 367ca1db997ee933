#!/usr/bin/env bash
# Installs exactly the Debian 12 packages that the build, the tests and the
# tools need, and only when one is missing (idempotent; needs root or sudo).
# Options (any combination): --bench also installs redis-server
# (bench/daemon_vs_redis.sh compares emberd with Redis 7); --fuzz also
# clang-14 and its sanitizer and libFuzzer runtimes (scripts/fuzz.sh).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcaf-dev            # C++ Actor Framework 0.17 (core, io, test framework)
  libcrypto++-dev       # AES-256-GCM
  libboost-dev          # Boost.CRC
  libspdlog-dev         # logging
  libcli11-dev          # ember-persist / emberd command lines
  nlohmann-json3-dev    # JSON output of the operator tool
  libjemalloc-dev       # emberd's allocator (EMBER_JEMALLOC)
  redis-tools           # redis-cli for the end-to-end tests
)
for opt in "$@"; do
  case "$opt" in
    --bench) packages+=(redis-server) ;;
    --fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "setup: unknown option $opt (known: --bench --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
