#!/usr/bin/env bash
# cluster.sh starts, on one machine, the deployment docs/deploy.md describes
# for real hosts: a 4-node distributed MinIO (erasure-coded, one drive per
# node, an Object Lock bucket), 3 eseal replicas and HAProxy in front, on
# 127.0.0.1. Each MinIO node and each replica runs in a network namespace of
# its own with a veth address on a private bridge: distributed MinIO refuses
# loopback endpoints, so every node needs an address of its own.
#
#   scripts/cluster.sh up            start it (runs down first if a state dir is left)
#   scripts/cluster.sh down          stop exactly the recorded processes and those
#                                    in the cluster's namespaces, remove namespaces,
#                                    links and the state dir; safe to repeat, also
#                                    after a half-failed up
#   scripts/cluster.sh status        what runs, by member, and HAProxy's view
#   scripts/cluster.sh start MEMBER  start one member again after it was killed
#                                    (m1…m4, e1…e3, haproxy) and wait until it
#                                    is healthy (MinIO) or ready (eseal)
#
# Root and iproute2 (ip netns), Debian's haproxy, curl and the MinIO binary
# (scripts/minio.sh) are needed. Settings, from the environment:
#
#   ESEAL_CLUSTER_DIR    state dir: data, logs, keys, pids (/tmp/eseal-cluster)
#   ESEAL_CLUSTER_NAME   prefix of namespaces and links, ≤ 6 characters (esc)
#   ESEAL_CLUSTER_NET    the /24 the nodes live on, as three octets (10.77.0)
#   ESEAL_CLUSTER_PORT   HAProxy's port on 127.0.0.1 (18080)
#   ESEAL_CLUSTER_GRACE  the replicas' recovery_grace (1m)
#   ESEAL_CLUSTER_ESEAL  an eseal binary to run (default: go build into the state dir)
#   ESEAL_MINIO          the MinIO binary (default ~/.cache/eseal/bin/minio)
#
# The API keys of the demo seal are in $ESEAL_CLUSTER_DIR/init.json (0600),
# the key-encryption key in $ESEAL_CLUSTER_DIR/master.key (0600).
#
# The S3 credentials are exported in subshells on purpose: only the replicas
# and init get them.
# shellcheck disable=SC2030,SC2031
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)

DIR=${ESEAL_CLUSTER_DIR:-/tmp/eseal-cluster}
MINIO_NODES=(m1 m2 m3 m4)
REPLICAS=(e1 e2 e3)
BUCKET=eseal

die() {
	echo "cluster: $*" >&2
	exit 1
}

# settings reads the cluster's recorded settings (written first thing by up,
# so down finds them after a half-failed up), else the environment's.
settings() {
	if [ -f "$DIR/cluster.env" ]; then
		# shellcheck source=/dev/null
		. "$DIR/cluster.env"
	else
		NAME=${ESEAL_CLUSTER_NAME:-esc}
		NET=${ESEAL_CLUSTER_NET:-10.77.0}
		PORT=${ESEAL_CLUSTER_PORT:-18080}
		GRACE=${ESEAL_CLUSTER_GRACE:-1m}
	fi
	[[ $NAME =~ ^[a-z][a-z0-9]{0,5}$ ]] || die "ESEAL_CLUSTER_NAME=$NAME: want 1 to 6 of [a-z0-9], starting with a letter"
	[[ $NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "ESEAL_CLUSTER_NET=$NET: want three octets such as 10.77.0"
	[[ $PORT =~ ^[0-9]{1,5}$ ]] || die "ESEAL_CLUSTER_PORT=$PORT: want a port number"
	BRIDGE=$NAME-br
	HOST_IP=$NET.1
	S3="s3://$HOST_IP:9000/$BUCKET?tls=false"
	ENDPOINT=http://127.0.0.1:$PORT
}

# ip_of MEMBER is the member's address: m1…m4 → .11…14, e1…e3 → .21…23.
ip_of() {
	case "$1" in
	m?) echo "$NET.1${1#m}" ;;
	e?) echo "$NET.2${1#e}" ;;
	*) die "no member $1" ;;
	esac
}

ns_of() { echo "$NAME-$1"; }

