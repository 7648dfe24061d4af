#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the guest kernel with virtme-ng and run a script inside it.
#
#   scripts/vm.sh [-o OUTDIR] [-t TIMEOUT_S] SCRIPT [ARGS...]
#
# The guest sees the host's root filesystem read-only (so the project tree,
# fio and nvme-cli are there) and OUTDIR read-write. SCRIPT runs as root in
# the guest with NVMET_MEM_OUT=OUTDIR; its output goes to OUTDIR/output.log
# and is printed here. Afterwards the guest's dmesg is saved to OUTDIR/dmesg
# and the console to OUTDIR/console.log; any oops, BUG, WARNING, KASAN,
# UBSAN, lockdep or kmemleak report in them (listed in OUTDIR/reports)
# fails the run.
#
# Exit status: SCRIPT's, or 1 on a kernel report, 124 on timeout, 125 if the
# guest died before SCRIPT finished.
#
# Environment: NVMET_MEM_KVM=auto (default: KVM if a short probe boot works,
# else TCG), 1 (force KVM) or 0 (force TCG); VM_CPUS (2), VM_MEMORY (2G),
# VM_QEMU_OPTS (extra QEMU options, e.g. -icount shift=0,sleep=off),
# VM_APPEND (extra kernel command line), VM_KUNIT_FILTER (the KUnit suites
# that run: nvmet_mem*, the module's), VM_NVME_MULTIPATH (N; Y boots a
# kernel that has NVMe multipath with it on), KDIR (kernel tree),
# NVMET_MEM_KO (the module the guest tests load; default: the one built
# for KDIR).
set -euo pipefail
LOG_TAG=vm
. "$(dirname "$0")/env.sh"

out="" timeout_s=1800
while getopts "o:t:" opt; do
	case $opt in
	o) out=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	*) die "usage: $0 [-o OUTDIR] [-t TIMEOUT_S] SCRIPT [ARGS...]" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || die "usage: $0 [-o OUTDIR] [-t TIMEOUT_S] SCRIPT [ARGS...]"
script=$(realpath "$1"); shift

: "${KDIR:=$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)}"
[ -f "$KDIR/arch/x86/boot/bzImage" ] || die "no kernel in $KDIR: run scripts/build-kernel.sh"
command -v vng >/dev/null || die "vng not found: run scripts/setup.sh"

if [ -z "$out" ]; then out=$(mktemp -d /tmp/nvmet-mem-vm.XXXXXX); fi
mkdir -p "$out"; out=$(realpath "$out")
rm -f "$out"/{rc,dmesg,output.log,console.log,reports,kmemleak}

# vng needs the modules of the tree installed in the tree; reinstall when a
# module was rebuilt (a series change rebuilds some without changing
# modules.order). Guests may boot at once (make check runs two): one
# installs, the others wait for it; so for the KVM probe below.
exec 9>"$KDIR/.nvmet-mem-vm.lock"
flock 9
stamp=$KDIR/.virtme_mods/lib/modules
if [ ! -d "$stamp" ] || [ "$KDIR/modules.order" -nt "$stamp" ] ||
   [ -n "$(find "$KDIR" -path "$KDIR/.virtme_mods" -prune -o -name '*.ko' -newer "$stamp" -print -quit)" ]; then
	make -C "$KDIR" -s "${KMAKE_VARS[@]}" INSTALL_MOD_PATH="$KDIR/.virtme_mods" \
		INSTALL_MOD_STRIP=1 modules_install >/dev/null
	touch "$KDIR/.virtme_mods/lib/modules"
fi

vng_base=(vng --run "$KDIR" --cpus "${VM_CPUS:-2}" --memory "${VM_MEMORY:-2G}"
	  --rwdir "$out" --user root --verbose)
