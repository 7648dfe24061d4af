#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the guest for scripts/bench.sh: the fio matrix over every backend
# behind an nvmet namespace, per transport, repeated.
#
#   guest-bench.sh [KEY=VALUE...]
#     ko=$NVMET_MEM_KO reps=3 runtime=10 ramp=2 size=1G
#     backends="mem mem_wq ceiling brd null_blk null_blk_nodata file ublk"
#     transports="loop tcp"
#     rublk=PATH  the rublk binary (ublk server) of the ublk backend: a
#                ublk device whose server (rublk's loop target, buffered
#                I/O) stores data in a file on a guest tmpfs, behind the
#                nvmet bdev backend; the backend is skipped without it
#     workloads="randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1
#                randwrite-4k-qd32 read-128k-qd8 write-128k-qd8"
#     buffers=huge  fio's I/O buffers in 2 MiB huge pages (see below);
#                malloc for fio's default (4 KiB pages wherever they fall)
#     passthru="mem ceiling brd"  backends that also run every workload
#                through the namespace's generic character device
#                /dev/ngXnY (fio io_uring_cmd, cmd_type=nvme: no block
#                layer on the host), reported as transport
#                <transport>-passthru; empty for none
#     latency="0 20000 ..."   instead of the matrix: latency injection's
#                accuracy. For each setting (nanoseconds, BASE or
#                BASE:RANGE for latency_ns and latency_range_ns), one fio
#                randread of 4 KiB at queue depth 1 on a mem namespace per
#                transport; raw/latency/<transport>-<setting>.json.
#
# A workload is RW-BS-qdN, RW one of fio's rw= values (randread, randwrite,
# read, write). Order: rep 1 runs every backend, then rep 2 every backend,
# and so on; per backend and rep the namespace is set up fresh, written
# whole once (so that reads never hit holes), then each transport is
# exported and connected in turn and runs every workload. Everything is torn
# down before the next backend, so each one is measured alone.
#
# Output, under $NVMET_MEM_OUT/bench/: raw/rep<R>/<backend>/<transport>.json
# (fio's JSON, one job entry per workload), meta.tsv (key TAB value: kernel, vCPUs,
# fio version, parameters, notes such as skipped backends).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${NVMET_MEM_OUT:?run me under scripts/vm.sh}/bench
cfs=/sys/kernel/config/nvmet
memcfs=/sys/kernel/config/nvmet_mem
nullcfs=/sys/kernel/config/nullb
nqn=nqn.2026-11.io.nvmet-mem:bench
tmpfs_dir=/tmp/nvmet-mem-bench-tmpfs

ko=${NVMET_MEM_KO:-} reps=3 runtime=10 ramp=2 size=1G latency="" passthru="" rublk="" buffers=huge
base_ko="" base=""
backends="mem mem_wq ceiling brd null_blk null_blk_nodata file"
transports="loop tcp"
workloads="randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1 randwrite-4k-qd32 read-128k-qd8 write-128k-qd8"
for kv in "$@"; do
	case $kv in
	ko=* | reps=* | runtime=* | ramp=* | size=* | backends=* | transports=* | workloads=* | latency=* | passthru=* | rublk=* | buffers=* | base_ko=* | base=*)
		printf -v "${kv%%=*}" '%s' "${kv#*=}" ;;
	*) echo "guest-bench: unknown argument '$kv'" >&2; exit 2 ;;
	esac
done

case $buffers in huge | malloc) ;; *) echo "guest-bench: buffers must be huge or malloc" >&2; exit 2 ;; esac
size_b=$(numfmt --from=iec "$size") || exit 2
size_mib=$((size_b >> 20))
njobs=$(nproc)

rm -rf "$out"
mkdir -p "$out/raw"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$out/meta.tsv"; }
note() { echo "# note: $*"; meta note "$*"; }
say() { echo "# $*"; }
now() { date +%s.%N; }
# w FILE VALUE: write a configfs/sysfs attribute; false (with a message) on error.
w() {
	if ! printf '%s\n' "$2" >"$1" 2>/dev/null; then
		echo "# error: echo $2 > $1 failed" >&2
		return 1
	fi
}

