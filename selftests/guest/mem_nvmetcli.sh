#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nvmetcli save and restore of a configuration with a mem namespace, with
# the upstream nvmetcli of ../shared/nvmetcli and this repository's patch
# (patches/nvmetcli/): the save holds the namespace's backend and the
# memory object's attributes and rules; "nvmetcli clear" removes the
# subsystem and port and leaves the object (and its data); "restore"
# brings back the namespace, which serves the same data, and saving again
# gives the same file. With the object removed too, restore creates it
# again, with its attributes and rule, empty. Skipped without
# ../shared/nvmetcli or python3-configshell-fb.
. "$(dirname "$0")/../lib.sh"
shared=${NVMET_MEM_SHARED:-$(dirname "$NVMET_MEM_TOP")/shared}
[ -f "$shared/nvmetcli/nvmetcli" ] || skip "no nvmetcli in $shared (../shared is absent)"
/usr/bin/python3 -c 'import configshell' 2>/dev/null || skip "python3-configshell-fb is not installed"
load_mem
cli=$(mktemp -d) cfg=$(mktemp -d)
cleanup_add "rm -rf '$cli' '$cfg'"
cp -r "$shared/nvmetcli/." "$cli/"
for p in "$NVMET_MEM_TOP"/patches/nvmetcli/*.patch; do
	patch -d "$cli" -p1 -s <"$p" || fail "$(basename "$p") does not apply to $shared/nvmetcli"
done
nvmetcli() { /usr/bin/python3 "$cli/nvmetcli" "$@"; }
o=$MEMCFS/rt0
cleanup_add "nvmetcli clear 2>/dev/null; rmdir '$o/slow' '$o' 2>/dev/null"

mkdir "$o" || fail "mkdir rt0"
write_attr "$o/blocksize" 4096
write_attr "$o/max_memory" 96M
write_attr "$o/size" 1T || fail "a thin 1 TiB object"
write_attr "$o/latency_ns" 1000
write_attr "$o/nowait" 0
mkdir "$o/slow"
write_attr "$o/slow/commands" write
write_attr "$o/slow/lba_start" 100000
write_attr "$o/slow/status" 0x4281
write_attr "$o/slow/enable" 1
s=$CFS/subsystems/testnqn.rt
mkdir "$s" && write_attr "$s/attr_allow_any_host" 1
mkdir "$s/namespaces/1"
mem_ns testnqn.rt 1 rt0
mkdir "$CFS/ports/41" && write_attr "$CFS/ports/41/addr_trtype" loop
ln -s "$s" "$CFS/ports/41/subsystems/testnqn.rt"
connect_loop testnqn.rt
pat=$(mktemp)
cleanup_add "rm -f '$pat'"
head -c 8M /dev/urandom >"$pat"
dd if="$pat" of="$DEV" bs=1M oflag=direct status=none || fail "write 8 MiB"
nvme disconnect -n testnqn.rt >/dev/null

nvmetcli save "$cfg/a.json" || fail "nvmetcli save"
/usr/bin/python3 - "$cfg/a.json" <<'EOF' || fail "saved configuration lacks the mem namespace or object"
import json, sys
c = json.load(open(sys.argv[1]))
ns = c["subsystems"][0]["namespaces"][0]
assert ns["backend"] == "mem" and ns["device"]["path"] == "rt0", ns
o = [o for o in c["nvmet_mem"]["objects"] if o["name"] == "rt0"][0]
a = o["attr"]
assert (a["size"], a["blocksize"], a["max_memory"], a["latency_ns"], a["nowait"]) == \
    (str(1 << 40), "4096", str(96 << 20), "1000", "0"), a
r = o["rules"][0]
assert r["name"] == "slow" and r["attr"]["status"] == "0x4281" and r["attr"]["enable"] == "1", r
EOF
msg "saved: namespace backend mem on rt0; object size, blocksize, max_memory, latency, nowait and rule"

nvmetcli clear || fail "nvmetcli clear"
[ -d "$s" ] && fail "subsystem still there after clear"
[ "$(cat "$o/allocated")" = $((8 << 20)) ] || fail "object lost its data on clear: allocated $(cat "$o/allocated")"
nvmetcli restore "$cfg/a.json" || fail "nvmetcli restore"
[ "$(cat "$s/namespaces/1/enable")" = 1 ] || fail "restored namespace not enabled"
connect_loop testnqn.rt
cmp -s "$pat" <(dd if="$DEV" bs=1M count=8 iflag=direct status=none) || fail "data differs after clear and restore"
nvme disconnect -n testnqn.rt >/dev/null
nvmetcli save "$cfg/b.json" || fail "second save"
diff "$cfg/a.json" "$cfg/b.json" >/dev/null || { diff "$cfg/a.json" "$cfg/b.json" | sed 's/^/# /' | head -20; fail "restore did not give the saved configuration back"; }
msg "clear and restore: namespace back on the same object, 8 MiB intact, same configuration saved"

nvmetcli clear
rmdir "$o/slow" "$o" || fail "remove the object"
nvmetcli restore "$cfg/a.json" || fail "restore without the object"
[ -d "$o/slow" ] || fail "object or rule not recreated"
[ "$(cat "$o/size")" = $((1 << 40)) ] && [ "$(cat "$o/nowait")" = 0 ] &&
	[ "$(cat "$o/slow/enable")" = 1 ] || fail "recreated object differs"
[ "$(cat "$o/allocated")" = 0 ] || fail "recreated object is not empty"
nvmetcli save "$cfg/c.json"
diff "$cfg/a.json" "$cfg/c.json" >/dev/null || fail "recreated configuration differs from the saved one"
msg "restore with the object removed: object and rule recreated, empty, same configuration"
