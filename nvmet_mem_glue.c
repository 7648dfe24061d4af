// SPDX-License-Identifier: GPL-2.0
/*
 * C half of nvmet-mem's FFI layer.
 *
 * struct nvmet_ns and struct nvmet_req live in the private header of the
 * nvmet core (drivers/nvme/target/nvmet.h), which is not part of the
 * kernel's Rust bindings. Rather than restate any of their layout in Rust,
 * this object includes the header, owns the backend ops table and offers
 * flat accessors. Everything here is a one-liner; logic lives in Rust.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "nvmet.h"
#include "nvmet_mem_glue.h"

static struct nvmet_backend_ops nvmet_mem_backend_ops = {
	.name		= "mem",
	.owner		= THIS_MODULE,
	.enable		= nvmet_mem_rs_enable,
	.disable	= nvmet_mem_rs_disable,
	.parse_io_cmd	= nvmet_mem_rs_parse_io_cmd,
};

int nvmet_mem_register(void)
{
	return nvmet_register_backend(&nvmet_mem_backend_ops);
}

void nvmet_mem_unregister(void)
{
	nvmet_unregister_backend(&nvmet_mem_backend_ops);
}

const char *nvmet_mem_ns_device_path(const struct nvmet_ns *ns)
{
	return ns->device_path;
}

u32 nvmet_mem_ns_nsid(const struct nvmet_ns *ns)
{
	return ns->nsid;
}

void nvmet_mem_ns_set_geometry(struct nvmet_ns *ns, u64 size, u32 blksize_shift)
{
	ns->size = size;
	ns->blksize_shift = blksize_shift;
}

u16 nvmet_mem_req_invalid_opcode(struct nvmet_req *req)
{
	return nvmet_report_invalid_opcode(req);
}
