#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mkdir of a memory object under allocation failure: for N = 1, 2, ... the
# Nth slab allocation of the mkdir system call fails (failslab through
# /proc/thread-self/fail-nth: the VFS lookup, configfs, the module's
# make_group and kmemleak's own bookkeeping), until the call no longer makes
# N allocations. A mkdir that fails must leave nothing behind: no directory,
# no object a namespace can bind to (enable fails with ENOENT), and the
# name can be created again, and a namespace then binds to the new
# directory's object. A mkdir that survives its injected failure must give
# a working object. kmemleak (checked by the harness) must find no leak.
. "$(dirname "$0")/../lib.sh"
fs=/sys/kernel/debug/failslab
[ -d "$fs" ] || skip "kernel without FAILSLAB debugfs (use the debug kernel)"
[ -e /proc/thread-self/fail-nth ] || skip "kernel without /proc/*/fail-nth"
load_mem
new_subsys testnqn.mkf
new_ns testnqn.mkf 1
ns=$CFS/subsystems/testnqn.mkf/namespaces/1
name=mkf0
obj=$MEMCFS/$name
write_attr "$ns/backend" mem
write_attr "$ns/device_path" "$name"
cleanup_add "rmdir '$obj'"

# fail-nth bypasses probability, interval and the task filter, but not
# ignore-gfp-wait (GFP_KERNEL allocations are exempt by default) nor the
# stack-trace filter (which mem_fault_injection aims at the module): open
# both, put every knob back at exit
for k in probability ignore-gfp-wait verbose require-start require-end \
	reject-start reject-end cache-filter; do
	[ -e "$fs/$k" ] || continue
	cleanup_add "echo '$(cat "$fs/$k")' > '$fs/$k'"
done
echo 0 >"$fs/probability"
echo N >"$fs/ignore-gfp-wait"
echo 0 >"$fs/verbose"
echo N >"$fs/cache-filter"
if [ -e "$fs/require-start" ]; then
	echo 0 >"$fs/require-start"
	echo 0xffffffffffffffff >"$fs/require-end"
	echo 0 >"$fs/reject-start"
	echo 0 >"$fs/reject-end"
fi

# The sweep runs in one process: fail-nth is per thread, and a process per
# failure point would cost seconds each in a TCG guest.
python3 - "$obj" "$ns" <<'PY' || exit 1
import errno, os, sys

obj, ns = (a.encode() for a in sys.argv[1:3])
enable, size, bsize = ns + b"/enable", obj + b"/size", obj + b"/blocksize"
point = ""


def fail(why):
    print(f"# FAIL: {point}: {why}")
    sys.exit(1)


def put(path, val):
    """Write val to a configfs file; the errno's name, or OK."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        return errno.errorcode[e.errno]
    try:
        os.write(fd, val)
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(fd)


nth = os.open("/proc/thread-self/fail-nth", os.O_RDWR)


def inject_mkdir(n):
    """mkdir with the nth failslab call of this thread failing: the outcome
    (OK or the errno's name) and whether the failure was injected."""
    os.pwrite(nth, str(n).encode(), 0)
    try:
        os.mkdir(obj)
        res = "OK"
    except OSError as e:
        res = errno.errorcode[e.errno]
    left = int(os.pread(nth, 32, 0))
    os.pwrite(nth, b"0", 0)
    return res, left == 0


def object_works():
    """The directory's object takes a size and a namespace binds to it (its
    attributes are then refused: bound); removes it."""
    if (r := put(size, b"1M")) != "OK":
        fail(f"size of the new object: {r}")
    if (r := put(enable, b"1")) != "OK":
        fail(f"enable on the new object: {r}")
    if (r := put(bsize, b"4096")) != "EBUSY":
        fail(f"blocksize of the bound object: {r}, expected EBUSY (bound elsewhere?)")
    put(enable, b"0")
    os.rmdir(obj)


failed, survived = [], []
for n in range(1, 301):
    point = f"N={n}"
    res, injected = inject_mkdir(n)
    if not injected:
        if res != "OK":
            fail(f"mkdir: {res} without an injected failure")
        os.rmdir(obj)
        break
    if res == "OK":
        survived.append(n)
    elif res == "ENOMEM":
        failed.append(n)
        if os.path.lexists(obj):
            fail("mkdir failed but the directory exists")
        # ENOENT is the backend's "no memory object" (its log line may be
        # left out by the rate limit of refusal messages)
        if (r := put(enable, b"1")) != "ENOENT":
            fail(f"enable of a namespace on the name: {r}, expected ENOENT")
        try:
            os.mkdir(obj)
        except OSError as e:
            fail(f"mkdir again after the failure: {errno.errorcode[e.errno]}")
    else:
        fail(f"mkdir: {res}")
    object_works()
else:
    fail("mkdir still reaches allocation 300")
print(f"# mkdir makes {n - 1} allocations; failing each in turn:")
print(f"#   mkdir failed cleanly at N = {' '.join(map(str, failed))}")
print(f"#   mkdir survived at N = {' '.join(map(str, survived)) or 'none'}")
if not failed:
    point = "all"
    fail("no mkdir failed: injection did not work")
PY
