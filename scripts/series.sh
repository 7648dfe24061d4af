#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Regenerate the kernel patch series in patches/ as one numbered series:
# the nvmet patches that patches/ holds, then one patch per kernel crate
# abstraction that the driver needs (generated from rust/kernel/ and the
# commit messages in rust/msg/), then a last patch, generated here,
# that adds nvmet-mem itself under drivers/nvme/target/mem/ from this
# repository's sources (the Rust crate, the C glue, Kbuild as its
# Makefile), with its Kconfig entry and MAINTAINERS section, so that the
# module in the tree and the one built out of tree never drift apart.
#
# The patches are made with git on pristine Linux 7.3 (linux-source-7.3),
# with dates taken from the patches, so that the output depends only on
# the inputs.
#
# The cover letter, patches/0000-cover-letter.patch, is format-patch's with
# the subject and text of scripts/cover-letter.txt (first line: subject).
#
#   scripts/series.sh           rewrite patches/*.patch
#   scripts/series.sh --check   exit 1 if patches/ differs from what it would write
set -euo pipefail
LOG_TAG=series
. "$(dirname "$0")/env.sh"

[ -n "$KERNEL_TARBALL" ] || die "no /usr/src/linux-source-7.3.tar.*: run scripts/setup.sh"
check=0
[ "${1:-}" = --check ] && check=1

# what the generated patch contains, relative to the repository
SOURCES=(Kbuild nvmet_mem.rs entry.rs backend.rs configfs.rs hold.rs inject.rs io.rs
	 nvme.rs store.rs glue.rs glue/nvmet.rs glue/page.rs
	 glue/sg.rs nvmet_mem_glue.c nvmet_mem_glue.h)
DRIVER_SUBJECT="nvmet-mem: add a memory backend for the NVMe target"
# the kernel crate patches, in order: "message file  changed files...";
# the files are whole copies of Linux 7.3's, changed, under rust/kernel/
RUST_PATCHES=(
	"rust/msg/atomic-memcpy.txt rust/kernel/sync/atomic.rs"
	"rust/msg/alloc-noio-node.txt rust/kernel/alloc.rs rust/bindings/bindings_helper.h rust/helpers/slab.c"
	"rust/msg/page-bytewise.txt rust/kernel/page.rs rust/helpers/page.c"
	"rust/msg/scatterlist-miter.txt rust/kernel/scatterlist.rs rust/helpers/scatterlist.c"
	"rust/msg/interrupt-bh.txt rust/kernel/interrupt.rs rust/helpers/interrupt.c"
	"rust/msg/rcu-box.txt rust/kernel/sync/rcu.rs"
	"rust/msg/xarray-rcu-insert-find.txt rust/kernel/xarray.rs rust/helpers/xarray.c"
	"rust/msg/random.txt +rust/kernel/random.rs"
	"rust/msg/ratelimit.txt +rust/kernel/ratelimit.rs +rust/helpers/ratelimit.c"
	"rust/msg/percpu-counter.txt +rust/kernel/percpu_counter.rs rust/kernel/lib.rs rust/helpers/helpers.c +rust/helpers/percpu_counter.c"
	"rust/msg/workqueue-flush.txt rust/kernel/workqueue.rs"
	"rust/msg/task-cond-resched.txt rust/kernel/task.rs rust/helpers/task.c"
	"rust/msg/mm-totals.txt rust/kernel/mm.rs rust/helpers/mm.c"
	"rust/msg/hrtimer-detached.txt rust/kernel/time/hrtimer.rs rust/kernel/time/hrtimer/tbox.rs"
)
# (a file that 7.3 does not have is marked with a leading '+'); a patch
# that adds files names them in MAINTAINERS: "section|pattern|pattern..."
# adds F: lines at the end of that section's F: lines (before K: and N:)
declare -A RUST_MAINTAINERS=(
	[rust/msg/random.txt]="RANDOM NUMBER DRIVER|rust/kernel/random.rs"
	[rust/msg/ratelimit.txt]="PRINTK|rust/helpers/ratelimit.c|rust/kernel/ratelimit.rs"
	[rust/msg/percpu-counter.txt]="PER-CPU MEMORY ALLOCATOR|rust/helpers/percpu*.c|rust/kernel/percpu*.rs"
)
# and the lines that a patch adds to files that another patch copies
# whole: "file|line it goes after|line", one edit per line
declare -A RUST_EDITS=(
	[rust/msg/random.txt]="rust/kernel/lib.rs|pub mod pwm;|pub mod random;"
	[rust/msg/ratelimit.txt]="rust/kernel/lib.rs|pub mod random;|pub mod ratelimit;
rust/helpers/helpers.c|#include \"pwm.c\"|#include \"ratelimit.c\""
	[rust/msg/percpu-counter.txt]="rust/bindings/bindings_helper.h|#include <linux/pci.h>|#include <linux/percpu_counter.h>"
)
rust_files=()
for r in "${RUST_PATCHES[@]}"; do
	read -r -a w <<<"$r"
	for f in "${w[@]:1}"; do
		[ "${f:0:1}" = + ] || rust_files+=("$f")
	done
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
top=$(basename "$KERNEL_TARBALL" | sed "s/\.tar\..*//")
tar -C "$tmp" -xf "$KERNEL_TARBALL" "$top/drivers/nvme" "$top/include/linux/nvme.h" "$top/MAINTAINERS" \
	"${rust_files[@]/#/$top/}"
