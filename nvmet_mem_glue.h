/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between nvmet_mem_glue.c and the Rust FFI layer (ffi/).
 * Functions named nvmet_mem_rs_* are implemented in Rust (entry.rs) and
 * reached from nvmet through the backend ops table; all others are C
 * called from Rust. Rust reads nvmet's structures through bindgen.
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
u64 nvmet_mem_rs_used_blocks(struct nvmet_ns *ns);
void nvmet_mem_rs_revalidate(struct nvmet_ns *ns);

/* registration; ctx is handed back by nvmet_mem_ctx() */
int nvmet_mem_register(void *ctx);
void nvmet_mem_unregister(void);
void *nvmet_mem_ctx(void);

/* request */
bool nvmet_mem_req_nowait(const struct nvmet_req *req);
u16 nvmet_mem_req_ending(const struct nvmet_req *req);
int nvmet_mem_req_complete_after(struct nvmet_req *req, u16 status,
				 u64 delay_ns);

/* system */
void nvmet_mem_cond_resched(void);

u64 nvmet_mem_totalram_bytes(void);
unsigned long nvmet_mem_available_pages(void);
bool nvmet_mem_node_valid(int nid);
u32 nvmet_mem_random_below(u32 ceil);
u64 nvmet_mem_random_u64(void);

#endif /* NVMET_MEM_GLUE_H */
