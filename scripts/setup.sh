#!/usr/bin/env bash
# Installs exactly the Debian 12 packages that the build, the tests and the
# tools need, and only when one is missing (idempotent; needs root or sudo).
# --fuzz: also what scripts/fuzz.sh needs.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcaf-dev            # C++ Actor Framework 0.17 (core, io, test framework)
  libcrypto++-dev       # AES-256-GCM
  libboost-dev          # Boost.CRC
  libspdlog-dev         # logging
  libcli11-dev          # ember-persist / emberd command lines
  nlohmann-json3-dev    # JSON output of the operator tool
  redis-tools           # redis-cli for the end-to-end tests
)

# The fuzzing step (scripts/fuzz.sh) also needs clang and its sanitizer and
# libFuzzer runtimes.
if [[ ${1:-} == --fuzz ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

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