src=$tmp/$top
export GIT_AUTHOR_NAME="nvmet-mem developers" GIT_AUTHOR_EMAIL="nvmet-mem@localhost"
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
g() { git -C "$src" -c core.autocrlf=false -c commit.gpgsign=false "$@"; }
g init -q
g add -A
GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" \
	g commit -q -m "Linux 7.3 (pristine, partial)"
base=$(g rev-parse HEAD)

# the nvmet patches, in order; the generated ones are left out
n=0
for p in $(series_patches); do
	grep -q "^Subject: \[PATCH [0-9/]*\] ${DRIVER_SUBJECT:0:30}" "$p" && continue
	grep -q "^Subject: \[PATCH [0-9/]*\] rust: " "$p" && continue
	g am -q --committer-date-is-author-date "$p" || die "$(basename "$p") does not apply"
	n=$((n + 1))
done
[ $n -gt 0 ] || die "no nvmet patches in patches/"

# the kernel crate abstractions, dated as the last nvmet patch, so that the
# output depends on the inputs only
date=$(g log -1 --format=%aI)
for r in "${RUST_PATCHES[@]}"; do
	read -r -a w <<<"$r"
	for f in "${w[@]:1}"; do
		f=${f#+}
		cp "$NVMET_MEM_TOP/$f" "$src/$f"
	done
	while IFS='|' read -r -a e; do
		[ ${#e[@]} -gt 0 ] || continue
		grep -qxF "${e[1]}" "$src/${e[0]}" || die "no line '${e[1]}' in ${e[0]}"
		awk -v after="${e[1]}" -v add="${e[2]}" '{ print } $0 == after { print add }' \
			"$src/${e[0]}" >"$tmp/edit" && mv "$tmp/edit" "$src/${e[0]}"
	done <<<"${RUST_EDITS[${w[0]}]:-}"
	if [ -n "${RUST_MAINTAINERS[${w[0]}]:-}" ]; then
		IFS='|' read -r -a m <<<"${RUST_MAINTAINERS[${w[0]}]}"
		awk -v sec="${m[0]}" -v add="$(printf 'F:\t%s\n' "${m[@]:1}")" '
			$0 == sec { in_sec = 1 }
			in_sec && /^([KN]:|$)/ { print add; in_sec = 0; done = 1 }
			{ print }
			END { if (!done) exit 1 }' "$src/MAINTAINERS" >"$tmp/MAINTAINERS" ||
			die "no section ${m[0]} in MAINTAINERS"
		mv "$tmp/MAINTAINERS" "$src/MAINTAINERS"
	fi
	g add -A
	{ cat "$NVMET_MEM_TOP/${w[0]}"; printf '\nSigned-off-by: %s <%s>\n' "$GIT_AUTHOR_NAME" "$GIT_AUTHOR_EMAIL"; } |
		GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date g commit -q -F -
done

# the driver
dst=$src/drivers/nvme/target/mem
mkdir -p "$dst/glue"
for f in "${SOURCES[@]}"; do
	case $f in
	Kbuild) cp "$NVMET_MEM_TOP/$f" "$dst/Makefile" ;;
	*) cp "$NVMET_MEM_TOP/$f" "$dst/$f" ;;
	esac
done
# nvmet's private header and the driver's C glue reach its Rust through
# bindgen, as binder's headers do
cat >>"$src/rust/bindings/bindings_helper.h" <<'EOF'

#if IS_ENABLED(CONFIG_NVME_TARGET_MEM)
#include "../../drivers/nvme/target/nvmet.h"
#include "../../drivers/nvme/target/mem/nvmet_mem_glue.h"
#endif
EOF
cat >>"$src/drivers/nvme/target/Kconfig" <<'EOF'

config NVME_TARGET_MEM
	tristate "NVMe Target memory backend"
	depends on NVME_TARGET && RUST && 64BIT && !PREEMPT_RT
	select NEED_TASKS_RCU
	help
	  This adds the "mem" namespace backend to the NVMe target: a
	  namespace whose blocks live in memory on the target, allocated a
	  page at a time on first write, served with a copy between the
	  command's scatterlist and the page, without a block device or a
	  file. Memory objects are created under
	  /sys/kernel/config/nvmet_mem/, and a namespace selects one by
	  writing "mem" to its backend attribute and the object's name to
	  its device_path. It also injects errors, latency and held
	  commands, for testing hosts and fabrics.

	  It needs a 64-bit kernel: a page's index is an unsigned long, and
	  on 32-bit the pages of a namespace beyond 16 TiB would alias those
	  below. It is not offered on PREEMPT_RT, where a page's writer bit,
	  which spins with bottom halves disabled, would not keep a reader
	  on the same CPU from preempting the writer and spinning for ever.
	  It selects Tasks RCU, which its removal waits on: a task preempted
	  in its code, after the command that pinned it completed, must have
	  left it before the module's text is freed.

	  To compile this as a module, choose M here: the module will be
	  called nvmet-mem.

	  If unsure, say N.
EOF
sed -i 's|^obj-$(CONFIG_NVME_TARGET_PCI_EPF)\t+= nvmet-pci-epf.o$|&\nobj-$(CONFIG_NVME_TARGET_MEM)\t\t+= mem/|' \
	"$src/drivers/nvme/target/Makefile"
grep -q NVME_TARGET_MEM "$src/drivers/nvme/target/Makefile" || die "drivers/nvme/target/Makefile changed upstream"
awk '
	{ print }
	/^NVM EXPRESS TARGET DRIVER$/ { in_sec = 1 }
	in_sec && /^$/ {
		print "NVM EXPRESS TARGET MEMORY BACKEND"
		print "M:\tnvmet-mem developers <nvmet-mem@localhost>"
		print "L:\tlinux-nvme@lists.infradead.org"
		print "L:\trust-for-linux@vger.kernel.org"
		print "S:\tMaintained"
		print "F:\tdrivers/nvme/target/mem/"
		print ""
		in_sec = 0
	}' "$src/MAINTAINERS" >"$tmp/MAINTAINERS"
mv "$tmp/MAINTAINERS" "$src/MAINTAINERS"
grep -q "^NVM EXPRESS TARGET MEMORY BACKEND" "$src/MAINTAINERS" || die "MAINTAINERS changed upstream"
g add -A
# dated as the last nvmet patch, so that the output depends on the inputs only
date=$(g log -1 --format=%aI)
GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date g commit -q -F - <<EOF
$DRIVER_SUBJECT

Engineers who test NVMe hosts, fabrics, multipath and file systems need
a target that is fast, costs no disk, can be larger than the memory it
has, and can be told to fail. brd and null_blk behind the bdev backend
come close, but each command then becomes a bio or a request of a block
device that nothing else uses, and neither fails the commands of one
namespace on request with the NVMe status and LBA that the test needs,
nor holds them, nor resizes while the namespace is in use.

Add nvmet-mem, a namespace backend that serves the namespace from an
xarray of pages: a command's data is copied between its scatterlist and
the pages, with no bio, request, block device or file in between.

- Memory objects are configfs items under /sys/kernel/config/nvmet_mem/
  with a size and a block size (512 or 4096), and outlive the
  namespaces that use them; a namespace selects the "mem" backend and
  names an object in device_path. The module registers the backend
  with nvmet_register_backend() and is loaded on demand by its alias
  nvmet-backend-mem.
- Pages are allocated on first write (thin provisioning, NUSE reported)
  and freed by Dataset Management (deallocate) and Write Zeroes.
  Overwrites are lock-free, as in brd: the page is found under RCU and
  kept by a page reference; insertion is a compare-exchange. Reads take
  no reference: they copy within the RCU read section, and the index's
  reference on an erased page is put after a grace period. A per-page
  sequence count keeps one logical block atomic (AWUN 0).
- Read, Write, Compare, Write Zeroes, Dataset Management, Flush and
  Verify; ONCS advertises Compare and Verify. Commands honour the
  nowait contract of nvme-loop: a write that needs a page defers itself.
- A size may change while the namespace is enabled (online resize).
- Error injection rules (opcode, LBA range, status, count, probability),
  latency injection, held commands, and per-CPU command statistics.
- A memory floor keeps allocations from taking the target's last memory.

The logic is safe Rust; unsafe code is confined to the FFI layer (glue/,
which reads nvmet's structures through bindgen: bindings_helper.h
includes the private nvmet.h and the driver's glue header when the
driver is enabled, as it does binder's headers, and builds the backend
ops table from a #[vtable] trait as the block layer's binding does; and
a small C object, nvmet_mem_glue.c, that holds the delayed completion
timer and a few static inlines of the kernel). The copies
between a command's scatterlist and the pages are Rust, on the kernel
crate's SgMiter and byte-wise atomic page copies (the patches before
this one).
KUnit suites cover the store, the injection rules and resize.

