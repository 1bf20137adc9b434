#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine with Node 20: npm packages always,
# and the Debian packages the tests use when running as root (curl, for the README's commands;
# clang, llvm, libbpf-dev, bpftool, iproute2 and g++/make to build and load the eBPF datapath in
# bpf/, which libs/datapath builds on first use; iputils-ping for its ICMP policy tests; kcat and
# dig as the real Kafka and DNS clients of the L7 policy tests).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v clang >/dev/null 2>&1 || missing+=(clang)
command -v llvm-objdump >/dev/null 2>&1 || missing+=(llvm)
[ -e /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
command -v bpftool >/dev/null 2>&1 || [ -x /usr/sbin/bpftool ] || missing+=(bpftool)
command -v tc >/dev/null 2>&1 || [ -x /usr/sbin/tc ] || missing+=(iproute2)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "install.sh: not root, cannot install ${missing[*]}; the tests that need them will fail" >&2
  fi
fi
# The datapath's native code (tc programs, N-API addon); libs/datapath would build it on first use,
# building it here makes a missing toolchain fail at install time with a clear message.
if [ "$(id -u)" = 0 ]; then
  bpf/build.sh
fi
