#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The VM harness itself: a guest script's exit status reaches the host, and
# a WARNING in the guest's kernel log is reported (so a clean log in the
# real run means something).
. "$(dirname "$0")/../../scripts/env.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/guest.sh" <<'EOS'
echo "WARNING: CPU: 0 PID: 1 at harness.c:1 planted by the harness self-test" >/dev/kmsg
echo planted
exit 3
EOS
"$NVMET_MEM_TOP/scripts/vm.sh" -o "$tmp/out" -t 300 "$tmp/guest.sh" >"$tmp/log" 2>&1
rc=$?
grep -q '^planted$' "$tmp/log" || { echo "# guest output not captured"; exit 1; }
[ $rc -eq 3 ] || { echo "# exit status $rc, expected 3"; exit 1; }
grep -q "planted by the harness self-test" "$tmp/out/reports" ||
	{ echo "# planted WARNING not reported"; exit 1; }
echo "# exit status and planted WARNING both seen"