need() {
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
	command -v ip >/dev/null || die "no ip command (apt-get install iproute2)"
	command -v haproxy >/dev/null || die "no haproxy (apt-get install haproxy, or scripts/deps.sh)"
	command -v curl >/dev/null || die "no curl (apt-get install curl)"
	MINIO=${ESEAL_MINIO:-$HOME/.cache/eseal/bin/minio}
	[ -x "$MINIO" ] || die "no MinIO binary at $MINIO (scripts/minio.sh builds it)"
}

# alive PID NAME: the process exists and runs the binary NAME, so a recycled
# PID is never mistaken for a member.
alive() {
	local pid=$1 want=$2 exe
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[ "$(basename "${exe% (deleted)}")" = "$want" ]
}

binary_of() {
	case "$1" in
	m?) echo minio ;;
	e?) echo eseal ;;
	haproxy) echo haproxy ;;
	esac
}

pid_of() { cat "$DIR/pids/$1.pid" 2>/dev/null || true; }

# wait_http URL: until it answers 200, at most 90 s.
wait_http() {
	local url=$1 i
	for ((i = 0; i < 450; i++)); do
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

net_up() {
	ip link add "$BRIDGE" type bridge
	ip addr add "$HOST_IP/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	local m ns
	for m in "${MINIO_NODES[@]}" "${REPLICAS[@]}"; do
		ns=$(ns_of "$m")
		ip netns add "$ns"
		ip link add "$NAME-$m" type veth peer name "$NAME-$m-p"
		ip link set "$NAME-$m-p" netns "$ns"
		ip link set "$NAME-$m" master "$BRIDGE" up
		ip -n "$ns" link set "$NAME-$m-p" name eth0
		ip -n "$ns" addr add "$(ip_of "$m")/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" link set lo up
	done
}

# start_member MEMBER starts one member in its namespace (HAProxy in the
# host's) and records its PID.
start_member() {
	local m=$1 log=$DIR/logs/$1.log pid
	case "$m" in
	m?)
		local endpoints=() n
		for n in "${MINIO_NODES[@]}"; do
			endpoints+=("http://$(ip_of "$n"):9000$DIR/minio/$n")
		done
		mkdir -p "$DIR/minio/$m"
		# shellcheck source=/dev/null
		(set -a && . "$DIR/minio.env" && set +a &&
			exec nohup ip netns exec "$(ns_of "$m")" "$MINIO" server --quiet \
				--address "$(ip_of "$m"):9000" --console-address "$(ip_of "$m"):9001" \
				"${endpoints[@]}") </dev/null >>"$log" 2>&1 &
		pid=$!
		;;
	e?)
		mkdir -p "$DIR/eseal/$m"
		# shellcheck source=/dev/null
		(set -a && . "$DIR/minio.env" && set +a &&
			export AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD &&
			exec nohup ip netns exec "$(ns_of "$m")" "$ESEAL" serve \
				--dir "$DIR/eseal/$m" --store "$S3" --master-key-file "$DIR/master.key" --node "$m" \
				--config "$DIR/eseal.yaml" --addr "$(ip_of "$m"):8080" --public-url "$ENDPOINT" --insecure) \
			</dev/null >>"$log" 2>&1 &
		pid=$!
		;;
	haproxy)
		haproxy -D -p "$DIR/pids/haproxy.pid" -f "$DIR/haproxy.cfg" >>"$log" 2>&1
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[ -s "$DIR/pids/haproxy.pid" ] && break
			sleep 0.1
		done
		pid=$(head -1 "$DIR/pids/haproxy.pid")
		;;
	*) die "no member $m (m1…m4, e1…e3, haproxy)" ;;
	esac
	echo "$pid" >"$DIR/pids/$m.pid"
	# The PID runs the subshell, nohup and ip before it runs the member.
	local i
	for ((i = 0; i < 100; i++)); do
		alive "$pid" "$(binary_of "$m")" && return 0
		kill -0 "$pid" 2>/dev/null || die "$m exited at once; see $log: $(tail -5 "$log")"
		sleep 0.1
	done
	die "$m (pid $pid) is not running $(binary_of "$m") after 10 s"
}

