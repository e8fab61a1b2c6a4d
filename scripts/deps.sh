#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs the Debian packages gilstat needs that are missing. As root it installs them; otherwise
# it prints the apt-get line to run. Quiet when everything is present.
set -eu

pkgs=(make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev
      systemtap-sdt-dev pkg-config binutils python3 valgrind libmicrohttpd-dev
      prometheus prometheus-node-exporter curl man-db libxml2-utils chromium python3-pil)
# python3 reads the JSON reports in the integration tests; valgrind runs drd and helgrind on
# libgil, whose headers let libgil mark its lock-free atomics for them. bpftrace is needed only
# by the benchmarks, which compare against it. libmicrohttpd serves --prometheus; Prometheus (with
# promtool), node_exporter and curl are what tests/prometheus.sh runs gilstat against. man-db
# renders the man pages (tests/install.sh); xmllint (libxml2-utils), a headless chromium and
# python3-pil, which reads its screenshot, check gilstat's SVG heatmap (tests/heatmap.sh).
[ "${1:-}" = "--bench" ] && pkgs+=(bpftrace)
# patchelf makes Debian sid's interpreters run here (scripts/sid-python.sh), for the tests.
pkgs+=(patchelf)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "gilstat: missing packages; run: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "  DEPS    ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has empty package lists; refresh them once, only when something is missing.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
