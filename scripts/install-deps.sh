#!/usr/bin/env bash
# Installs the Debian packages sirtbot builds, tests and runs with.
# Idempotent: prints nothing and exits 0 when everything is already there.
# The Dockerfile installs from the same lists (BUILD_PKGS / RUNTIME_PKGS).
set -euo pipefail

BUILD_PKGS="gcc make pkg-config libc6-dev libuv1-dev libwebsockets-dev libwebsockets-evlib-uv \
libcurl4-openssl-dev libcjson-dev libsqlite3-dev libpcre2-dev libpq-dev ca-certificates tzdata curl"
# Only for the tests, not for the image: the sanitizer, valgrind and fuzzing
# runs, the throwaway TLS CA, and a real PostgreSQL server.
TEST_PKGS="valgrind openssl postgresql clang-14 libclang-rt-14-dev llvm-14 util-linux"
RUNTIME_PKGS="libuv1 libwebsockets17 libwebsockets-evlib-uv libcurl4 libcjson1 libsqlite3-0 \
libpcre2-8-0 libpq5 ca-certificates tzdata curl"

case "${1:-}" in
  --print-build) echo $BUILD_PKGS; exit 0 ;;
  --print-runtime) echo $RUNTIME_PKGS; exit 0 ;;
  --print-test) echo $TEST_PKGS; exit 0 ;;
esac

missing=()
for p in $BUILD_PKGS $TEST_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
