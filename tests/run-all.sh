#!/bin/sh
# Install everything the test suite needs on a fresh Debian 12 machine, then run it.
# Run from the repository root, as root (or with sudo available).
set -eu
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=$(grep -v '^#' .ci/apt-packages.txt | tr '\n' ' ')
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
python3 -m pip install -q -e '.[test]'
exec python3 -m pytest "$@"
