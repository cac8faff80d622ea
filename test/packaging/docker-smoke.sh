#!/usr/bin/env bash
# Builds the Dockerfile and checks the image end to end on a machine with a
# Docker engine. It is not part of `make test` or CI (neither has an
# engine); run it by hand:
#
#   test/packaging/docker-smoke.sh
#   ZKD_SMOKE_STANDIN=1 test/packaging/docker-smoke.sh   # no registry access
#
# What it checks, with a container on --network host, every listener on
# 127.0.0.1 and ports picked free at run time (the mounted zoo.cfg moves
# clientPort, the AdminServer and the metrics port off 2181/8080/7000):
#   - the image builds (docker build --network host: `go mod download`
#     needs the Go module proxy);
#   - zkCli.sh create/get works against the container;
#   - the server runs as uid 65532 (distroless's nonroot), per docker top
#     and the image's USER;
#   - /metrics and /commands/ruok answer;
#   - the HEALTHCHECK (the image's command; only the timing is shortened
#     here) turns healthy;
#   - the data lands in the /data volume (the transaction log holds the
#     znode) and survives `docker restart` and a new container on the
#     same volume;
#   - docker stop (SIGTERM) ends the server with exit code 0.
#
# ZKD_SMOKE_STANDIN=1 makes local stand-ins for base images that are not
# present (never replacing one that is), for machines that cannot pull
# golang:1.26 or gcr.io/distroless/static-debian12:nonroot:
#   - golang:1.26: a Debian bookworm rootfs (debootstrap, with make, git and
#     ca-certificates) plus this machine's Go (`go env GOROOT`) and CA
#     bundle, imported with the golang image's PATH, GOPATH and
#     GOTOOLCHAIN=local;
#   - distroless: only /etc/passwd and /etc/group with nonroot
#     (65532:65532), /home/nonroot and /tmp.
# The rootfs folders live under ZKD_SMOKE_STANDIN_DIR
# (/tmp/zkd-docker-standin); this needs root, debootstrap and a Debian
# mirror (ZKD_SMOKE_MIRROR, default http://deb.debian.org/debian).
#
# Other settings: ZKD_SMOKE_IMAGE (tag built, default zkd:smoke), ZKCLI
# (default /usr/share/zookeeper/bin/zkCli.sh, Debian's zookeeper package),
# ZKD_SMOKE_KEEP=1 keeps the container, volume and image afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE=${ZKD_SMOKE_IMAGE:-zkd:smoke}
ZKCLI=${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
STANDIN_DIR=${ZKD_SMOKE_STANDIN_DIR:-/tmp/zkd-docker-standin}
MIRROR=${ZKD_SMOKE_MIRROR:-http://deb.debian.org/debian}
NAME=zkd-smoke-$$
VOLUME=zkd-smoke-$$-data
WORK=$(mktemp -d /tmp/zkd-docker-smoke.XXXXXX)

log() { printf '== %s\n' "$*" >&2; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	if docker inspect "$NAME" >/dev/null 2>&1; then
		printf -- '--- docker logs %s (last 30 lines)\n' "$NAME" >&2
		docker logs --tail 30 "$NAME" >&2 2>&1 || true
	fi
	exit 1
}

cleanup() {
	if [ "${ZKD_SMOKE_KEEP:-}" = 1 ]; then
		log "kept container $NAME, volume $VOLUME, image $IMAGE, files $WORK"
		return
	fi
	docker rm -fv "$NAME" >/dev/null 2>&1 || true
	docker volume rm "$VOLUME" >/dev/null 2>&1 || true
	docker rmi "$IMAGE" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

docker info >/dev/null 2>&1 || fail "docker info: no Docker engine reachable"
[ -x "$ZKCLI" ] || fail "$ZKCLI not found (apt-get install zookeeper, or set ZKCLI)"
command -v curl >/dev/null || fail "curl not found"

# --- stand-in base images -------------------------------------------------

# The FROM lines of the Dockerfile, with ARG defaults substituted.
go_version=$(sed -n 's/^ARG GO_VERSION=//p' "$ROOT/Dockerfile")
golang_image="golang:$go_version"
runtime_image=$(awk '/^FROM/ {img=$2} END {print img}' "$ROOT/Dockerfile")

make_golang_standin() {
	local rootfs=$STANDIN_DIR/golang-rootfs goroot
	goroot=$(go env GOROOT)
	log "stand-in $golang_image: bookworm rootfs in $rootfs, Go from $goroot"
	if [ ! -x "$rootfs/usr/bin/make" ]; then
		[ "$(id -u)" = 0 ] || fail "the golang stand-in needs root (debootstrap)"
		command -v debootstrap >/dev/null || fail "debootstrap not found (apt-get install debootstrap)"
		log "debootstrap bookworm from $MIRROR"
		rm -rf "$rootfs"
		mkdir -p "$STANDIN_DIR"
		debootstrap --variant=minbase --include=make,git,ca-certificates \
			bookworm "$rootfs" "$MIRROR" >"$STANDIN_DIR/debootstrap.log" 2>&1 ||
			fail "debootstrap failed, see $STANDIN_DIR/debootstrap.log"
		rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	fi
	rm -rf "$rootfs/usr/local/go"
	cp -a "$goroot" "$rootfs/usr/local/go"
	mkdir -p "$rootfs/go/bin" "$rootfs/go/src"
	# Trust what this machine trusts, so the build reaches the module proxy
	# the way `go` on this machine does.
	cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
	tar -C "$rootfs" --numeric-owner -c . | docker import \
		-c 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-c "ENV GOLANG_VERSION=$(go env GOVERSION | sed 's/^go//')" \
		-c 'ENV GOTOOLCHAIN=local' -c 'ENV GOPATH=/go' -c 'WORKDIR /go' \
		-m "local stand-in for $golang_image (docker-smoke.sh)" - "$golang_image" >/dev/null
}

make_runtime_standin() {
	local rootfs=$STANDIN_DIR/distroless-rootfs
	log "stand-in $runtime_image: passwd/group with nonroot 65532 in $rootfs"
	rm -rf "$rootfs"
	mkdir -p "$rootfs/etc" "$rootfs/home/nonroot" "$rootfs/tmp"
	printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
		'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
		'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$rootfs/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$rootfs/etc/group"
	chmod 1777 "$rootfs/tmp"
	local owner=(--owner=0 --group=0)
	if [ "$(id -u)" = 0 ]; then
		# /home/nonroot belongs to nonroot, as in distroless.
		chown 65532:65532 "$rootfs/home/nonroot"
		owner=()
	fi
	tar -C "$rootfs" --numeric-owner "${owner[@]}" -c . |
		docker import -c 'USER 65532' -c 'WORKDIR /home/nonroot' \
			-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			-m "local stand-in for $runtime_image (docker-smoke.sh)" - "$runtime_image" >/dev/null
}

if [ "${ZKD_SMOKE_STANDIN:-}" = 1 ]; then
	docker image inspect "$golang_image" >/dev/null 2>&1 || make_golang_standin
	docker image inspect "$runtime_image" >/dev/null 2>&1 || make_runtime_standin
fi

# --- build ----------------------------------------------------------------

version=$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo dev)
log "docker build -t $IMAGE (VERSION=$version; log in $WORK/build.log)"
docker build --network host -t "$IMAGE" --build-arg VERSION="$version" "$ROOT" \
	>"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; fail "docker build"; }
[ "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" = 65532:65532 ] ||
	fail "image USER is $(docker image inspect -f '{{.Config.User}}' "$IMAGE"), want 65532:65532"

# --- configuration on free loopback ports -------------------------------

# freeport prints a TCP port nothing listens on, not in the list given.
freeport() {
	local p
	for _ in $(seq 200); do
		if command -v python3 >/dev/null; then
			p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		else
			p=$((20000 + RANDOM % 40000))
		fi
		case " $* " in *" $p "*) continue ;; esac
		if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return
		fi
	done
	fail "no free port found"
}
client_port=$(freeport)
admin_port=$(freeport "$client_port")
metrics_port=$(freeport "$client_port" "$admin_port")

cfg=$WORK/zoo.cfg
sed -e "s/^clientPort=.*/clientPort=$client_port\nclientPortAddress=127.0.0.1/" \
	-e "s/^admin.serverPort=.*/admin.serverPort=$admin_port/" \
	-e "s/^admin.serverAddress=.*/admin.serverAddress=127.0.0.1/" \
	-e "s/^metricsProvider.httpPort=.*/metricsProvider.httpPort=$metrics_port/" \
	-e "s/^metricsProvider.httpHost=.*/metricsProvider.httpHost=127.0.0.1/" \
	"$ROOT/deploy/docker/zoo.cfg" >"$cfg"
for want in "clientPort=$client_port" clientPortAddress=127.0.0.1 \
	"admin.serverPort=$admin_port" admin.serverAddress=127.0.0.1 \
	"metricsProvider.httpPort=$metrics_port" metricsProvider.httpHost=127.0.0.1; do
	grep -qx "$want" "$cfg" || fail "zoo.cfg: could not set $want (deploy/docker/zoo.cfg changed?)"
done
chmod 644 "$cfg"
log "ports: client $client_port, AdminServer $admin_port, metrics $metrics_port"

# --- run and check --------------------------------------------------------

start() {
	docker run -d --name "$NAME" --network host \
		--health-interval 2s --health-start-period 2s \
		-v "$cfg:/etc/zkd/zoo.cfg:ro" -v "$VOLUME:/data" "$IMAGE" >/dev/null
}

# wait_healthy waits for the image's HEALTHCHECK to pass.
wait_healthy() {
	local status=
	for _ in $(seq 60); do
		status=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
		[ "$status" = healthy ] && return
		[ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || fail "container exited"
		sleep 1
	done
	docker inspect -f '{{json .State.Health}}' "$NAME" >&2
	fail "HEALTHCHECK: $status after 60s"
}

zkcli() { "$ZKCLI" -server "127.0.0.1:$client_port" "$@" 2>&1; }

# zk_get prints the data of a znode (the last line of zkCli.sh's output).
zk_get() { zkcli get "$1" | tail -n 1; }

log "docker run $NAME"
start
wait_healthy
log "HEALTHCHECK healthy: $(docker inspect -f '{{(index .State.Health.Log 0).Output}}' "$NAME" | tr -d '\n')"
docker inspect -f '{{json .Config.Healthcheck.Test}}' "$NAME" | grep -q '"--config","/etc/zkd/zoo.cfg","ruok"' ||
	fail "unexpected HEALTHCHECK $(docker inspect -f '{{json .Config.Healthcheck.Test}}' "$NAME")"

uids=$(docker top "$NAME" -o pid,uid,args | awk 'NR > 1 && /zkd server/ {print $2}')
[ "$uids" = 65532 ] || fail "zkd server runs as uid '$uids', want 65532"
log "zkd server runs as uid 65532"

value="docker-smoke-$$"
zkcli create /zkd-smoke "$value" | grep -q 'Created /zkd-smoke' || fail "zkCli.sh create /zkd-smoke"
[ "$(zk_get /zkd-smoke)" = "$value" ] || fail "zkCli.sh get /zkd-smoke: $(zk_get /zkd-smoke)"
log "zkCli.sh create/get /zkd-smoke: ok"

metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") || fail "GET /metrics"
grep -q '^znode_count ' <<<"$metrics" || fail "/metrics has no znode_count"
ruok=$(curl -fsS "http://127.0.0.1:$admin_port/commands/ruok") || fail "GET /commands/ruok"
grep -q '"error" *: *null' <<<"$ruok" || fail "/commands/ruok: $ruok"
log "/metrics ($(grep '^znode_count ' <<<"$metrics")) and /commands/ruok: ok"

# The write is in the volume's transaction log.
docker cp "$NAME:/data/version-2" "$WORK/version-2" >/dev/null
ls "$WORK"/version-2/log.* >/dev/null 2>&1 || fail "no transaction log in /data/version-2"
grep -lq "$value" "$WORK"/version-2/log.* || fail "/data/version-2/log.* does not hold the write"
log "/data/version-2: $(cd "$WORK/version-2" && echo *)"

log "docker restart"
docker restart "$NAME" >/dev/null
wait_healthy
[ "$(zk_get /zkd-smoke)" = "$value" ] || fail "after restart: get /zkd-smoke: $(zk_get /zkd-smoke)"
log "after docker restart: /zkd-smoke = $value"

docker stop "$NAME" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ] || fail "docker stop: exit code $code, want 0"
log "docker stop: exit code 0"

log "new container on volume $VOLUME"
docker rm "$NAME" >/dev/null
start
wait_healthy
[ "$(zk_get /zkd-smoke)" = "$value" ] || fail "new container: get /zkd-smoke: $(zk_get /zkd-smoke)"
log "new container: /zkd-smoke = $value"

log "PASS"