meta kernel "$(uname -r)"
meta vcpus "$njobs"
meta memory_kib "$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)"
meta fio "$(fio --version)"
[ -z "$base_ko" ] || note "mem_base: nvmet-mem as built from the sources of commit $base, same kernel and guest"
meta reps "$reps"
meta runtime "$runtime"
meta ramp "$ramp"
meta size "$size_b"
meta backends "$backends"
meta transports "$transports"
meta workloads "$workloads"
meta cmdline "$(cat /proc/cmdline)"
[ -z "$latency" ] || meta latency "$latency"
[ -z "$passthru" ] || meta passthru "$passthru"

# fio's I/O buffers come from 2 MiB huge pages (iomem=mmaphuge, anonymous
# MAP_HUGETLB), reserved here before any backend fills memory: from the
# page allocator, a buffer's 4 KiB pages land wherever the free lists
# put them, so the host's scatterlist of a 128 KiB command had one or
# several entries depending on the run, and the same module measured at
# one of two levels about 6 % apart. One huge page per job and workload
# (a buffer is bs * iodepth <= 1 MiB); the old reservation is put back on
# exit (BENCH_HOST=1 runs on the user's machine).
hugepages_wanted=$((njobs * $(echo "$workloads" | wc -w) + 2))
hugepages_old=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo "")
iomem=()
# (The latency mode runs its own psync fio, which takes no iomem.)
[ -z "$latency" ] || buffers=malloc
if [ "$buffers" = huge ] && [ -n "$hugepages_old" ] && [ "$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)" = 2048 ]; then
	trap 'echo "$hugepages_old" >/proc/sys/vm/nr_hugepages' EXIT
	echo $((hugepages_old + hugepages_wanted)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	if [ "$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)" -ge "$hugepages_wanted" ]; then
		iomem=(--iomem=mmaphuge --hugepage-size=2m)
		meta buffers "2 MiB huge pages ($hugepages_wanted reserved)"
	fi
fi
if [ ${#iomem[@]} = 0 ] && [ "$buffers" = huge ]; then
	note "fio buffers from malloc: no $hugepages_wanted free 2 MiB huge pages (hugetlbfs)"
fi

modprobe nvmet && modprobe nvme-fabrics 2>/dev/null
case " $transports " in *" loop "*) modprobe nvme-loop || exit 1 ;; esac
case " $transports " in *" tcp "*) { modprobe nvmet-tcp && modprobe nvme-tcp; } || exit 1 ;; esac
ip link set lo up 2>/dev/null
if [ ! -d /sys/module/nvmet_mem ]; then
	[ -n "$ko" ] || { echo "guest-bench: no module: pass ko= or set NVMET_MEM_KO" >&2; exit 2; }
	insmod "$ko" || exit 1
fi

# The ceiling is nvmet-mem with the nodata attribute (commands complete
# without touching data or pages); skip it where the module has none.
nodata_ok=0 nowait_ok=0
if mkdir "$memcfs/probe0" 2>/dev/null; then
	[ -e "$memcfs/probe0/nodata" ] && nodata_ok=1
	[ -e "$memcfs/probe0/nowait" ] && nowait_ok=1
	rmdir "$memcfs/probe0"
fi
if [ $nodata_ok = 0 ] && [[ " $backends " == *" ceiling "* ]]; then
	note "ceiling skipped: this nvmet-mem has no nodata attribute"
	backends=$(echo " $backends " | sed 's/ ceiling / /; s/^ *//; s/ *$//')
fi
if [ $nowait_ok = 0 ] && [[ " $backends " == *" mem_wq "* ]]; then
	note "mem_wq skipped: this nvmet-mem has no nowait attribute"
	backends=$(echo " $backends " | sed 's/ mem_wq / /; s/^ *//; s/ *$//')
fi
# null_blk in Linux 7.3 has no bio-based mode (queue_mode=0 falls back to
# blk-mq with an error message), so ask for blk-mq outright.
case " $backends " in *" null_blk"*)
	note "null_blk: blk-mq (queue_mode=2): Linux 7.3 removed bio-based null_blk; irqmode=0 (completion in the submitter), no I/O scheduler" ;;
esac
case " $backends " in *" file "*)
	note "file: $size file on a guest tmpfs, nvmet file backend with buffered_io=0 (O_DIRECT on tmpfs)" ;;
esac
case " $backends " in *" ublk "*)
	if [ -x "$rublk" ] && modprobe ublk_drv 2>/dev/null; then
		note "ublk: $("$rublk" --version 2>/dev/null | head -n 1) loop target, buffered I/O, on a $size file on a guest tmpfs, $njobs queues of depth 128; nvmet bdev backend on /dev/ublkb0"
	else
		note "ublk skipped: ${rublk:-no rublk binary} not executable or no ublk_drv"
		backends=$(echo " $backends " | sed 's/ ublk / /; s/^ *//; s/ *$//')
	fi ;;
