#!/usr/bin/env bash
# npm run bench: data-plane (wrk → backend directly / through tendril-proxy / through nginx),
# control-plane (1,000 and 10,000 HTTPRoutes, one-route change) benchmarks, on 127.0.0.1 only, and
# (as root) the datapath bench (pod to pod between network namespaces: no policy, BPF policy,
# iptables at 10/1,000/10,000 rules, L7 redirect with 1/100/10,000 HTTP rules) and the L7 policy
# bench (rule engine, policy computation, policy edit → enforcement as root). Prints markdown and writes it to tmp/bench-results.md. Not
# part of the test suite.
#
# Needs: npm dependencies (scripts/install.sh), and the Debian packages nginx and wrk (and, for the
# datapath bench, iptables and curl), which this script installs with apt-get when they are missing
# and it runs as root.
#
# Environment (all optional):
#   BENCH_DURATION_S=10 BENCH_WARMUP_S=3 BENCH_CONNECTIONS=50   wrk settings per target
#   BENCH_ROUTE_COUNTS=1000,10000 BENCH_SERVICES=300 BENCH_CHANGE_REPEATS=5
#   BENCH_ONLY=data|control|datapath|l7|dns   run one bench
#   BENCH_DNS_QUERIES=20000
#   BENCH_DATAPATH_DURATION_S=3 BENCH_DATAPATH_ROUNDS=3 BENCH_DATAPATH_SIZES=10,1000,10000
#   BENCH_L7_RULES=1,100,10000 BENCH_L7_ENDPOINTS=1000 BENCH_L7_POLICIES=1000 BENCH_L7_EDITS=5
#   BENCH_PROFILE=1              also CPU-profile tendril-proxy under load and each control-plane
#                                phase into tmp/bench-profiles/, with markdown summaries next to them
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

if [ ! -d node_modules ]; then
  bash scripts/install.sh
fi

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

install_debian_packages() {
  local missing=()
  have nginx || missing+=(nginx)
  have wrk || missing+=(wrk)
  if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY}" = datapath ]; then
    have iptables || missing+=(iptables)
    have curl || missing+=(curl)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bench: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "bench: installing ${missing[*]} with apt-get" >&2
  # Keep the package's own nginx service (port 80 on all addresses) from starting: the bench runs
  # its own instances on 127.0.0.1 only. policy-rc.d is Debian's switch for exactly this.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; } ||
    { [ $created_policy -eq 1 ] && rm -f "$policy"; exit 1; }
  [ $created_policy -eq 1 ] && rm -f "$policy"
  return 0
}
install_debian_packages

mkdir -p tmp
RESULTS="$REPO/tmp/bench-results.md"
PART="$(mktemp "${TMPDIR:-/tmp}/tendril-bench-part.XXXXXX")"
trap 'rm -f "$PART"' EXIT

export TSX_TSCONFIG_PATH="$REPO/tsconfig.json"
PROFILE_DIR=""
if [ "${BENCH_PROFILE:-0}" = "1" ]; then
  PROFILE_DIR="$REPO/tmp/bench-profiles"
  rm -rf "$PROFILE_DIR" && mkdir -p "$PROFILE_DIR"
fi

# One TypeScript bench, bounded in time; its markdown (stdout) is appended to the results.
run_ts() {
  local limit="$1" file="$2"
  shift 2
  timeout --kill-after=30 "$limit" node "$@" --require tsx/cjs "$file" >"$PART"
  cat "$PART" >>"$RESULTS"
  cat "$PART"
}

nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
{
  echo "# tendril benchmarks"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- node $(node --version), $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "- every server binds 127.0.0.1; client, proxies and backend share the machine, so absolute numbers move with other load — compare the rows of one run."
  echo
} >"$RESULTS"
cat "$RESULTS"

status=0
if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY}" = data ]; then
  BENCH_CPU_PROF_DIR="$PROFILE_DIR" run_ts 600 tools/bench/data-plane.ts || { echo "bench: data-plane bench failed" >&2; status=1; }
fi
if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY}" = control ]; then
  BENCH_PROFILE_DIR="$PROFILE_DIR" run_ts 900 tools/bench/control-plane.ts || { echo "bench: control-plane bench failed" >&2; status=1; }
fi

if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY}" = datapath ]; then
  run_ts 900 tools/bench/datapath.ts || { echo "bench: datapath bench failed" >&2; status=1; }
fi
if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY}" = l7 ]; then
  run_ts 600 tools/bench/l7-policy.ts || { echo "bench: L7 policy bench failed" >&2; status=1; }
fi
if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY}" = dns ]; then
  run_ts 300 tools/bench/dns-proxy.ts || { echo "bench: DNS proxy bench failed" >&2; status=1; }
fi

echo "_Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)._" | tee -a "$RESULTS"

if [ -n "$PROFILE_DIR" ]; then
  for prof in "$PROFILE_DIR"/*.cpuprofile; do
    [ -e "$prof" ] || continue
    node --require tsx/cjs tools/bench/profile-summary.ts "$prof" 30 >"${prof%.cpuprofile}.md"
  done
  echo "CPU profiles and their summaries: $PROFILE_DIR" >&2
fi
echo "results written to $RESULTS" >&2
exit $status
