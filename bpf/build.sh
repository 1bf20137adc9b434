#!/usr/bin/env bash
# Builds the datapath's native code into bpf/build/ (gitignored), only what is out of date:
#   build/tendril_lxc.o                              tc programs (clang -target bpf, libbpf headers)
#   build/tendril_sock.o                             cgroup sock_addr programs (ClusterIP load balancing)
#   build/addon/build/Release/tendril_bpf.node       N-API addon (node-gyp, links libbpf)
# libs/datapath runs this before loading anything, so a fresh clone needs no manual step.
# Needs clang, libbpf-dev, g++/make and Node's headers in /usr/include/node (scripts/install.sh).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build/addon

# Jest workers and the agent may build at the same time; one builds, the others wait.
exec 9>build/.lock
flock 9

newer_than() { # newer_than TARGET SOURCES...: true when TARGET is missing or older than a source
  local target=$1; shift
  [ -e "$target" ] || return 0
  for source in "$@"; do [ "$source" -nt "$target" ] && return 0; done
  return 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "bpf/build.sh: $1 not found; run scripts/install.sh as root" >&2; exit 1; }
}

headers=(include/*.h)
for program in tendril_lxc tendril_sock; do
  if newer_than "build/$program.o" "$program.c" "${headers[@]}" build.sh; then
    need clang
    [ -e /usr/include/bpf/bpf_helpers.h ] || { echo "bpf/build.sh: libbpf headers missing; install libbpf-dev" >&2; exit 1; }
    clang -O2 -g -Wall -Werror -target bpf -I/usr/include/x86_64-linux-gnu -Iinclude \
      -c "$program.c" -o "build/$program.o.tmp"
    mv "build/$program.o.tmp" "build/$program.o"
  fi
done

addon=build/addon/build/Release/tendril_bpf.node
if newer_than "$addon" addon/tendril_bpf.c build.sh; then
  need node
  # binding.gyp lives in build/ so node-gyp's own build/ directory stays inside the ignored tree.
  cat > build/addon/binding.gyp <<'GYP'
{
  "targets": [{
    "target_name": "tendril_bpf",
    "sources": ["../../addon/tendril_bpf.c"],
    "cflags": ["-Wall", "-Werror"],
    "libraries": ["-lbpf"]
  }]
}
GYP
  node_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  [ -e "$node_gyp" ] || { echo "bpf/build.sh: npm's bundled node-gyp not found at $node_gyp" >&2; exit 1; }
  (cd build/addon && node "$node_gyp" rebuild --nodedir=/usr --loglevel=warn >gyp.log 2>&1) \
    || { cat build/addon/gyp.log >&2; echo "bpf/build.sh: building the addon failed" >&2; exit 1; }
  touch "$addon"
fi
