#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module (func FuzzXxx(f *testing.F) in any *_test.go) for a
# fixed time each, several targets at once, one fuzzing worker per target (-parallel 1), and writes
# one log per target, a summary and any crashing input to an output folder.
#
#   scripts/fuzz.sh [-d DURATION] [-j JOBS] [-o OUTDIR] [-r REGEX] [-b BINDIR] [-c CORPUSDIR]
#   scripts/fuzz.sh -build BINDIR         # only build the test binaries (to fuzz where Go is missing)
#
#   -d  fuzzing time per target, as go test's -fuzztime (default 10m; "50000x" counts executions)
#   -j  targets fuzzed at once (default: the number of CPUs)
#   -o  output folder (default $TMPDIR/gotransformers-fuzz-<date>): logs/<pkg>.<Target>.log, crashers/<Target>/,
#       summary.tsv (target, package, status, execs, new interesting inputs)
#   -r  only the targets whose name matches REGEX (grep -E)
#   -b  use the test binaries built by -build in BINDIR instead of `go test` (they are run in their
#       package folder, so seeds and fixtures are found and crashers land in testdata/fuzz/ there);
#       *.test.gz files there are unpacked first
#   -c  keep the corpus the fuzzer grows in CORPUSDIR/<Target> (with -b; go test keeps it in its
#       cache, see go env GOCACHE)
#
# Minimising a new input is capped at 10 s (large JSON inputs otherwise stall the fuzzer there).
# Status per target: ok; crash (a failing input was written: it is copied to crashers/ and replays
# with `go test -run 'FuzzXxx/<file>' ./<pkg>`); flake (a non-zero exit with "context deadline
# exceeded" and no failing input, Go's coordinator race at the end of -fuzztime, go.dev/issue/75804);
# fail (anything else: see the log). The exit status is 1 when any target crashed or failed.
set -u -o pipefail

DURATION=10m
JOBS=$( (command -v nproc >/dev/null && nproc) || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
OUT=""
REGEX='.'
BINDIR=""
BUILD=""
CACHE=""
while [ $# -gt 0 ]; do
	case "$1" in
	-d) DURATION=$2; shift 2 ;;
	-j) JOBS=$2; shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	-r) REGEX=$2; shift 2 ;;
	-b) BINDIR=$2; shift 2 ;;
	-c) CACHE=$2; shift 2 ;;
	-build) BUILD=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "fuzz.sh: unknown argument $1 (see -h)" >&2; exit 2 ;;
	esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
GO=${GO:-go}

# targets prints "<package dir> <FuzzName>" for every fuzz target of the module.
targets() {
	grep -rEo --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\)' . |
		grep -v '/testdata/' |
		sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*).*#\1 \2#' |
		grep -E " .*${REGEX}" | sort -u
}

binname() { echo "${1//\//__}.test"; }

if [ -n "$BUILD" ]; then
	mkdir -p "$BUILD"
	for pkg in $(targets | cut -d' ' -f1 | sort -u); do
		echo "build ./$pkg -> $BUILD/$(binname "$pkg")"
		# -fuzz=. compiles in the coverage counters that guide the fuzzer (without it the binary
		# only mutates blindly and prints a warning)
		CGO_ENABLED=0 $GO test -c -fuzz=. -ldflags='-s -w' -o "$BUILD/$(binname "$pkg")" "./$pkg" || exit 1
	done
	exit 0
fi

[ -n "$OUT" ] || OUT="${TMPDIR:-/tmp}/gotransformers-fuzz-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT/logs" "$OUT/crashers"
OUT=$(cd "$OUT" && pwd)
# WORK holds unpacked binaries and, unless -c names a folder, the generated corpus
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gotransformers-fuzzwork.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[ -n "$CACHE" ] || CACHE="$WORK/corpus"
mkdir -p "$CACHE"
if [ -n "$BINDIR" ]; then
	BINDIR=$(cd "$BINDIR" && pwd)
	for gz in "$BINDIR"/*.test.gz; do
		[ -e "$gz" ] || continue
		gunzip -c "$gz" >"$WORK/$(basename "${gz%.gz}")" && chmod +x "$WORK/$(basename "${gz%.gz}")"
	done
fi

# seconds DURATION stands for (0 for a count such as 50000x)
seconds() {
	local d=$1 total=0 n unit
	case "$d" in *x) echo 0; return ;; esac
	while [[ $d =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
		n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
		case $unit in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
	done
	echo "$total"
}
# the test timeout must outlast the fuzzing time: DURATION plus 10 minutes for the seeds
TIMEOUT=$(( $(seconds "$DURATION") + 600 ))s

run_one() {
	local pkg=$1 name=$2
	local log="$OUT/logs/${pkg//\//_}.$name.log"
	local start rc
	start=$(date +%s)
	if [ -n "$BINDIR" ]; then
		local bin="$BINDIR/$(binname "$pkg")"
		[ -x "$bin" ] || bin="$WORK/$(binname "$pkg")"
		(cd "$pkg" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$DURATION" -test.fuzzminimizetime 10s -test.parallel 1 \
			-test.timeout "$TIMEOUT" -test.fuzzcachedir "$CACHE/$name") >"$log" 2>&1
		rc=$?
	else
		(cd "$pkg" && $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$DURATION" -fuzzminimizetime 10s -parallel 1 -timeout "$TIMEOUT" .) >"$log" 2>&1
		rc=$?
	fi
	local status=ok
	if grep -q 'not built with coverage instrumentation' "$log"; then
		echo "$name: warning: binary without coverage instrumentation (build it with -build): blind mutation only" >&2
	fi
	if grep -q 'Failing input written to' "$log"; then
		status=crash
		mkdir -p "$OUT/crashers/$name"
		grep -o 'Failing input written to [^ ]*' "$log" | awk '{print $5}' | while read -r f; do
			cp "$pkg/$f" "$OUT/crashers/$name/" 2>/dev/null
		done
	elif [ $rc -ne 0 ]; then
		if grep -q 'context deadline exceeded' "$log" && ! grep -q 'panic:' "$log"; then
			status=flake
		else
			status=fail
		fi
	fi
	local execs interesting
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | awk '{print $2}')
	interesting=$(grep -oE 'new interesting: [0-9]+' "$log" | tail -1 | awk '{print $3}')
	printf '%s\t%s\t%s\t%s\t%s\t%ss\n' "$name" "$pkg" "$status" "${execs:-0}" "${interesting:-0}" "$(( $(date +%s) - start ))" >>"$OUT/summary.tsv"
	echo "$name ($pkg): $status, ${execs:-0} execs, ${interesting:-0} new interesting"
}

LIST=$(targets)
N=$(echo "$LIST" | grep -c .)
echo "fuzzing $N targets for $DURATION each, $JOBS at once; output in $OUT"
printf 'target\tpackage\tstatus\texecs\tnew_interesting\twall\n' >"$OUT/summary.tsv"
running=0
while read -r pkg name; do
	[ -n "$name" ] || continue
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$pkg" "$name" &
	running=$((running + 1))
done <<<"$LIST"
wait

echo
column -t -s $'\t' "$OUT/summary.tsv" 2>/dev/null || cat "$OUT/summary.tsv"
if cut -f3 "$OUT/summary.tsv" | grep -qE '^(crash|fail)$'; then
	echo "fuzz.sh: crashes or failures; see $OUT/logs and $OUT/crashers" >&2
	exit 1
fi
