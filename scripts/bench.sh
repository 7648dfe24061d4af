#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: the fio matrix of bench/guest-bench.sh (backends mem, mem_wq,
# ceiling, brd, null_blk, null_blk_nodata, file, ublk; transports loop, tcp; six
# workloads) in one guest on the plain (non-debug) kernel, then
# bench/report.py: bench/results.md, bench/results.svg, bench/results.json,
# the raw fio JSON in bench/raw/, and one line per comparison on stdout:
#   ratio <workload> <transport> mem/<peer> <median mem IOPS / median peer IOPS>
#   ratio <workload> <transport> mem_wq/<peer> <...>  (mem_wq: mem with nowait=0,
#                      through nvmet_wq over loop, as the bdev and file peers)
#   cost <workload> <transport> <backend>-<no-data peer> <instructions per I/O>
#
# The guest runs under TCG with -icount shift=0,sleep=off: guest time
# advances by one nanosecond per instruction, so fio's IOPS measure the
# instruction cost of an I/O and repeat exactly; host noise (other VMs, the
# host's load) drops out. It does not measure cache misses, memory
# bandwidth or lock contention.
#
# Environment:
#   BENCH_REPS=3       repetitions (interleaved: rep 1 runs every backend, ...)
#   BENCH_RUNTIME=3    seconds of guest time per fio run (after the ramp)
#   BENCH_RAMP=1       fio ramp_time, seconds of guest time
#                      (3+1 s keep the full matrix, 216 runs, near 40 min of
#                      wall time; under icount the reps agree within ~1% at
#                      4k, a few % at 128k, so longer runs buy little)
#   BENCH_QUICK=1      development mode: 1 rep, 3 s, randread-4k-qd32 and
#                      read-128k-qd8, loop only
#   BENCH_PLAIN=1      also a second guest without icount (wall clock,
#                      KVM if it works), reported in its own table
#   BENCH_SCALE="1 2 4 8"  the scaling matrix: one icount guest per vCPU
#                      count, numjobs = vCPUs, backends mem ceiling brd,
#                      randread and randwrite 4k qd32, loop and tcp, one rep
#                      (BENCH_SCALE_SIZE=256M namespaces,
#                      BENCH_SCALE_TRANSPORTS="loop tcp"); printed as
#                        scale <workload> <transport> <backend> <vcpus> <iops> <ratio to 1 vCPU>
#                      and appended to bench/results.md (plot bench/scale.svg).
#                      BENCH_SCALE= (empty) skips it; BENCH_QUICK skips it
#                      unless set
#   BENCH_PASSTHRU="mem ceiling brd"  backends that also run the workloads
#                      through the host's generic NVMe character device
#                      (fio io_uring_cmd: no block layer on the host),
#                      rows "<transport>-passthru"; empty for none
#   BENCH_LATENCY="0 1 10000 100000 1000000 100000:100000"  latency
#                      injection's accuracy: one icount guest (2 vCPUs),
#                      a mem namespace per transport, fio randread 4k qd1 at
#                      each setting (latency_ns, or latency_ns:latency_range_ns),
#                      in bench/latency.md. Empty skips it.
#   BENCH_LATENCY_ONLY=1  only that (no matrix, no scaling)
#   BENCH_BACKENDS, BENCH_TRANSPORTS, BENCH_WORKLOADS  override the matrix
#                      (space-separated lists)
#   BENCH_SIZE=1G      namespace size
#   BENCH_BUFFERS=huge fio's I/O buffers in 2 MiB huge pages, so that a
#                      command's scatterlist has the same shape in every run;
#                      malloc for fio's default (4 KiB pages, laid out as the
#                      page allocator has them: the 128k rows then come out at
#                      one of two levels ~6 % apart, run by run)
#   BENCH_BASE=<commit>  also bench nvmet-mem as built from the sources of
#                      that commit (the module only: same kernel, same
#                      guest, same run), as the backend "mem_base", added
#                      to the matrix after "mem"; for before/after
#                      instruction counts of a change to the module. A
#                      commit whose module needs kernel changes that the
#                      current series lacks (or has dropped) will not build
#   BENCH_SKIP_SETUP=1 do not run scripts/setup.sh and scripts/build-kernel.sh
#                      (the kernel must be built already)
#   BENCH_HOST=1       bare metal: no guest; the same fio matrix on the
#                      running kernel (which must carry the patches/ series
#                      and the transports), as root, numjobs = its CPUs; the
#                      module is built against KDIR (default
#                      /lib/modules/$(uname -r)/build) with BENCH_KMAKE_ARGS
#                      (default LLVM=1). Wall clock: host load counts.
set -euo pipefail
LOG_TAG=bench
. "$(dirname "$0")/env.sh"
export NVMET_MEM_KERNEL=plain
top=$NVMET_MEM_TOP
start=$(date +%s)
buffers=${BENCH_BUFFERS:-huge}