esac

# --- backends: setup_<b> sets NS_BACKEND (the backend attribute, may be
# empty) and NS_PATH (device_path); teardown_<b> undoes it. ---

setup_mem_obj() { # NODATA [NOWAIT]
	mkdir "$memcfs/b0" || return 1
	w "$memcfs/b0/blocksize" 512 && w "$memcfs/b0/size" "$size_b" || return 1
	if [ "$1" = 1 ]; then w "$memcfs/b0/nodata" 1 || return 1; fi
	if [ "${2:-1}" = 0 ]; then w "$memcfs/b0/nowait" 0 || return 1; fi
	NS_BACKEND=mem NS_PATH=b0
}
teardown_mem_obj() { [ ! -d "$memcfs/b0" ] || rmdir "$memcfs/b0"; }
setup_mem() { setup_mem_obj 0; }
teardown_mem() { teardown_mem_obj; }
# mem_wq: mem with nowait = 0, so that nvme-loop queues its commands on
# nvmet_wq as it does for every block device and file namespace
setup_mem_wq() { setup_mem_obj 0 0; }
teardown_mem_wq() { teardown_mem_obj; }
setup_ceiling() { setup_mem_obj 1; }
teardown_ceiling() { teardown_mem_obj; }
# mem_base: the module of another commit (base_ko=), in place of this one
# for the run: same kernel, same guest, same fio.
swap_module() { # KO
	rmmod nvmet_mem && insmod "$1"
}
setup_mem_base() {
	[ -n "$base_ko" ] || return 1
	swap_module "$base_ko" || return 1
	setup_mem_obj 0
}
teardown_mem_base() {
	teardown_mem_obj
	[ -z "$base_ko" ] || swap_module "$ko"
}

setup_brd() {
	modprobe brd rd_nr=1 rd_size=$((size_b >> 10)) || return 1
	NS_BACKEND="" NS_PATH=/dev/ram0
}
teardown_brd() { ! [ -d /sys/module/brd ] || modprobe -r brd; }

setup_nullb() { # MEMORY_BACKED
	local d=$nullcfs/nb0
	[ -d /sys/module/null_blk ] || modprobe null_blk nr_devices=0 || return 1
	mkdir "$d" || return 1
	w "$d/queue_mode" 2 && w "$d/memory_backed" "$1" && w "$d/size" "$size_mib" &&
		w "$d/blocksize" 512 && w "$d/irqmode" 0 && w "$d/power" 1 || return 1
	udevadm settle 2>/dev/null
	[ -b /dev/nb0 ] || mknod /dev/nb0 b "$(cut -d: -f1 /sys/block/nb0/dev)" \
		"$(cut -d: -f2 /sys/block/nb0/dev)" || return 1
	NS_BACKEND="" NS_PATH=/dev/nb0
}
teardown_nullb() {
	if [ -d "$nullcfs/nb0" ]; then
		w "$nullcfs/nb0/power" 0
		rmdir "$nullcfs/nb0"
	fi
	rm -f /dev/nb0
	! [ -d /sys/module/null_blk ] || modprobe -r null_blk
}
setup_null_blk() { setup_nullb 1; }
teardown_null_blk() { teardown_nullb; }
setup_null_blk_nodata() { setup_nullb 0; }
teardown_null_blk_nodata() { teardown_nullb; }

setup_file() {
	mkdir -p "$tmpfs_dir" && mount -t tmpfs -o size=$((size_mib + 16))m none "$tmpfs_dir" ||
		return 1
	truncate -s "$size_b" "$tmpfs_dir/ns.img" || return 1
	NS_BACKEND="" NS_PATH=$tmpfs_dir/ns.img
}
teardown_file() {
	if mountpoint -q "$tmpfs_dir"; then umount "$tmpfs_dir"; fi
	rmdir "$tmpfs_dir" 2>/dev/null
	return 0
}

