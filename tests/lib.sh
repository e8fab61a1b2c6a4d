# SPDX-License-Identifier: GPL-2.0
# Shared by the integration scripts: TAP output and the paths of what was built.
OUTPUT=${OUTPUT:-build}
GILSTAT=${GILSTAT:-$OUTPUT/gilstat}
GILWORK=${GILWORK:-$OUTPUT/gilwork}
# A stripped build's symbols are never asked of a debuginfod server off this machine.
unset DEBUGINFOD_URLS
tap_n=0
tap_failed=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $*"; }
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }
# check DESCRIPTION COMMAND...: one test from a command's exit status.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# The script's exit status: non-zero when any test failed.
done_testing() { echo "1..$tap_n"; exit $tap_failed; }
