#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A newcomer's machine that anyone can build: a minimal Debian 12 (mmdebstrap --variant=minbase),
# the repository's tracked files copied in, and the README's two commands run in it, in a chroot,
# exactly as the README's "Two commands" section writes them, after the one line that README
# section tells a minimal Debian 12 to run first (it has neither sudo nor make). Prints each
# command's exit status and wall time, and make test's last line; exits 0 when every command did.
#
# The root lives in a directory of its own under /var/tmp. BPF needs /proc, /sys, tracefs, bpffs
# (debugfs too, for older tools) and /dev: they are mounted in a mount namespace of this script's
# own (unshare --mount, private), so that nothing mounted for the root is ever seen by, or
# propagates to, the rest of the machine, and all of it goes when the namespace ends, however the
# script ends. On exit (or SIGINT, SIGTERM) the processes left in the root are killed, the root
# is unmounted and removed (rm --one-file-system: never into a mount).
#
# Usage: sudo scripts/fresh-machine.sh
# The Debian mirror is the one this machine's apt uses ($GILSTAT_FRESH_MIRROR overrides it), as
# are its security archive ($GILSTAT_FRESH_SECURITY), its proxy and its Valid-Until settings.
set -u
me=fresh-machine.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
# The line README.md tells a minimal Debian 12 to run before its two commands, as root.
prereq='apt-get update && apt-get install -y sudo make'
# Where the repository is in the root, as a newcomer's clone would be.
src=/root/gilstat

die() { echo "$me: $*" >&2; exit 1; }

# The README's two commands: the indented lines of its "## Two commands" section, comments
# included (the shell reads them as comments).
readme_commands() {
	awk '/^## /{ in_section = ($0 == "## Two commands"); next }
	     in_section && /^    [^ ]/ { sub(/^    /, ""); print }' "$repo/README.md"
}