write_configs() {
	umask 077
	cat >"$DIR/cluster.env" <<EOF
NAME=$NAME
NET=$NET
PORT=$PORT
GRACE=$GRACE
EOF
	mkdir -p "$DIR/pids" "$DIR/logs" "$DIR/minio" "$DIR/eseal" "$DIR/bin"
	if [ ! -f "$DIR/minio.env" ]; then
		cat >"$DIR/minio.env" <<EOF
MINIO_ROOT_USER=eseal-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
MINIO_ROOT_PASSWORD=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
MINIO_UPDATE=off
MINIO_BROWSER=off
MINIO_CI_CD=on
EOF
	fi
	[ -f "$DIR/master.key" ] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/master.key"
	cat >"$DIR/eseal.yaml" <<EOF
# The replicas' configuration (docs/deploy.md); flags add the per-replica
# address, data dir and node name.
recovery_grace: $GRACE
trusted_proxies: ["$HOST_IP"]
EOF
	{
		cat <<EOF
# HAProxy in front of 3 eseal replicas (health: /readyz) and of the 4 MinIO
# nodes the replicas write to (health: /minio/health/live).
global
	maxconn 2048

defaults
	mode http
	timeout connect 2s
	timeout client 2m
	timeout server 2m
	timeout http-request 30s
	retries 3
	option redispatch

frontend eseal
	bind 127.0.0.1:$PORT
	option forwardfor
	default_backend eseal

backend eseal
	balance leastconn
	option httpchk GET /readyz
	http-check expect status 200
	default-server inter 2s fall 2 rise 2
EOF
		for e in "${REPLICAS[@]}"; do
			printf '\tserver %s %s:8080 check\n' "$e" "$(ip_of "$e")"
		done
		cat <<EOF

frontend minio
	bind $HOST_IP:9000
	mode tcp
	default_backend minio

backend minio
	mode tcp
	balance leastconn
	option httpchk GET /minio/health/live
	http-check expect status 200
	default-server inter 2s fall 2 rise 2
EOF
		for m in "${MINIO_NODES[@]}"; do
			printf '\tserver %s %s:9000 check\n' "$m" "$(ip_of "$m")"
		done
	} >"$DIR/haproxy.cfg"
	umask 022
}