if [ "${BENCH_HOST:-0}" = 1 ]; then
	[ "$(id -u)" -eq 0 ] || die "BENCH_HOST=1 needs root (it loads modules, configures nvmet)"
	KDIR=${KDIR:-/lib/modules/$(uname -r)/build}
	out=$(mktemp -d /tmp/nvmet-mem-bench-host.XXXXXX)
	mkdir "$out/module"
	cp -r "$top"/Kbuild "$top"/*.rs "$top"/glue "$top"/*.c "$top"/*.h "$out/module/"
	log "building the module against $KDIR"
	# shellcheck disable=SC2086
	make -C "$KDIR" -s ${BENCH_KMAKE_ARGS:-LLVM=1} M="$out/module" CONFIG_NVME_TARGET_MEM=m modules
	reps=${BENCH_REPS:-3}
	log "fio matrix on the running kernel $(uname -r), $(nproc) CPUs, output in $out"
	rc=0
	NVMET_MEM_OUT=$out "$top/bench/guest-bench.sh" "ko=$out/module/nvmet-mem.ko" "reps=$reps" \
		"runtime=${BENCH_RUNTIME:-10}" "ramp=${BENCH_RAMP:-2}" "size=${BENCH_SIZE:-1G}" \
		"buffers=$buffers" \
		${BENCH_BACKENDS:+"backends=$BENCH_BACKENDS"} \
		${BENCH_TRANSPORTS:+"transports=$BENCH_TRANSPORTS"} \
		${BENCH_WORKLOADS:+"workloads=$BENCH_WORKLOADS"} || rc=$?
	mkdir -p "$top/bench/host"
	rm -rf "$top/bench/host/raw"
	cp -r "$out/bench/raw" "$top/bench/host/raw"
	cp "$out/bench/meta.tsv" "$top/bench/host/raw/meta.tsv"
	printf 'commit\t%s\naccel\tbare metal\n' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null)" \
		>>"$top/bench/host/raw/meta.tsv"
	python3 "$top/bench/report.py" --raw "$top/bench/host/raw" --out "$top/bench/host"
	log "results in bench/host/results.md (wall clock, bare metal)"
	exit "$rc"
fi

if [ "${BENCH_SKIP_SETUP:-0}" != 1 ]; then
	"$top/scripts/setup.sh"
	"$top/scripts/build-kernel.sh" | tail -n 1
fi
KDIR=$("$top/scripts/build-kernel.sh" --print-dir)
export KDIR
[ -f "$KDIR/arch/x86/boot/bzImage" ] || die "no kernel in $KDIR: run scripts/build-kernel.sh"
out=$(mktemp -d /tmp/nvmet-mem-bench.XXXXXX)
# the commit the module is built from (the work tree may move on meanwhile)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- '*.rs' '*.c' '*.h' Kbuild 2>/dev/null ||
	commit="$commit+changes"
# Build a snapshot of the sources in a directory of our own: `make check`
# builds nvmet-mem.ko in the work tree against the debug kernel, and one
# running meanwhile must not swap the module under the benchmark.
log "building the module (plain kernel) in $out/module"
mkdir "$out/module"
cp -r "$top"/Kbuild "$top"/*.rs "$top"/glue "$top"/*.c "$top"/*.h "$out/module/"
make -C "$KDIR" -s "${KMAKE_VARS[@]}" M="$out/module" CONFIG_NVME_TARGET_MEM=m modules
ko=$out/module/nvmet-mem.ko
[ -f "$ko" ] || die "no $ko"
base_ko="" base=""
if [ -n "${BENCH_BASE:-}" ]; then
	base=$(git -C "$top" rev-parse --short "$BENCH_BASE^{commit}") ||
		die "BENCH_BASE=$BENCH_BASE is not a commit"
	log "building the module of $base (plain kernel) in $out/base"
	mkdir "$out/base"
	# the same files as the copy above: the top level's, and glue/ (ffi/
	# in commits before its rename)
	sub=$(git -C "$top" ls-tree --name-only -d "$base" -- glue ffi)
	git -C "$top" archive "$base" Kbuild ':(glob)*.rs' ':(glob)*.c' ':(glob)*.h' $sub |
		tar -C "$out/base" -x
	make -C "$KDIR" -s "${KMAKE_VARS[@]}" M="$out/base" CONFIG_NVME_TARGET_MEM=m modules
	base_ko=$out/base/nvmet-mem.ko
	[ -f "$base_ko" ] || die "no $base_ko"
fi

reps=${BENCH_REPS:-3}
runtime=${BENCH_RUNTIME:-3}
ramp=${BENCH_RAMP:-1}
size=${BENCH_SIZE:-1G}
backends=${BENCH_BACKENDS:-mem mem_wq ceiling brd null_blk null_blk_nodata file ublk}
if [ -n "$base" ] && [[ " $backends " != *" mem_base "* ]]; then
	backends=$(echo " $backends " | sed 's/ mem / mem mem_base /; s/^ *//; s/ *$//')
	[[ " $backends " == *" mem_base "* ]] || backends="mem_base $backends"