# ---- Inside the mount namespace: mount, run the commands, report. ----
if [ "${1:-}" = --in-namespace ]; then
	root=$2 log=$3
	# The root's mounts, in the order they are made; unmounted in reverse (lazily, as a last
	# resort). Private to this namespace: the host's own mounts are never touched.
	mounted=()
	unmount_all() {
		local i
		for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
			umount -R "${mounted[i]}" 2>/dev/null ||
				umount -R -l "${mounted[i]}" 2>/dev/null
		done
	}
	trap unmount_all EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mnt() { # mnt TARGET MOUNT-ARGS...: mounts on ROOT/TARGET, remembered for unmount_all
		local target=$root$1
		shift
		mkdir -p "$target" && mount "$@" "$target" || die "cannot mount ${*: -1} on $target"
		mounted+=("$target")
	}
	# rbind copies the submounts too (/dev/pts, /dev/shm, cgroups); --make-rslave on top keeps
	# even a mount namespace that shares with the host from sending it any event.
	mnt /proc --bind /proc
	mnt /sys --rbind /sys
	mount --make-rslave "$root/sys"
	mnt /dev --rbind /dev
	mount --make-rslave "$root/dev"
	# tracefs, bpffs and debugfs: the host's when it has them mounted, else an instance of our
	# own (systemd mounts all three on a Debian 12 machine).
	for fs in tracefs:/sys/kernel/tracing bpf:/sys/fs/bpf debugfs:/sys/kernel/debug; do
		type=${fs%%:*} dir=${fs#*:}
		mountpoint -q "$root$dir" && continue
		if mountpoint -q "$dir"; then
			mnt "$dir" --bind "$dir"
		else
			mnt "$dir" -t "$type" "$type"
		fi
	done

	# run CMD: CMD as root, in the repository, with a fresh minimal environment (env -i): nothing
	# of this script's own.
	n=0
	results=()
	path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	run() {
		local start end rc
		n=$((n + 1))
		echo "==== $me: [$n] $1"
		start=$(date +%s.%N)
		chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
			TERM="${TERM:-dumb}" PATH="$path" /bin/bash -c "cd $src && $1" \
			</dev/null 2>&1 | tee "$log.$n"
		rc=${PIPESTATUS[0]}
		end=$(date +%s.%N)
		results+=("$(printf '%s: exit status %d, wall time %.1f s' "${1%%  *#*}" "$rc" \
			"$(echo "$end - $start" | awk '{ print $1 - $3 }')")")
		[ "$rc" -eq 0 ]
	}
	status=0
	run "$prereq" || status=1
	while IFS= read -r cmd; do
		run "$cmd" || status=1
	done < <(readme_commands)

	echo "==== $me: Debian $(cat "$root/etc/debian_version") minbase, $(uname -r)"
	printf '%s\n' "${results[@]}"
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log.$n" | tail -n 1)
	echo "make test's last line: ${last:-none}"
	exit $status
fi

# ---- Outside: check, build the root, enter the namespace, clean up. ----
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, mount, chroot): run sudo scripts/$me"
[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || die "builds an amd64 root on amd64 only"
for tool in unshare chroot mountpoint git tar; do
	command -v $tool >/dev/null || die "$tool not found"
done
grep -qF -- "$prereq" "$repo/README.md" ||
	die "README.md does not tell a minimal Debian 12 to run '$prereq' first, which this runs"
[ "$(readme_commands | wc -l)" -ge 2 ] ||
	die "README.md's section \"## Two commands\" has no indented commands"
if ! command -v mmdebstrap >/dev/null; then
	echo "  DEPS    mmdebstrap"
	export DEBIAN_FRONTEND=noninteractive
	install=(apt-get install -y -q --no-install-recommends mmdebstrap)
	"${install[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && "${install[@]}" >/dev/null; } ||
		die "mmdebstrap is missing, and apt-get cannot install it"
fi

# This machine's Debian mirror and security archive, as its apt lists name them.
# shellcheck disable=SC2016 # $(REPO_URI) is apt's field
repo_uri() {
	apt-get indextargets --format '$(REPO_URI)' "Label: $1" 'Created-By: Packages' 2>/dev/null |
		head -n 1
}
mirror=${GILSTAT_FRESH_MIRROR:-$(repo_uri Debian)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${GILSTAT_FRESH_SECURITY:-$(repo_uri Debian-Security)}
security=${security:-http://deb.debian.org/debian-security}

work=$(mktemp -d /var/tmp/gilstat-fresh.XXXXXX) || die "cannot make a directory in /var/tmp"
root=$work/root
inner=

# kill_root_processes: kills every process whose root is the root, until none is left (5 s).
kill_root_processes() {
	local pids p i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids+=" ${p#/proc/}"
		done
		[ -z "$pids" ] && return
		[ "$i" -eq 1 ] && echo "$me: killing what is left running in the root:$pids" >&2
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
		sleep 0.5
	done
}

# cleanup: every process left in the root killed, nothing mounted under it, then removed.
cleanup() {
	local rc=$? p left
	trap - EXIT INT TERM
	# The namespace's shell first: it exits (unmounting) as soon as the command it waits for,
	# which runs in the root, is killed, rather than starting the next one.
	[ -n "$inner" ] && kill -TERM "$inner" 2>/dev/null
	kill_root_processes
	[ -n "$inner" ] && wait "$inner" 2>/dev/null
	kill_root_processes
	# The mounts were made in the namespace only; this is for one made here by mistake.
	left=$(awk -v r="$root/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	for p in $left; do umount -l "$p"; done
	if awk -v r="$root/" 'index($5, r) == 1 { n++ } END { exit !n }' /proc/self/mountinfo; then
		echo "$me: something is still mounted under $root; left it there" >&2
	else
		rm -rf --one-file-system "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
echo "==== $me: Debian $suite minbase in $root, from $mirror"
# In a mount namespace of its own too: what mmdebstrap mounts in the root while it installs goes
# with it, however it ends.
unshare --mount --propagation private -- mmdebstrap --variant=minbase --mode=root --quiet \
	"$suite" "$root" "deb $mirror $suite main" "deb $mirror $suite-updates main" \
	"deb $security $suite-security main" &
inner=$!
wait "$inner" || die "mmdebstrap failed"
inner=
# What a Debian 12 installer leaves that minbase does not: the host name in /etc/hosts (sudo
# looks it up), and a resolver.
hostname >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
	"$(hostname)" >"$root/etc/hosts"
# This machine's settings for reaching its mirror: a proxy, and whether a Release file past its
# Valid-Until date is accepted (a mirror that serves a snapshot of the archive needs that for
# sid and the security archive; scripts/sid-python.sh reads sid from the same mirror).
apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|([a-z]+::)?Proxy)' \
	>"$root/etc/apt/apt.conf.d/99gilstat-fresh-machine"
rm -f "$root/etc/resolv.conf"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" || die "cannot copy /etc/resolv.conf"
# The certificate authorities this machine adds to Debian's (a TLS proxy's, through which npm's
# registry is reached here): ca-certificates takes them in when deps.sh installs it, as it would
# on a newcomer's machine set up the same way.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
# The tracked files as they are in the working tree, owned by root.
mkdir -p "$root$src"
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - --ignore-failed-read -cf - |
	tar -C "$root$src" --no-same-owner -xf - || die "cannot copy the tracked files"
echo "==== $me: root ready after $((SECONDS - start)) s," \
	"$(git -C "$repo" ls-files | wc -l) files in $src"

unshare --mount --propagation private -- bash "$repo/scripts/$me" --in-namespace "$root" \
	"$work/log" &
inner=$!
wait "$inner"
rc=$?
inner=
echo "total wall time: $((SECONDS - start)) s"
exit $rc
