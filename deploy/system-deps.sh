#!/usr/bin/env bash
# The system packages backupwatch needs on Debian or Ubuntu, installed when missing.
# This is the one list: `make run` asks for what running needs, `make test` and
# `.ci/run` for what the tests need.
#
#   deploy/system-deps.sh run        Python, make, and Java 17+ and Maven for the local Kafka
#   deploy/system-deps.sh test       the above, and what the tests run for real:
#                                    Prometheus, Chromium, restic, Borg, openssl
#   deploy/system-deps.sh test --dry-run   say what would be installed, install nothing
#
# Only what is missing is installed, with apt-get, as root or with passwordless sudo.
# Otherwise nothing is changed and the script stops with one line giving the exact
# command to run (exit 2). With KAFKA_BOOTSTRAP_SERVERS set, no local broker is
# started, so Java and Maven are not needed.
set -euo pipefail

say() { printf 'backupwatch: %s\n' "$*" >&2; }

usage() {
    say "usage: deploy/system-deps.sh run|test [--dry-run]"
    exit 2
}

purpose=""
dry_run=0
for arg in "$@"; do
    case "$arg" in
        run | test) purpose="$arg" ;;
        --dry-run) dry_run=1 ;;
        *) usage ;;
    esac
done
[[ -n "$purpose" ]] || usage

has() { command -v "$1" >/dev/null 2>&1; }

# The Java that deploy/kafka/kafka.sh runs: JAVA_HOME's, else the one on PATH.
run_java() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        "$JAVA_HOME/bin/java" "$@"
    else
        java "$@"
    fi
}

java_major() {
    local version
    version="$(run_java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    version="${version#1.}"
    version="${version%%[.+-]*}"
    printf '%s\n' "${version:-0}"
}

# Debian 12 and Ubuntu 22.04+ have openjdk-17; newer releases may only have a later one
# as their default JDK. Without package lists to ask, 17 is the name to give.
java_package() {
    local candidate
    for candidate in openjdk-17-jdk-headless default-jdk-headless; do
        if has apt-cache && apt-cache show "$candidate" >/dev/null 2>&1; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    printf '%s\n' openjdk-17-jdk-headless
}

# --- the list ---------------------------------------------------------------------
missing=()
has make || missing+=(make)
if ! has python3; then
    missing+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
# Maven Central and PyPI over HTTPS.
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    if ! { has java || [[ -x "${JAVA_HOME:-}/bin/java" ]]; } || (($(java_major) < 17)); then
        missing+=(JDK) # named once the package lists are known (java_package)
    fi
    has mvn || missing+=(maven)
fi
if [[ "$purpose" == test ]]; then
    # promtool checks the alerting rules; an end-to-end test runs a real server.
    if ! has prometheus || ! has promtool; then
        missing+=(prometheus)
    fi
    # The dashboard tests drive a real headless browser.
    has chromium || missing+=(chromium)
    # The backup reporters are tested against real repositories.
    has restic || missing+=(restic)
    has borg || missing+=(borgbackup)
    # Certificates for the TLS tests.
    has openssl || missing+=(openssl)
fi

((${#missing[@]})) || exit 0

# --- installing what is missing -------------------------------------------------------
if ! has apt-get; then
    say "this machine lacks ${missing[*]/#JDK/openjdk-17-jdk-headless} (Debian package names)" \
        "and has no apt-get; install them with its package manager, then run make again"
    exit 2
fi
if [[ "$(id -u)" == 0 ]]; then
    sudo=()
elif has sudo && sudo -n true >/dev/null 2>&1; then
    sudo=(sudo -n)
else
    missing=("${missing[@]/#JDK/$(java_package)}")
    say "this machine lacks ${missing[*]}; install them as root, then run make again:" \
        "apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    exit 2
fi
if ((dry_run)); then
    missing=("${missing[@]/#JDK/$(java_package)}")
    printf 'would run: %sapt-get update && %sapt-get install -y --no-install-recommends %s\n' \
        "${sudo[*]:+${sudo[*]} }" "${sudo[*]:+${sudo[*]} }" "${missing[*]}"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
missing=("${missing[@]/#JDK/$(java_package)}")
say "installing ${missing[*]}"
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