Signed-off-by: nvmet-mem developers <nvmet-mem@localhost>
EOF

out=$tmp/out
g format-patch -q -n --cover-letter -o "$out" "$base"
cover=$NVMET_MEM_TOP/scripts/cover-letter.txt
last=$(ls "$out"/*.patch | tail -n 1)
python3 - "$out/0000-cover-letter.patch" "$cover" "$last" <<'PY'
import re, sys
path, src, last = sys.argv[1], sys.argv[2], sys.argv[3]
subject, _, blurb = open(src).read().partition("\n")
text = open(path).read()
assert "*** SUBJECT HERE ***" in text and "*** BLURB HERE ***" in text
text = text.replace("*** SUBJECT HERE ***", subject.strip())
text = text.replace("*** BLURB HERE ***", blurb.strip("\n"))
# dated as the last patch, not now, so that the output depends on the inputs
date = re.search(r"^Date: .*$", open(last).read(), re.M).group(0)
text = re.sub(r"^Date: .*$", lambda m: date, text, count=1, flags=re.M)
open(path, "w").write(text)
PY
if [ $check = 1 ]; then
	rc=0
	for p in "$out"/*.patch; do
		cmp -s "$p" "$NVMET_MEM_TOP/patches/$(basename "$p")" ||
			{ echo "differs or missing: patches/$(basename "$p")"; rc=1; }
	done
	for p in "$NVMET_MEM_TOP"/patches/*.patch; do
		[ -f "$out/$(basename "$p")" ] || { echo "stale: patches/$(basename "$p")"; rc=1; }
	done
	exit $rc
fi
rm -f "$NVMET_MEM_TOP"/patches/*.patch
cp "$out"/*.patch "$NVMET_MEM_TOP/patches/"
log "wrote $(ls "$out" | wc -l) patches to patches/"