cmd_up() {
	need
	if [ -e "$DIR" ]; then
		echo "cluster: $DIR exists; taking the old cluster down first" >&2
		cmd_down
	fi
	settings
	mkdir -p "$DIR"
	chmod 700 "$DIR"
	write_configs
	trap 'echo "cluster: up failed; scripts/cluster.sh down removes what it made" >&2' ERR

	ESEAL=${ESEAL_CLUSTER_ESEAL:-}
	if [ -z "$ESEAL" ]; then
		ESEAL=$DIR/bin/eseal
		echo "cluster: building eseal into $ESEAL" >&2
		(cd "$REPO" && CGO_ENABLED=0 go build -o "$ESEAL" ./cmd/eseal) # as make build ships it
	fi
	[ -x "$ESEAL" ] || die "no eseal binary at $ESEAL"
	echo "ESEAL=$ESEAL" >>"$DIR/cluster.env"

	net_up
	local m
	for m in "${MINIO_NODES[@]}"; do
		start_member "$m"
	done
	for m in "${MINIO_NODES[@]}"; do
		wait_http "http://$(ip_of "$m"):9000/minio/health/cluster" || die "MinIO node $m not healthy after 90 s; see $DIR/logs/$m.log"
	done
	start_member haproxy

	# Once, against the cluster's store: the organisation, the demo seal and
	# its keys; the bucket is created with Object Lock by the S3 backend.
	# The demo seal takes its authorizer key's grants (policy key), so an
	# approval system can stamp without a responsible person's passkey.
	# shellcheck source=/dev/null
	(set -a && . "$DIR/minio.env" && set +a &&
		export AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD &&
		umask 077 &&
		"$ESEAL" init --json --dir "$DIR/eseal/init" --store "$S3" --master-key-file "$DIR/master.key" >"$DIR/init.json" &&
		seal=$(sed -n 's/.*"seal_id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$DIR/init.json" | head -1) &&
		"$ESEAL" seal policy "$seal" key --dir "$DIR/eseal/init" --store "$S3" --master-key-file "$DIR/master.key" >/dev/null)

	for m in "${REPLICAS[@]}"; do
		start_member "$m"
	done
	for m in "${REPLICAS[@]}"; do
		wait_http "http://$(ip_of "$m"):8080/readyz" || die "replica $m not ready after 90 s; see $DIR/logs/$m.log"
	done
	wait_http "$ENDPOINT/readyz" || die "HAProxy does not reach a ready replica; see $DIR/logs/haproxy.log"
	trap - ERR
	cat <<EOF
cluster up: eseal at $ENDPOINT (HAProxy → ${REPLICAS[*]} on $NET.21-23:8080)
  MinIO:       ${MINIO_NODES[*]} on $NET.11-14:9000, bucket $BUCKET (Object Lock), via $HOST_IP:9000
  API keys:    $DIR/init.json (admin_key, authorizer_key, stamper_key, archivist_key; seal_id)
  master key:  $DIR/master.key;  MinIO credentials: $DIR/minio.env
  logs, pids:  $DIR/logs, $DIR/pids;  stop with: scripts/cluster.sh down
EOF
}

cmd_down() {
	settings
	local f pid m ns
	# The recorded processes, each only if it still runs its binary.
	if [ -d "$DIR/pids" ]; then
		for f in "$DIR"/pids/*.pid; do
			[ -e "$f" ] || continue
			m=$(basename "$f" .pid)
			pid=$(head -1 "$f" || true)
			if alive "$pid" "$(binary_of "$m")"; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done
	fi
	# Anything else left inside the cluster's namespaces.
	for ns in $(ip netns list 2>/dev/null | awk -v p="$NAME-" 'index($1, p) == 1 { print $1 }'); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
	sleep 0.2
	for ns in $(ip netns list 2>/dev/null | awk -v p="$NAME-" 'index($1, p) == 1 { print $1 }'); do
		ip netns delete "$ns" 2>/dev/null || true
	done
	for m in "${MINIO_NODES[@]}" "${REPLICAS[@]}"; do
		ip link delete "$NAME-$m" 2>/dev/null || true
	done
	ip link delete "$BRIDGE" 2>/dev/null || true
	# Only a directory up made (cluster.env is its first file) is removed.
	if [ -f "$DIR/cluster.env" ] || { [ -d "$DIR" ] && [ -z "$(ls -A "$DIR")" ]; }; then
		rm -rf "$DIR"
	elif [ -e "$DIR" ]; then
		echo "cluster: $DIR is not a cluster state dir (no cluster.env); left alone" >&2
	fi
	echo "cluster down: $NAME (namespaces, links, processes, $DIR removed)"
}

cmd_status() {
	settings
	[ -d "$DIR/pids" ] || {
		echo "cluster: not up ($DIR)"
		return 0
	}
	local m pid state
	for m in haproxy "${MINIO_NODES[@]}" "${REPLICAS[@]}"; do
		pid=$(pid_of "$m")
		state=dead
		alive "$pid" "$(binary_of "$m")" && state=running
		case "$m" in
		m?) printf '%-8s pid %-8s %-8s %s:9000 cluster-health %s\n' "$m" "${pid:--}" "$state" "$(ip_of "$m")" \
			"$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$(ip_of "$m"):9000/minio/health/cluster" || true)" ;;
		e?) printf '%-8s pid %-8s %-8s %s:8080 readyz %s\n' "$m" "${pid:--}" "$state" "$(ip_of "$m")" \
			"$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$(ip_of "$m"):8080/readyz" || true)" ;;
		*) printf '%-8s pid %-8s %-8s %s\n' "$m" "${pid:--}" "$state" "$ENDPOINT" ;;
		esac
	done
}

cmd_start() {
	local m=${1:-}
	[ -n "$m" ] || die "start: which member? (m1…m4, e1…e3, haproxy)"
	need
	settings
	[ -f "$DIR/cluster.env" ] || die "not up ($DIR)"
	ESEAL=${ESEAL:-}
	binary_of "$m" >/dev/null
	[ -n "$(binary_of "$m")" ] || die "no member $m (m1…m4, e1…e3, haproxy)"
	if alive "$(pid_of "$m")" "$(binary_of "$m")"; then
		die "$m is running (pid $(pid_of "$m"))"
	fi
	start_member "$m"
	case "$m" in
	m?) wait_http "http://$(ip_of "$m"):9000/minio/health/cluster" || die "MinIO node $m not healthy after 90 s; see $DIR/logs/$m.log" ;;
	e?) wait_http "http://$(ip_of "$m"):8080/readyz" || die "replica $m not ready after 90 s; see $DIR/logs/$m.log" ;;
	esac
	echo "cluster: $m started (pid $(pid_of "$m"))"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
start) cmd_start "${2:-}" ;;
*)
	echo "usage: scripts/cluster.sh up|down|status|start MEMBER" >&2
	exit 2
	;;
esac
