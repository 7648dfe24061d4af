/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What nvmet_mem_glue.c offers the Rust FFI layer (glue/), which calls it
 * through bindgen's declarations.
 */
#ifndef NVMET_MEM_GLUE_H
#define NVMET_MEM_GLUE_H

#include <linux/types.h>

struct nvmet_req;

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
