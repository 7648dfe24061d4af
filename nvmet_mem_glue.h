/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between nvmet_mem_glue.c (C, sees nvmet's private header)
 * and ffi.rs (Rust). Functions named nvmet_mem_rs_* are implemented in Rust
 * and called by nvmet through the backend ops table; all others are C
 * accessors called from Rust. Structures cross as opaque pointers only.
 */
#ifndef NVMET_MEM_GLUE_H
#define NVMET_MEM_GLUE_H

#include <linux/types.h>

struct nvmet_ns;
struct nvmet_req;

/* Rust, called by nvmet */
int nvmet_mem_rs_enable(struct nvmet_ns *ns);
void nvmet_mem_rs_disable(struct nvmet_ns *ns);
u16 nvmet_mem_rs_parse_io_cmd(struct nvmet_req *req);

/* C, called from Rust */
int nvmet_mem_register(void);
void nvmet_mem_unregister(void);

const char *nvmet_mem_ns_device_path(const struct nvmet_ns *ns);
u32 nvmet_mem_ns_nsid(const struct nvmet_ns *ns);
void nvmet_mem_ns_set_geometry(struct nvmet_ns *ns, u64 size, u32 blksize_shift);

u16 nvmet_mem_req_invalid_opcode(struct nvmet_req *req);

#endif /* NVMET_MEM_GLUE_H */
