#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs the Debian packages gilstat needs that are missing. As root it installs them; otherwise
# it prints the apt-get line to run. Quiet when everything is present.
# A package counts as present when dpkg has it installed or when what gilstat uses from it is
# there anyway (a command, a header, a Python module): a machine that cannot install packages, or
# has its tools from elsewhere, still runs make test when nothing is missing. A package with no
# entry in `uses` below is present only when dpkg has it installed; so is every package when
# GILSTAT_DEPS_DPKG_ONLY=1 (tests/deps.sh, which must not depend on what this machine has).
set -eu

pkgs=(make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev
      systemtap-sdt-dev pkg-config binutils python3 python3-jsonschema valgrind libmicrohttpd-dev
      prometheus prometheus-node-exporter curl libdw-dev libdebuginfod-dev liblzma-dev
      debuginfod xz-utils iproute2 man-db libxml2-utils chromium python3-pil strace)
# python3 reads the JSON reports in the integration tests, and python3-jsonschema checks them
# against docs/gilstat.schema.json; valgrind runs drd and helgrind on
# libgil, whose headers let libgil mark its lock-free atomics for them. bpftrace is needed only
# by the benchmarks, which compare against it. libmicrohttpd serves --prometheus; Prometheus (with
# promtool), node_exporter and curl are what tests/prometheus.sh runs gilstat against.
# tests/debuginfod.sh serves debug files with a real debuginfod, in a network namespace whose
# loopback iproute2 brings up; xz makes MiniDebugInfo. man-db renders the man pages
# (tests/install.sh); xmllint (libxml2-utils), a headless chromium and python3-pil, which reads
# its screenshot, check gilstat's SVG heatmap (tests/heatmap.sh). python3-yaml parses the
# Kubernetes manifest (tests/fleet.sh). strace shows tests/hostile.sh every file gilstat -a
# opens while an unprivileged user attacks it.
[ "${1:-}" = "--bench" ] && pkgs+=(bpftrace)
# make test-busy loads every core with stress-ng while the suite runs.
[ "${1:-}" = "--busy" ] && pkgs+=(stress-ng)
# make example loads the tutorial's FastAPI service (examples/fastapi) with wrk, and so do
# tests/example.sh and bench-python.sh.
pkgs+=(wrk python3-fastapi python3-uvicorn python3-yaml)
# npm fetches speedscope, the profile viewer tests/timeline.sh opens a --timeline in
# (scripts/speedscope.sh), from its registry over TLS: ca-certificates, which a minimal root lacks.
pkgs+=(npm ca-certificates)
# patchelf makes Debian sid's interpreters run here (scripts/sid-python.sh), for the tests.
# systemd-analyze verifies examples/gilstat.service (tests/fleet.sh): a Debian 12 machine has
# systemd, a minimal root or a container may not.
pkgs+=(patchelf systemd)

# What gilstat uses of each package: "command NAME", "header FILE" or "module NAME" (Python).
declare -A uses=(
	[make]="command make" [gcc]="command gcc" [clang]="command clang"
	[llvm]="command llvm-strip" [libbpf-dev]="header bpf/libbpf.h" [bpftool]="command bpftool"
	[libelf-dev]="header libelf.h" [zlib1g-dev]="header zlib.h"
	[libcmocka-dev]="header cmocka.h" [systemtap-sdt-dev]="header sys/sdt.h"
	[pkg-config]="command pkg-config" [binutils]="command readelf" [python3]="command python3"
	[python3-jsonschema]="module jsonschema" [valgrind]="command valgrind"
	[bpftrace]="command bpftrace" [stress-ng]="command stress-ng"
	[wrk]="command wrk" [python3-fastapi]="module fastapi" [python3-uvicorn]="module uvicorn"
	[python3-yaml]="module yaml" [systemd]="command systemd-analyze" [npm]="command npm"
)

# present PACKAGE: installed, or what gilstat uses of it is there.
present() {
	local status kind name
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] && return 0
	[ "${GILSTAT_DEPS_DPKG_ONLY:-}" = 1 ] && return 1
	read -r kind name <<<"${uses[$1]:-}"
	case $kind in
	command) command -v "$name" >/dev/null ;;
	header) echo "#include <$name>" | ${CC:-cc} -E -x c - >/dev/null 2>&1 ;;
	# Debian's python3, where its packages install modules, or the one in PATH.
	module) /usr/bin/python3 -c "import $name" 2>/dev/null ||
		python3 -c "import $name" 2>/dev/null ;;
	*) return 1 ;;
	esac
}

missing=()
for p in "${pkgs[@]}"; do
	present "$p" || missing+=("$p")
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