fi
transports=${BENCH_TRANSPORTS:-loop tcp}
workloads=${BENCH_WORKLOADS:-randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1 randwrite-4k-qd32 read-128k-qd8 write-128k-qd8}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	reps=${BENCH_REPS:-1}
	runtime=${BENCH_RUNTIME:-3}
	ramp=${BENCH_RAMP:-1}
	transports=${BENCH_TRANSPORTS:-loop}
	workloads=${BENCH_WORKLOADS:-randread-4k-qd32 read-128k-qd8}
fi
[ "$reps" -ge 1 ] && [ "$runtime" -ge 1 ] || die "BENCH_REPS and BENCH_RUNTIME must be >= 1"
set -- $backends; nb=$#
set -- $transports; nt=$#
set -- $workloads; nw=$#
runs=$((reps * nb * nt * nw))
# the passthrough rows of the backends that have them
set -- ${BENCH_PASSTHRU-mem ceiling brd}
runs=$((runs + reps * $# * nt * nw))
# Wall time per guest second under icount TCG: measured ~5-8 s on a 2-core
# host; allow 20 for a host that is busy with another guest, plus boot and
# the prefills (1 GiB each).
timeout_s=$((runs * (runtime + ramp + 1) * 20 + reps * nb * 300 + 600))
log "matrix: $reps rep(s) x $nb backend(s) x $nt transport(s) x $nw workload(s) = $runs fio runs of ${ramp}+${runtime} s guest time"

# The ublk peer's server: rublk from crates.io, built here once (not by
# the test set-up, so that make check stays short) into the cache; the
# guest sees the host's file systems and runs it from there.
rublk=""
case " $backends " in *" ublk "*)
	rublk=$NVMET_MEM_CACHE/rublk/bin/rublk
	if [ ! -x "$rublk" ]; then
		log "installing rublk ${RUBLK_VERSION:-0.2.15} with cargo (a few minutes, once)"
		cargo install --quiet --locked --no-default-features --root "$NVMET_MEM_CACHE/rublk" \
			--version "${RUBLK_VERSION:-0.2.15}" rublk ||
			log "rublk did not install: the ublk backend will be skipped"
	fi ;;
esac

args=("ko=$ko" "reps=$reps" "runtime=$runtime" "ramp=$ramp" "size=$size" "backends=$backends"
      "transports=$transports" "workloads=$workloads" "passthru=${BENCH_PASSTHRU-mem ceiling brd}"
      "rublk=$rublk" "buffers=$buffers" "base_ko=$base_ko" "base=$base")

# run_guest OUTDIR [VAR=VALUE...]: the guest with the given environment
# (VM_CPUS=2 unless given); its exit status; the accelerator vm.sh chose
# goes into OUTDIR/accel.
run_guest() {
	local o=$1 r
	shift
	set +e
	env VM_CPUS=2 "$@" "$top/scripts/vm.sh" -o "$o" -t "$timeout_s" \
		"$top/bench/guest-bench.sh" "${args[@]}" 2>&1 | tee "$o/host.log"
	r=${PIPESTATUS[0]}
	set -e
	sed -n 's/^\[vm\] booting .* under \([A-Z]*\):.*/\1/p' "$o/host.log" | head -n 1 >"$o/accel"
	return "$r"
}
# keep OUTDIR NAME EXIT: copy a guest's results to bench/raw/NAME.
keep() {
	cp -r "$1/bench/raw" "$top/bench/raw/$2"
	cp "$1/bench/meta.tsv" "$top/bench/raw/$2/meta.tsv"
	if ! grep -q '^failures' "$1/bench/meta.tsv"; then
		printf 'note\t%s\n' "the $2 guest did not finish (exit $3): its results are partial" \
			>>"$top/bench/raw/$2/meta.tsv"
	fi
	printf 'commit\t%s\nmodule\t%s\naccel\t%s\n' \
		"$commit" \
		"$(sha256sum "$ko" | cut -c1-12)" "$(cat "$1/accel")" >>"$top/bench/raw/$2/meta.tsv"
}

# latency_phase: latency injection's accuracy (BENCH_LATENCY), into
# bench/latency.md; sets rc on a failure.
latency_phase() {
	local o rcl settings=${BENCH_LATENCY-0 1 10000 100000 1000000 100000:100000}
	[ -n "$settings" ] || return 0
	args=("ko=$ko" "runtime=$runtime" "ramp=$ramp" "size=64M" "backends=mem"
	      "transports=${BENCH_LATENCY_TRANSPORTS:-loop tcp}" "latency=$settings")
	timeout_s=3600
	o=$(mktemp -d /tmp/nvmet-mem-bench-latency.XXXXXX)
	log "latency injection: icount guest, output in $o"
	t0=$(date +%s)
	rcl=0
	run_guest "$o" NVMET_MEM_KVM=0 VM_QEMU_OPTS="-icount shift=0,sleep=off" || rcl=$?
	log "latency guest: $(( $(date +%s) - t0 ))s wall, exit $rcl"
	if [ -d "$o/bench/raw/latency" ]; then
		rm -rf "$top/bench/raw/latency"
		keep "$o" latency "$rcl"
		python3 "$top/bench/latency.py" --raw "$top/bench/raw/latency" \
			--meta "$top/bench/raw/latency/meta.tsv" --out "$top/bench/latency.md"
	fi
	[ "$rc" -ne 0 ] || rc=$rcl
}
if [ "${BENCH_LATENCY_ONLY:-0}" = 1 ]; then
	rc=0
	mkdir -p "$top/bench/raw"
	latency_phase
	log "bench took $(( $(date +%s) - start ))s wall; results in bench/latency.md"
	exit "$rc"
fi

log "guest with -icount shift=0,sleep=off (TCG), output in $out"
t0=$(date +%s)
rc=0
# icount needs TCG: never KVM for this run
run_guest "$out" NVMET_MEM_KVM=0 VM_QEMU_OPTS="-icount shift=0,sleep=off" || rc=$?
icount_wall=$(( $(date +%s) - t0 ))
log "icount guest: ${icount_wall}s wall, exit $rc"
[ -d "$out/bench/raw" ] || die "the guest left no results (exit $rc); see $out"

rm -rf "$top/bench/raw"
mkdir -p "$top/bench/raw"
keep "$out" icount "$rc"
report=(python3 "$top/bench/report.py" --raw "$top/bench/raw/icount" --out "$top/bench"
	--wall "$icount_wall")

if [ "${BENCH_PLAIN:-0}" = 1 ]; then
	out2=$(mktemp -d /tmp/nvmet-mem-bench-plain.XXXXXX)
	log "second guest without icount (wall clock), output in $out2"
	t0=$(date +%s)
	rc2=0
	run_guest "$out2" || rc2=$?
	log "plain guest: $(( $(date +%s) - t0 ))s wall, exit $rc2"
	if [ -d "$out2/bench/raw" ]; then
		keep "$out2" plain "$rc2"
		report+=(--plain "$top/bench/raw/plain")
	fi
	[ "$rc" -ne 0 ] || rc=$rc2
fi

"${report[@]}"

scale=${BENCH_SCALE-1 2 4 8}
[ "${BENCH_QUICK:-0}" != 1 ] || scale=${BENCH_SCALE-}
if [ -n "$scale" ]; then
	args=("ko=$ko" "reps=1" "runtime=$runtime" "ramp=$ramp" "size=${BENCH_SCALE_SIZE:-256M}"
	      "backends=mem ceiling brd" "transports=${BENCH_SCALE_TRANSPORTS:-loop tcp}"
	      "workloads=randread-4k-qd32 randwrite-4k-qd32" "buffers=$buffers")
	timeout_s=$((12 * (runtime + ramp + 1) * 20 + 3 * 300 + 600))
	for n in $scale; do
		o=$(mktemp -d /tmp/nvmet-mem-bench-scale$n.XXXXXX)
		log "scaling: icount guest with $n vCPU(s), output in $o"
		t0=$(date +%s)
		rcs=0
		run_guest "$o" VM_CPUS="$n" NVMET_MEM_KVM=0 VM_QEMU_OPTS="-icount shift=0,sleep=off" || rcs=$?
		log "scaling guest ($n vCPUs): $(( $(date +%s) - t0 ))s wall, exit $rcs"
		[ -d "$o/bench/raw" ] && keep "$o" "scale-$n" "$rcs"
		[ "$rc" -ne 0 ] || rc=$rcs
	done
	python3 "$top/bench/scale.py" --raw "$top/bench/raw" --out "$top/bench" \
		--append "$top/bench/results.md"
fi
latency_phase
log "bench took $(( $(date +%s) - start ))s wall; results in bench/results.md, bench/results.svg"
[ "$rc" -eq 0 ] || log "the guest reported failures (exit $rc): see the notes in bench/results.md and $out/output.log"
exit "$rc"
