# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of nvmet-mem against a Linux 7.3 tree that has the
# patches/ series applied and CONFIG_RUST, CONFIG_NVME_TARGET enabled.
#
#   make KDIR=/path/to/linux [LLVM=-22 RUSTC=... BINDGEN=...]
#   make KDIR=... CLIPPY=1      # lint the crate with clippy
#
# Without KDIR, the project's own cached guest kernel tree is used
# (scripts/build-kernel.sh builds it).
#
# Project targets (they need scripts/setup.sh to have run once):
#   make run     build, boot, serve a namespace over nvme-loop, do I/O
#   make check   build and run the test suite in a guest (debug kernel)
#   make soak    the long soak (SOAK_SECONDS, default 1800; SOAK_FUZZ_COUNT,
#                default 10000 fuzz commands per transport) on the debug kernel
#   make bench   benchmark: mem vs brd, null_blk, tmpfs file (plain kernel, icount guest)
#   make blktests  blktests' nvme group, mem vs file namespaces, loop and tcp
#                (plain kernel; needs ../shared/blktests, skips without it)
#   make kernel  build (or reuse) the cached guest kernel
#   make series  regenerate patches/ (its last patch adds nvmet-mem to the tree)
#   make series-check  build every prefix of patches/ as a kernel of its own
#                (a cached tree; not in make check: see scripts/series-check.sh)

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KDIR ?= $(shell $(TOP)/scripts/build-kernel.sh --print-dir)

.PHONY: all modules clean run check soak kernel rustfmt

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(TOP) CONFIG_NVME_TARGET_MEM=m modules

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean

# the kernel's rustfmt settings, as selftests/host/rust_style.sh checks them
rustfmt:
	rustfmt --edition 2021 --config-path $(KDIR)/.rustfmt.toml $(TOP)/*.rs $(TOP)/glue/*.rs

kernel:
	$(TOP)/scripts/build-kernel.sh

.PHONY: series
series:
	$(TOP)/scripts/series.sh

.PHONY: series-check
series-check:
	$(TOP)/scripts/series-check.sh

run:
	$(TOP)/scripts/run.sh

check:
	$(TOP)/selftests/run.sh

SOAK_SECONDS ?= 1800
soak:
	$(TOP)/scripts/soak.sh $(SOAK_SECONDS)

.PHONY: bench
bench:
	$(TOP)/scripts/bench.sh

.PHONY: blktests
blktests:
	$(TOP)/scripts/blktests.sh