# ublk: rublk's loop target over a tmpfs file, buffered (tmpfs has no
# O_DIRECT), one queue per vCPU; the server runs in the background until
# teardown deletes the device.
setup_ublk() {
	local i
	setup_file || return 1
	"$rublk" add loop -n 0 -q "$njobs" -d 128 --logical-block-size 512 \
		--buffered-io -f "$tmpfs_dir/ns.img" --quiet >/dev/null 2>&1 || return 1
	for i in $(seq 1 100); do
		[ -e /sys/block/ublkb0/dev ] && break
		sleep 0.1
	done
	[ -b /dev/ublkb0 ] || mknod /dev/ublkb0 b "$(cut -d: -f1 /sys/block/ublkb0/dev)" \
		"$(cut -d: -f2 /sys/block/ublkb0/dev)" || return 1
	NS_BACKEND="" NS_PATH=/dev/ublkb0
}
teardown_ublk() {
	[ ! -e /sys/block/ublkb0 ] || "$rublk" del -n 0 >/dev/null 2>&1
	rm -f /dev/ublkb0
	teardown_file
}

# Whether a backend holds data (and so needs the prefill).
has_data() { case $1 in ceiling | null_blk_nodata) return 1 ;; esac; }

ns=$cfs/subsystems/$nqn/namespaces/1

setup_ns() {
	mkdir "$cfs/subsystems/$nqn" || return 1
	w "$cfs/subsystems/$nqn/attr_allow_any_host" 1 || return 1
	mkdir "$ns" || return 1
	if [ -n "$NS_BACKEND" ]; then w "$ns/backend" "$NS_BACKEND" || return 1; fi
	w "$ns/device_path" "$NS_PATH" && w "$ns/enable" 1
}
teardown_ns() {
	if [ -d "$ns" ]; then
		w "$ns/enable" 0
		rmdir "$ns"
	fi
	[ ! -d "$cfs/subsystems/$nqn" ] || rmdir "$cfs/subsystems/$nqn"
}

port_of() { case $1 in loop) echo 1 ;; tcp) echo 2 ;; esac; }

