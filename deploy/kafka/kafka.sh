#!/usr/bin/env bash
# A local single-node Apache Kafka (KRaft, broker and controller in one JVM) from
# Apache Kafka's own jars on Maven Central: no Docker, no Kafka install.
#
#   kafka.sh start [--port N] [--state-dir D] [--owner-pid P] [--secured]
#                          start the broker, or reuse the one already running there;
#                          the last line on stdout is its bootstrap address
#                          --secured: also a SASL_SSL listener (SCRAM-SHA-512 users
#                          admin, backupwatch and limited, random passwords) and a
#                          mutual-TLS listener, certificates from a throwaway CA made
#                          at start, and ACLs enforced (StandardAuthorizer; admin and
#                          the plaintext listener's ANONYMOUS are super users, the
#                          others may do only what ACLs grant). What a client needs
#                          is written to <state-dir>/secured.env.
#   kafka.sh stop [--state-dir D]      stop it (SIGTERM, SIGKILL after a timeout)
#   kafka.sh status [--state-dir D]    running and where; exit 3 when not running
#   kafka.sh bootstrap [--state-dir D] print the bootstrap address of the running broker
#   kafka.sh logs [--state-dir D] [-n N]  the end of the broker's log
#   kafka.sh fetch                     download the jars into the cache only
#
# The Kafka version is KAFKA_VERSION from the repository's .env (an environment
# variable of that name wins, as with docker compose). Each start formats a fresh
# data directory: this broker is for development and tests, it keeps no data
# across restarts.
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS  use that broker instead: start starts none
#   BACKUPWATCH_STATE        state dir (pid, address, log, data); default <repo>/var/kafka
#   BACKUPWATCH_CACHE        jar cache; default ~/.cache/backupwatch
#   KAFKA_PORT               client port; default: the previous one if free, else any free port
#   KAFKA_HEAP_OPTS          default -Xms256m -Xmx768m
#   KAFKA_OPTS               more JVM options
#   KAFKA_START_TIMEOUT      seconds to wait for the broker to serve (default 90)
#   KAFKA_STOP_TIMEOUT       seconds between SIGTERM and SIGKILL (default 30)
#   BACKUPWATCH_MVN_ARGS     extra Maven arguments for the download (e.g. -Dmaven.repo.local=...)
set -euo pipefail

# Signals end the script through `exit`, so that EXIT traps (cleanup) run.
trap 'exit 130' INT
trap 'exit 143' TERM

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

log() { printf 'kafka: %s\n' "$*" >&2; }
die() {
    printf 'kafka: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF" >&2
    exit 2
}

# --- settings -----------------------------------------------------------------

kafka_version() {
    if [[ -n "${KAFKA_VERSION:-}" ]]; then
        printf '%s\n' "$KAFKA_VERSION"
        return
    fi
    local line
    line="$(grep -E '^[[:space:]]*KAFKA_VERSION=' "$REPO/.env" 2>/dev/null | tail -n 1 || true)"
    [[ -n "$line" ]] || die "KAFKA_VERSION is not set in $REPO/.env"
    line="${line#*=}"
    line="${line//\"/}"
    line="${line//\'/}"
    printf '%s\n' "${line//[[:space:]]/}"
}

KAFKA_VERSION="$(kafka_version)"
CACHE_ROOT="${BACKUPWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backupwatch}"
CACHE_DIR="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$CACHE_DIR/libs"
STATE="${BACKUPWATCH_STATE:-$REPO/var/kafka}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

# --- prerequisites ------------------------------------------------------------

java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        command -v java
    else
        die "Java 17 or newer is needed to run Kafka $KAFKA_VERSION and none was found;" \
            "install it (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
    fi
}

