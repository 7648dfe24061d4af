#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# configfs bad input: every case is rejected with the right errno and a
# kernel log line, and leaves every attribute exactly as it was.
. "$(dirname "$0")/../lib.sh"
load_mem
obj=$MEMCFS/bad0
new_mem_obj bad0 4608          # 9 blocks of 512: not a multiple of 4096
new_mem_obj bad1 1M
new_subsys testnqn.bad
new_ns testnqn.bad 1
new_ns testnqn.bad 2
ns1=$CFS/subsystems/testnqn.bad/namespaces/1
ns2=$CFS/subsystems/testnqn.bad/namespaces/2

state() { # all attributes of the objects and namespaces, in one process
	grep -H . "$obj"/* "$MEMCFS"/bad1/* "$ns1"/{backend,device_path,enable} \
		"$ns2"/{backend,device_path,enable} 2>&1
}

n=0
# case ERRNO FILE VALUE: the write fails with ERRNO, logs, changes nothing.
case_() {
	local want=$1 file=$2 val=$3 before after
	n=$((n + 1))
	before=$(state)
	log_mark
	expect_errno "$want" try_write "$file" "$val"
	after=$(state)
	[ "$before" = "$after" ] || fail "case $n ($file <- '$val') changed state"
	case "$want:$file" in
	EACCES:* | EBUSY:$CFS/*) ;; # permission bits; nvmet's own namespace attributes
	*)
		[ "$(log_since | grep -c -E 'nvmet(_mem)?: ')" -ge 1 ] ||
			fail "case $n ($file <- '$val'): no kernel log line"
		;;
	esac
	msg "case $n: ${file#/sys/kernel/config/} <- '$val': $want"
}

case_ EINVAL "$obj/size" abc
case_ EINVAL "$obj/size" ""
case_ EINVAL "$obj/size" 0
case_ EINVAL "$obj/size" -4096
case_ EINVAL "$obj/size" 1000
case_ EINVAL "$obj/size" 12Q
case_ EINVAL "$obj/size" 1.5G
case_ EINVAL "$obj/size" 99999999999T
case_ ENOMEM "$obj/size" 1T
case_ EINVAL "$obj/blocksize" 1024
case_ EINVAL "$obj/blocksize" abc
case_ EINVAL "$obj/blocksize" 4096
case_ EINVAL "$obj/numa_node" 7
case_ EINVAL "$obj/numa_node" -2
case_ EINVAL "$obj/numa_node" x
case_ EINVAL "$obj/max_memory" 5000
case_ EINVAL "$obj/max_memory" abc
case_ ENOMEM "$obj/max_memory" 1T
case_ EINVAL "$obj/nodata" 2
case_ EINVAL "$obj/nodata" yes
case_ EACCES "$obj/allocated" 0
case_ EINVAL "$ns1/backend" bogus

# binding errors
write_attr "$ns1/backend" mem
write_attr "$ns1/device_path" nosuchobject
case_ ENOENT "$ns1/enable" 1
mkdir "$MEMCFS/nosize" || fail "mkdir nosize"
cleanup_add "rmdir '$MEMCFS/nosize'"
write_attr "$ns1/device_path" nosize
case_ EINVAL "$ns1/enable" 1
write_attr "$ns1/device_path" bad1
write_attr "$ns1/enable" 1 || fail "enable on bad1"
write_attr "$ns2/backend" mem
write_attr "$ns2/device_path" bad1
case_ EBUSY "$ns2/enable" 1

# changes while bound
case_ EBUSY "$MEMCFS/bad1/size" 2M
case_ EBUSY "$MEMCFS/bad1/blocksize" 4096
case_ EBUSY "$MEMCFS/bad1/numa_node" 0
case_ EBUSY "$MEMCFS/bad1/max_memory" 1M
case_ EBUSY "$MEMCFS/bad1/nodata" 1
case_ EBUSY "$ns1/backend" ""
case_ EBUSY "$ns1/device_path" bad0

# a cap below what is allocated
write_attr "$ns1/enable" 0
export_loop testnqn.bad 21
write_attr "$ns1/enable" 1
connect_loop testnqn.bad
dd if=/dev/urandom of="$DEV" bs=64k count=4 oflag=direct status=none || fail "write"
[ "$(cat "$MEMCFS/bad1/allocated")" = 262144 ] || fail "allocated after 256 KiB"
nvme disconnect -n testnqn.bad >/dev/null
write_attr "$ns1/enable" 0
case_ EINVAL "$MEMCFS/bad1/max_memory" 128K
msg "$n bad inputs rejected"
[ $n -ge 15 ] || fail "only $n cases"