# 5-level paging in the guest's -cpu max tripped KASAN in early boot here;
# KUnit suites of modules run on load only with kunit.enable=1 autorun=1;
# the filter (VM_KUNIT_FILTER, a glob of suite names) runs the module's own
# and leaves out the kernel's built-in suites (the debug kernel's doctests),
# which selftests/host/kernel_doctests.sh runs in a boot of their own.
# A kernel with NVMe multipath (the plain one) names a namespace's block
# device after its subsystem; the tests and benchmarks look devices up by
# controller, so multipath is off unless VM_NVME_MULTIPATH=Y (blktests).
mpath=
if grep -qx CONFIG_NVME_MULTIPATH=y "$KDIR/.config"; then
	mpath="nvme_core.multipath=${VM_NVME_MULTIPATH:-N}"
fi
append=(--append "no5lvl kunit.enable=1 kunit.autorun=1 kunit.filter_glob=${VM_KUNIT_FILTER:-nvmet_mem*} $mpath ${VM_APPEND:-}")

kvm_works() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	local stamp="$NVMET_MEM_CACHE/kvm-probe-$(uname -r)-$(qemu-system-x86_64 --version | head -n 1 | tr -dc '0-9.')"
	if [ -f "$stamp" ]; then [ "$(cat "$stamp")" = ok ]; return; fi
	log "probing KVM with a short boot (at most 60 s)"
	if timeout 60 "${vng_base[@]}" "${append[@]}" --exec "true" </dev/null >/dev/null 2>&1; then
		echo ok >"$stamp"
	else
		echo broken >"$stamp"; log "KVM boot did not finish: using TCG"
	fi
	[ "$(cat "$stamp")" = ok ]
}

accel=()
case "${NVMET_MEM_KVM:-auto}" in
0) accel=(--disable-kvm) ;;
1) ;;
*) kvm_works || accel=(--disable-kvm) ;;
esac
[ ${#accel[@]} -eq 0 ] && mode=KVM || mode=TCG
exec 9>&-
qemu_opts=()
[ -n "${VM_QEMU_OPTS:-}" ] && qemu_opts=(--qemu-opts "$VM_QEMU_OPTS")

# what the guest scripts need to know of the host side: the module built
# for this kernel, or the one NVMET_MEM_KO names (a module built elsewhere,
# e.g. from a second work tree)
printf 'NVMET_MEM_KO=%q\n' "${NVMET_MEM_KO:-$(module_dir "$KDIR")/nvmet-mem.ko}" >"$out/guest.env"

log "booting $(basename "$KDIR") under $mode: $(basename "$script") $*"
inner="$NVMET_MEM_TOP/scripts/guest-init.sh $(printf '%q ' "$out" "$script" "$@")"
start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout_s" "${vng_base[@]}" "${accel[@]}" "${append[@]}" \
	"${qemu_opts[@]}" --exec "$inner" </dev/null >"$out/console.log" 2>&1
vrc=$?
set -e
log "guest ran $(( $(date +%s) - start ))s"

[ -f "$out/output.log" ] && cat "$out/output.log"

rc=125
if [ $vrc -eq 124 ] || [ $vrc -eq 137 ]; then
	log "timeout after ${timeout_s}s"; rc=124
elif [ -f "$out/rc" ]; then
	rc=$(cat "$out/rc")
else
	log "guest died before the script finished (vng exit $vrc); console tail:"
	tail -n 40 "$out/console.log" >&2
fi

splat='(Oops|BUG: |kernel BUG at|WARNING: |KASAN|UBSAN:|general protection fault|Kernel panic|Call Trace:|possible circular locking|possible recursive locking|inconsistent lock state|unreferenced object|blocked for more than)'
reports=$( { for f in "$out/dmesg" "$out/console.log"; do
		[ ! -f "$f" ] || cat "$f"
	done; cat "$out/kmemleak" 2>/dev/null; } | grep -E "$splat" | sort -u || true)
printf '%s' "$reports" >"$out/reports"
if [ -n "$reports" ]; then
	log "kernel reports in the guest (see $out/dmesg, $out/console.log):"
	printf '%s\n' "$reports" | head -n 20 >&2
	[ "$rc" -eq 0 ] && rc=1
fi
exit "$rc"