require_java() {
    JAVA="$(java_bin)"
    local version major
    version="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    major="${version#1.}"
    major="${major%%[.+-]*}"
    if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
        die "Kafka $KAFKA_VERSION needs Java 17 or newer, $JAVA is '${version:-unknown}';" \
            "install it (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
    fi
}

require_python() {
    command -v python3 >/dev/null 2>&1 ||
        die "python3 is needed (to pick free ports and to probe the broker); install python3"
}

# Serialise commands on one directory. The lock's file descriptor is closed for
# every background child (9>&-), or the broker would hold the lock for its life.
lock() {
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$1/.lock"
    flock -w 300 9 || die "timed out waiting for the lock on $1 (another kafka.sh still running?)"
}

# --- jars ---------------------------------------------------------------------

fetch_jars() {
    [[ -f "$LIBS/.complete" ]] && return 0
    mkdir -p "$CACHE_DIR"
    lock "$CACHE_DIR"
    [[ -f "$LIBS/.complete" ]] && return 0
    command -v mvn >/dev/null 2>&1 ||
        die "Maven is needed once to download the Kafka $KAFKA_VERSION jars into $CACHE_DIR;" \
            "install it (Debian/Ubuntu: apt-get install maven)"
    # The download goes to a temporary directory, renamed into place only when
    # complete. Under the lock, a directory without the marker or a temporary one
    # can only be the remains of an interrupted download.
    rm -rf "$LIBS" "$CACHE_DIR"/libs.tmp.*
    local tmp
    tmp="$(mktemp -d "$CACHE_DIR/libs.tmp.XXXXXX")"
    # shellcheck disable=SC2064  # expand $tmp now
    trap "rm -rf '$tmp'" EXIT
    log "downloading the Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (once)"
    # Debian's Maven 3.8 prints bare colour resets even with -B -q: the sed drops them.
    # shellcheck disable=SC2086  # BACKUPWATCH_MVN_ARGS is a list of arguments
    if ! mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" \
        -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$tmp" \
        ${BACKUPWATCH_MVN_ARGS:-} dependency:copy-dependencies 2>&1 |
        sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
        die "could not download the Kafka $KAFKA_VERSION jars with Maven (output above)"
    fi
    [[ -n "$(find "$tmp" -name "kafka_2.13-$KAFKA_VERSION.jar")" ]] ||
        die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing from the download"
    chmod 755 "$tmp"
    touch "$tmp/.complete"
    mv -T "$tmp" "$LIBS"
    trap - EXIT
}

# --- broker process -----------------------------------------------------------

# The file's content without whitespace; nothing when it does not exist.
read_file() {
    if [[ -f "$1" ]]; then
        tr -d '[:space:]' <"$1" 2>/dev/null || true
    fi
}

cmdline_of() {
    if [[ -r "/proc/$1/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
    else
        ps -o command= -p "$1" 2>/dev/null || true
    fi
}

# The pid in the pid file, when that process is alive and is this state dir's
# broker (a pid left by a crash may since have been given to another process).
broker_pid() {
    local pid
    pid="$(read_file "$STATE/kafka.pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(cmdline_of "$pid")" == *"kafka.Kafka $STATE/server.properties"* ]] || return 1
    printf '%s\n' "$pid"
}

probe() { python3 "$HERE/probe.py" "$1" --timeout "${2:-3}"; }

log_tail() {
    local lines="${1:-40}"
    if [[ -s "$STATE/kafka.log" ]]; then
        printf -- '--- last %s lines of %s ---\n' "$lines" "$STATE/kafka.log" >&2
        tail -n "$lines" "$STATE/kafka.log" >&2
        printf -- '--- end of log ---\n' >&2
    fi
}

# Two distinct free ports on 127.0.0.1: the client port (the one asked for, else
# the previous one when still free, else any) and the controller port.
pick_ports() {
    python3 - "$@" <<'PY'
import random, socket, sys

wanted, previous = sys.argv[1], sys.argv[2]
extra = int(sys.argv[3]) if len(sys.argv) > 3 else 0
held = []

def take(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    held.append(s)
    return s.getsockname()[1]

def any_free():
    # Below the kernel's ephemeral range: there no outgoing connection can take
    # the port between this check and the broker's bind.
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low > 12000:
        for port in random.sample(range(low - 10000, low), 200):
            got = take(port)
            if got:
                return got
    return take(0)

if wanted:
    client = take(int(wanted))
    if client is None:
        sys.exit(f"port {wanted} on 127.0.0.1 is in use")
else:
    client = (take(int(previous)) if previous else None) or any_free()
print(client, any_free(), *(any_free() for _ in range(extra)))
PY
}

write_config() {
    local port="$1" controller_port="$2" sasl_port="${3:-}" tls_port="${4:-}"
    local listeners="PLAINTEXT://127.0.0.1:$port" map="PLAINTEXT:PLAINTEXT"
    if [[ -n "$sasl_port" ]]; then
        listeners+=",SASL_SSL://127.0.0.1:$sasl_port,SSL://127.0.0.1:$tls_port"
        map+=",SASL_SSL:SASL_SSL,SSL:SSL"
    fi
    cat >"$STATE/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh; rewritten at every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$listeners,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listeners
listener.security.protocol.map=$map,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$STATE/data

# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Topics are declared by the code that uses them, never created by a typo.
auto.create.topics.enable=false
num.partitions=8
# Tests start consumer groups all the time; do not wait 3 s for more members.
group.initial.rebalance.delay.ms=0

# Small segments: many short-lived topics, little disk.
log.segment.bytes=16777216
# Keep everything. Time retention goes by the records' timestamps, and the fleet
# simulator writes records with simulated (past) times: any finite retention
# would delete them within a minute of being written. Each start wipes the data.
log.retention.ms=-1
num.network.threads=3
num.io.threads=4
EOF
    [[ -n "$sasl_port" ]] || return 0
    cat >>"$STATE/server.properties" <<EOF

# --secured: SCRAM-SHA-512 logins over TLS, mutual TLS, and ACLs enforced.
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.ssl.ssl.client.auth=required
ssl.keystore.type=PEM
ssl.keystore.location=$STATE/tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$STATE/tls/ca.pem
# A client certificate's CN is its user name: CN=backupwatch is User:backupwatch.
ssl.principal.mapping.rules=RULE:^CN=([a-zA-Z0-9._-]+)\$/\$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# The plaintext listener (and the controller's) stays open to the test harness and
# the broker itself; everyone else gets what ACLs grant.
super.users=User:admin;User:ANONYMOUS
EOF
}

# A throwaway CA, the broker's certificate (localhost, 127.0.0.1) and client
# certificates for mutual TLS, all in $STATE/tls; PEM files Kafka reads directly.
make_certs() {
    command -v openssl >/dev/null 2>&1 || die "--secured needs openssl (apt-get install openssl)"
    local dir="$STATE/tls"
    rm -rf "$dir"
    mkdir -p "$dir"
    (
        cd "$dir"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
            -subj "/CN=backupwatch test CA" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr \
            -subj "/CN=localhost" 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out broker.crt -days 2 -extfile broker.ext 2>/dev/null
        cat broker.key broker.crt ca.pem >broker.pem
        for name in backupwatch limited; do
            openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
                -subj "/CN=$name" 2>/dev/null
            openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out "$name.crt" -days 2 2>/dev/null
        done
        rm -f ./*.csr ./*.ext ca.srl
    ) || die "making the test certificates in $dir failed"
    chmod 600 "$dir"/*.key "$dir/broker.pem"
}

# Random passwords of the SCRAM users, one file each ($STATE/users/<name>.password).
make_users() {
    local dir="$STATE/users" name
    rm -rf "$dir"
    mkdir -p "$dir"
    for name in admin backupwatch limited; do
        python3 -c 'import secrets; print(secrets.token_hex(16))' >"$dir/$name.password"
    done
    chmod 600 "$dir"/*.password
}

write_secured_env() {
    local sasl_port="$1" tls_port="$2"
    cat >"$STATE/secured.env" <<EOF
SASL_SSL=127.0.0.1:$sasl_port
SSL=127.0.0.1:$tls_port
CA=$STATE/tls/ca.pem
USERS=$STATE/users
CERTS=$STATE/tls
EOF
}

start_watchdog() {
    local owner="$1" pid="$2"
    [[ -n "$owner" ]] || return 0
    kill -0 "$owner" 2>/dev/null || die "--owner-pid $owner is not a running process"
    local launcher=()
    command -v setsid >/dev/null 2>&1 && launcher=(setsid)
    BACKUPWATCH_STATE="$STATE" nohup "${launcher[@]}" bash "$SELF" _watch "$owner" "$pid" \
        </dev/null >/dev/null 2>&1 9>&- &
    echo $! >"$STATE/watchdog.pid"
}

# Returns 0 once the broker answers, 2 when it exited because one of its ports
# was taken meanwhile (the caller may try other ports); dies on anything else.
wait_until_serving() {
    local pid="$1" address="$2" deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$STATE/kafka.pid"
            if grep -q -E 'BindException|Address already in use' "$STATE/kafka.log"; then
                return 2
            fi
            log_tail 60
            die "the broker (pid $pid) exited during startup; its log is $STATE/kafka.log"
        fi
        if probe "$address" 2 2>/dev/null; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            log_tail 60
            kill -KILL "$pid" 2>/dev/null || true
            rm -f "$STATE/kafka.pid"
            die "the broker did not answer a metadata request at $address within" \
                "${START_TIMEOUT}s (KAFKA_START_TIMEOUT); killed it; its log is $STATE/kafka.log"
        fi
        sleep 0.2
    done
}

# One attempt: fresh data directory, config for the ports, format, launch, wait.
launch_broker() {
    local port="$1" controller_port="$2" sasl_port="${3:-}" tls_port="${4:-}"
    local address="127.0.0.1:$1"
    rm -rf "$STATE/data"
    write_config "$port" "$controller_port" "$sasl_port" "$tls_port"
    local -a scram=()
    if [[ -n "$sasl_port" ]]; then
        make_certs
        make_users
        local name
        for name in admin backupwatch limited; do
            scram+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$(read_file "$STATE/users/$name.password")]")
        done
    fi
    # A Kafka Uuid: 16 random bytes, base64url without padding. Like Kafka's own
    # Uuid.randomUuid, never one starting with "-", which the formatter's argument
    # parser would take for an option.
    local cluster_id
    cluster_id="$(python3 - <<'PY'
import base64, uuid
while True:
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not cluster_id.startswith("-"):
        break
print(cluster_id)
PY
)"
    local -a java_cmd=("$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$HERE/log4j2.properties")
    if ! "${java_cmd[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
        --config "$STATE/server.properties" "${scram[@]}" >"$STATE/format.log" 2>&1; then
        cat "$STATE/format.log" >&2
        die "formatting the storage in $STATE/data failed"
    fi

    log "starting Kafka $KAFKA_VERSION at $address (state in $STATE)"
    local launcher=()
    command -v setsid >/dev/null 2>&1 && launcher=(setsid)
    # shellcheck disable=SC2086  # the *_OPTS are lists of JVM options
    nohup "${launcher[@]}" "${java_cmd[@]}" \
        ${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true ${KAFKA_OPTS:-} \
        kafka.Kafka "$STATE/server.properties" \
        </dev/null >"$STATE/kafka.log" 2>&1 9>&- &
    BROKER_PID=$!
    echo "$BROKER_PID" >"$STATE/kafka.pid"
    echo "$port" >"$STATE/last-port"
    wait_until_serving "$BROKER_PID" "$address" || return $?
    [[ -z "$sasl_port" ]] || write_secured_env "$sasl_port" "$tls_port"
}

cmd_start() {
    local port="${KAFKA_PORT:-}" owner="" secured=0
    while (($#)); do
        case "$1" in
        --port) port="${2:?--port needs a value}" && shift 2 ;;
        --secured) secured=1 && shift ;;
        --state-dir | --data-dir) STATE="${2:?$1 needs a value}" && shift 2 ;;
        --owner-pid) owner="${2:?--owner-pid needs a value}" && shift 2 ;;
        *) die "start: unknown argument '$1'" ;;
        esac
    done
    if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
        log "KAFKA_BOOTSTRAP_SERVERS is set: using the broker at $KAFKA_BOOTSTRAP_SERVERS, starting none"
        printf '%s\n' "$KAFKA_BOOTSTRAP_SERVERS"
        return 0
    fi
    [[ -z "$port" || "$port" =~ ^[0-9]+$ ]] || die "--port must be a number, not '$port'"
    require_java
    require_python
    fetch_jars
    mkdir -p "$STATE"
    STATE="$(cd "$STATE" && pwd)"
    lock "$STATE"

    local pid address
    if pid="$(broker_pid)"; then
        address="$(read_file "$STATE/bootstrap")"
        if [[ -n "$address" ]] && probe "$address" 2>/dev/null; then
            if [[ -n "$port" && "$address" != "127.0.0.1:$port" ]]; then
                log "warning: asked for port $port, but the running broker listens at $address"
            fi
            log "already running (pid $pid) at $address"
            printf '%s\n' "$address"
            return 0
        fi
        log "a broker (pid $pid) is running in $STATE but does not answer; stopping it"
        stop_broker "$pid"
    elif [[ -f "$STATE/kafka.pid" ]]; then
        log "removing the stale pid file (pid $(read_file "$STATE/kafka.pid") is gone)"
    fi
    rm -f "$STATE/kafka.pid" "$STATE/bootstrap" "$STATE/secured.env"

    # The ports are free when picked, but another process may take one before the
    # broker binds it: then try again (a port that was asked for and is now taken
    # stops pick_ports with a message).
    local ports client_port controller_port sasl_port tls_port attempt status
    for attempt in 1 2 3; do
        ports="$(pick_ports "$port" "$(read_file "$STATE/last-port")" $((secured * 2)))" ||
            die "no usable port (see above)"
        read -r client_port controller_port sasl_port tls_port <<<"$ports"
        status=0
        launch_broker "$client_port" "$controller_port" "$sasl_port" "$tls_port" || status=$?
        ((status == 0)) && break
        log "a port was taken by another process before the broker bound it (attempt $attempt)"
        rm -f "$STATE/last-port"
    done
    ((status == 0)) || {
        log_tail 30
        die "could not bind the broker's ports in 3 attempts; its log is $STATE/kafka.log"
    }
    address="127.0.0.1:$client_port"
    echo "$address" >"$STATE/bootstrap"
    start_watchdog "$owner" "$BROKER_PID"
    log "ready (pid $BROKER_PID) after ${SECONDS}s; log: $STATE/kafka.log"
    printf '%s\n' "$address"
}

stop_broker() {
    local pid="$1" deadline=$((SECONDS + STOP_TIMEOUT))
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "pid $pid still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
}

parse_state_arg() {
    while (($#)); do
        case "$1" in
        --state-dir | --data-dir) STATE="${2:?$1 needs a value}" && shift 2 ;;
        -n) LOG_LINES="${2:?-n needs a value}" && shift 2 ;;
        *) die "unknown argument '$1'" ;;
        esac
    done
    if [[ -d "$STATE" ]]; then
        STATE="$(cd "$STATE" && pwd)"
    fi
}

cmd_stop() {
    parse_state_arg "$@"
    if [[ ! -d "$STATE" ]]; then
        log "not running (no $STATE)"
        return 0
    fi
    lock "$STATE"
    local pid watchdog
    watchdog="$(read_file "$STATE/watchdog.pid")"
    if [[ "$watchdog" =~ ^[0-9]+$ && "$watchdog" != "${BACKUPWATCH_WATCHDOG:-}" ]] &&
        [[ "$(cmdline_of "$watchdog")" == *" _watch "* ]]; then
        kill -TERM "$watchdog" 2>/dev/null || true
    fi
    if pid="$(broker_pid)"; then
        stop_broker "$pid"
        log "stopped (pid $pid)"
    else
        log "not running"
    fi
    rm -f "$STATE/kafka.pid" "$STATE/bootstrap" "$STATE/watchdog.pid"
}

cmd_status() {
    parse_state_arg "$@"
    if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
        local first="${KAFKA_BOOTSTRAP_SERVERS%%,*}"
        first="${first#*://}"
        if probe "$first" 2>/dev/null; then
            echo "external broker (KAFKA_BOOTSTRAP_SERVERS) answering at $KAFKA_BOOTSTRAP_SERVERS"
            return 0
        fi
        echo "external broker (KAFKA_BOOTSTRAP_SERVERS) not answering at $KAFKA_BOOTSTRAP_SERVERS"
        return 3
    fi
    local pid address
    if ! pid="$(broker_pid)"; then
        echo "not running (state dir $STATE)"
        return 3
    fi
    address="$(read_file "$STATE/bootstrap")"
    if [[ -n "$address" ]] && probe "$address" 2>/dev/null; then
        echo "running (pid $pid, Kafka $KAFKA_VERSION) at $address"
        return 0
    fi
    echo "pid $pid is alive but does not answer at ${address:-an unknown address} (starting, or stuck: see $STATE/kafka.log)"
    return 3
}

cmd_bootstrap() {
    parse_state_arg "$@"
    if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
        printf '%s\n' "$KAFKA_BOOTSTRAP_SERVERS"
        return 0
    fi
    broker_pid >/dev/null || die "not running (state dir $STATE); start it with: $SELF start"
    printf '%s\n' "$(read_file "$STATE/bootstrap")"
}

cmd_logs() {
    LOG_LINES=40
    parse_state_arg "$@"
    [[ -f "$STATE/kafka.log" ]] || die "no log in $STATE"
    tail -n "$LOG_LINES" "$STATE/kafka.log"
}

# Internal: stop the broker once the process that started it (a test session) is gone.
cmd_watch() {
    local owner="$1" pid="$2"
    while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        BACKUPWATCH_WATCHDOG="$$" cmd_stop
    fi
}

main() {
    (($#)) || usage
    local cmd="$1"
    shift
    case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    bootstrap) cmd_bootstrap "$@" ;;
    logs) cmd_logs "$@" ;;
    fetch)
        fetch_jars
        log "jars for Kafka $KAFKA_VERSION are in $LIBS"
        ;;
    _watch) cmd_watch "$@" ;;
    -h | --help | help) usage ;;
    *)
        log "unknown command '$cmd'"
        usage
        ;;
    esac
}

main "$@"