# connect TRANSPORT: export the subsystem on a port of that transport and
# connect the host to it; sets DEV.
connect() {
	local tr=$1 p=$cfs/ports/$(port_of "$1") i d
	mkdir "$p" || return 1
	case $tr in
	loop) w "$p/addr_trtype" loop || return 1 ;;
	tcp)
		w "$p/addr_trtype" tcp && w "$p/addr_adrfam" ipv4 &&
			w "$p/addr_traddr" 127.0.0.1 && w "$p/addr_trsvcid" 4420 || return 1
		;;
	esac
	ln -s "$cfs/subsystems/$nqn" "$p/subsystems/$nqn" || return 1
	case $tr in
	loop) nvme connect -t loop -n "$nqn" >/dev/null || return 1 ;;
	tcp) nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "$nqn" >/dev/null || return 1 ;;
	esac
	DEV=""
	for i in $(seq 1 200); do
		for d in /sys/block/nvme*n*; do
			[ -e "$d" ] || continue
			[[ $(basename "$d") =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
			[ "$(cat "$d/device/subsysnqn" 2>/dev/null)" = "$nqn" ] || continue
			DEV=/dev/$(basename "$d")
			# a stale node of an earlier device of that name may be in the way
			rm -f "$DEV"
			mknod "$DEV" b "$(cut -d: -f1 "$d/dev")" "$(cut -d: -f2 "$d/dev")" || return 1
			return 0
		done
		sleep 0.1
	done
	echo "# error: no block device for $nqn over $tr" >&2
	return 1
}
disconnect() { # TRANSPORT
	local p=$cfs/ports/$(port_of "$1")
	nvme disconnect -n "$nqn" >/dev/null 2>&1
	rm -f "$p/subsystems/$nqn"
	[ ! -d "$p" ] || rmdir "$p"
	DEV=""
}

teardown_all() { # BACKEND
	local tr
	for tr in $transports; do disconnect "$tr"; done
	teardown_ns
	"teardown_$1"
}

# prefill: write the whole namespace once, 1 MiB sequential O_DIRECT.
prefill() {
	fio --name=prefill --filename="$DEV" --direct=1 --ioengine=io_uring --rw=write \
		--bs=1M --iodepth=8 --size="$size_b" --output-format=terse >/dev/null
}

# ng_of DEV: the generic character device of block device DEV (created);
# in NG.
ng_of() {
	local name d
	name=$(basename "$1" | sed 's/^nvme\([0-9]*\)n\([0-9]*\)$/ng\1n\2/')
	d=/sys/class/nvme-generic/$name
	[ -e "$d/dev" ] || return 1
	NG=/dev/$name
	rm -f "$NG"
	mknod "$NG" c "$(cut -d: -f1 "$d/dev")" "$(cut -d: -f2 "$d/dev")"
}

# run_fio FILE [NG]: every workload in one fio process (a fio start costs wall
# time under TCG), one after the other (stonewall: each its own reporting
# group, so one JSON entry per workload, named after it), JSON to FILE.
# Each of the njobs jobs of a workload works in its own 1/njobs slice of
# the namespace, pinned to its own vCPU: unpinned, the scheduler sometimes
# puts both on one vCPU, and over tcp (whose host queues each have one
# io_cpu, and whose target io_work follows the sending CPU) the runs then
# land on one of two levels ~15 % apart (bench/tcp-placement.md). With NG, through that generic character device with
# io_uring_cmd instead of the block device.
run_fio() {
	local wl rw bs qd rest jobs=() dev=${2:-$DEV} engine=(--ioengine=io_uring --direct=1)
	# uring commands bypass the page cache anyway; fio refuses direct=1 there
	[ -z "${2:-}" ] || engine=(--ioengine=io_uring_cmd --cmd_type=nvme)
	for wl in $workloads; do
		rw=${wl%%-*} rest=${wl#*-}
		bs=${rest%%-*} qd=${rest#*-qd}
		jobs+=(--name="$wl" --stonewall --rw="$rw" --bs="$bs" --iodepth="$qd")
	done
	fio --filename="$dev" "${engine[@]}" "${iomem[@]}" --numjobs="$njobs" \
		--cpus_allowed=0-$((njobs - 1)) --cpus_allowed_policy=split \
		--group_reporting --size=$((size_b / njobs)) --offset_increment=$((size_b / njobs)) \
		--norandommap --time_based --runtime="$runtime" --ramp_time="$ramp" \
		--lat_percentiles=1 --output-format=json --output="$1" "${jobs[@]}"
}

# iops_of FILE: "workload IOPS" per line (read + write, the first two
# "iops" after each "jobname"); awk, as python would start from the host's
# disk, which costs wall time.
iops_of() {
	awk '/"jobname" : / { n = 0; name = $3; gsub(/[",]/, "", name) }
	     /"iops" : / && n < 2 { s[name] += $3; n++; if (n == 2) order[++k] = name }
	     END { for (i = 1; i <= k; i++) printf "%s %.0f\n", order[i], s[order[i]] }' "$1"
}

# mem_usage: "xa_bytes slab_bytes allocated_bytes": the memory in the
# radix_tree_node slab (the xarray's nodes: its own cache, as slab merging
# is off in the guest), all slab memory (meminfo Slab), and the object's
# allocated attribute.
mem_usage() {
	local xa slab
	xa=$(awk '$1 == "radix_tree_node" { print $15 * $6 * 4096 }' /proc/slabinfo)
	slab=$(awk '$1 == "Slab:" { print $2 * 1024 }' /proc/meminfo)
	echo "${xa:-0} ${slab:-0} $(cat "$memcfs/b0/allocated")"
}
# overhead REP BEFORE: the store's memory overhead from the prefill that
# just ran, as meta lines "overhead<TAB>rep xa_bytes slab_bytes data_bytes".
overhead() {
	local x0 s0 a0 x1 s1 a1
	read -r x0 s0 a0 <"$2"
	read -r x1 s1 a1 < <(mem_usage)
	meta overhead "$1 $((x1 - x0)) $((s1 - s0)) $((a1 - a0))"
	say "  store overhead: xarray nodes $((x1 - x0)) B, all slab $((s1 - s0)) B for $((a1 - a0)) B of data"
}

# run_latency: the latency phase (see latency= above), on a written mem
# namespace; the same fio job at every setting, so the difference of a
# setting's mean completion latency and that of setting 0 is the delay the
# backend added.
run_latency() {
	local tr spec d
	teardown_all mem >/dev/null 2>&1
	setup_mem && setup_ns || { note "latency: setup failed"; return 1; }
	d=$out/raw/latency
	mkdir -p "$d"
	for tr in $transports; do
		connect "$tr" || { note "latency: connect over $tr failed"; failed=$((failed + 1)); continue; }
		prefill
		for spec in $latency; do
			w "$memcfs/b0/latency_ns" "${spec%%:*}" || failed=$((failed + 1))
			case $spec in
			*:*) w "$memcfs/b0/latency_range_ns" "${spec#*:}" ;;
			*) w "$memcfs/b0/latency_range_ns" 0 ;;
			esac || failed=$((failed + 1))
			fio --name="lat-$spec" --filename="$DEV" --direct=1 --ioengine=psync --rw=randread \
				--bs=4k --iodepth=1 --size="$size_b" --norandommap --time_based \
				--runtime="$runtime" --ramp_time="$ramp" --lat_percentiles=1 \
				--output-format=json --output="$d/$tr-$spec.json" >/dev/null 2>&1 ||
				{ note "latency: fio at $spec over $tr failed"; failed=$((failed + 1)); }
			say "  latency $spec over $tr: $(awk '/"clat_ns"/ { f = 1 } f && /"mean"/ { print $3; exit }' "$d/$tr-$spec.json" | tr -d ,) ns mean completion latency"
		done
		disconnect "$tr"
	done
	teardown_all mem
}

t_all=$(now)
failed=0
if [ -n "$latency" ]; then
	run_latency
	rmmod nvmet_mem 2>/dev/null
	meta guest_seconds "$(echo "$(now) - $t_all" | bc)"
	meta failures "$failed"
	say "done: $failed failure(s)"
	[ "$failed" = 0 ]
	exit
fi
for rep in $(seq 1 "$reps"); do
	for b in $backends; do
		say "rep $rep/$reps: backend $b"
		teardown_all "$b" >/dev/null 2>&1
		if ! "setup_$b" || ! setup_ns; then
			note "rep $rep: setup of $b failed: $(dmesg | tail -n 3 | tr '\n' ' ')"
			failed=$((failed + 1))
			teardown_all "$b" >/dev/null 2>&1
			continue
		fi
		filled=0
		has_data "$b" || filled=1
		for tr in $transports; do
			if ! connect "$tr"; then
				note "rep $rep: connect of $b over $tr failed: $(dmesg | tail -n 3 | tr '\n' ' ')"
				failed=$((failed + 1))
				disconnect "$tr"
				continue
			fi
			if [ $filled = 0 ]; then
				t=$(now)
				[ "$b" != mem ] || mem_usage >"$out/usage.before"
				prefill || { note "rep $rep: prefill of $b failed"; failed=$((failed + 1)); }
				[ "$b" != mem ] || overhead "$rep" "$out/usage.before"
				say "  prefill of $size over $tr: $(echo "$(now) - $t" | bc | cut -c1-6) s (guest time)"
				filled=1
			fi
			d=$out/raw/rep$rep/$b
			mkdir -p "$d"
			t=$(now)
			if run_fio "$d/$tr.json" >/dev/null 2>"$d/$tr.err"; then
				rm -f "$d/$tr.err"
			else
				note "rep $rep: fio on $b over $tr failed: $(tail -n 2 "$d/$tr.err" | tr '\n' ' ')"
				failed=$((failed + 1))
			fi
			iops_of "$d/$tr.json" 2>/dev/null | while read -r wl iops; do
				say "  $b $tr $wl: $iops IOPS"
			done
			if [[ " $passthru " == *" $b "* ]]; then
				if ! ng_of "$DEV"; then
					note "rep $rep: no generic device for $DEV"
					failed=$((failed + 1))
				elif run_fio "$d/$tr-passthru.json" "$NG" >/dev/null 2>"$d/$tr-passthru.err"; then
					rm -f "$d/$tr-passthru.err"
				else
					note "rep $rep: fio io_uring_cmd on $b over $tr failed: $(tail -n 2 "$d/$tr-passthru.err" | tr '\n' ' ')"
					failed=$((failed + 1))
				fi
				iops_of "$d/$tr-passthru.json" 2>/dev/null | while read -r wl iops; do
					say "  $b $tr-passthru $wl: $iops IOPS"
				done
			fi
			say "  ($b over $tr: $(echo "$(now) - $t" | bc | cut -d. -f1) s of guest time)"
			disconnect "$tr"
		done
		teardown_all "$b"
		# each backend alone: nothing of it may be left behind
		if [ -d /sys/module/brd ] || [ -d /sys/module/null_blk ] ||
		   [ -d "$memcfs/b0" ] || [ -d "$cfs/subsystems/$nqn" ] ||
		   mountpoint -q "$tmpfs_dir"; then
			note "rep $rep: tear-down of $b left something behind"
			failed=$((failed + 1))
		fi
	done
done
rmmod nvmet_mem 2>/dev/null
meta guest_seconds "$(echo "$(now) - $t_all" | bc)"
meta failures "$failed"
say "done: $failed failure(s), $(echo "$(now) - $t_all" | bc | cut -d. -f1) s of guest time"
[ "$failed" = 0 ]
