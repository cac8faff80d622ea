#!/usr/bin/env bash
# Installs the Debian packages used by the end-to-end tests (test/e2e):
#   zookeeper      - reference server, Java client jars, recipes jars, zkCli.sh
#   zookeeper-bin  - C client shell cli_mt
#   python3-kazoo  - Python client
#   tmux           - drives `zkd cli` through a pseudo-terminal in its tests
#   a JDK (javac)  - to compile the Java test programs at test time
# Idempotent: only runs apt-get when something is missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -E"
    else
        echo "install-test-deps: not root and sudo is unavailable" >&2
        exit 1
    fi
fi

missing=()
for pkg in zookeeper zookeeper-bin python3-kazoo tmux; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done
if ! command -v javac >/dev/null 2>&1; then
    missing+=(default-jdk-headless)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-test-deps: all test dependencies already installed"
    exit 0
fi

echo "install-test-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-test-deps: done"
