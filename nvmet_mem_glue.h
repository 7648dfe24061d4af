/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between nvmet_mem_glue.c (C, sees nvmet's private header)
 * and the Rust FFI layer (ffi/). Functions named nvmet_mem_rs_* are
 * implemented in Rust (entry.rs) and reached from nvmet through the
 * backend ops table; all others are C primitives called from Rust.
 * nvmet's structures cross as opaque pointers only, so no structure
 * layout is restated in Rust.
 */
#ifndef NVMET_MEM_GLUE_H
#define NVMET_MEM_GLUE_H

#include <linux/types.h>

struct nvmet_ns;
struct nvmet_req;
struct scatterlist;

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

/* namespace */
const char *nvmet_mem_ns_device_path(const struct nvmet_ns *ns);
u32 nvmet_mem_ns_nsid(const struct nvmet_ns *ns);
void nvmet_mem_ns_set_geometry(struct nvmet_ns *ns, u64 size, u32 blksize_shift);
void nvmet_mem_ns_set_size(struct nvmet_ns *ns, u64 size);
void *nvmet_mem_ns_data(const struct nvmet_ns *ns);
void nvmet_mem_ns_set_data(struct nvmet_ns *ns, void *data);

/* request */
void *nvmet_mem_req_ns_data(const struct nvmet_req *req);
u8 nvmet_mem_req_opcode(const struct nvmet_req *req);
u64 nvmet_mem_req_slba(const struct nvmet_req *req);
u32 nvmet_mem_req_nlb(const struct nvmet_req *req);
u32 nvmet_mem_req_dsm_nr(const struct nvmet_req *req);
u32 nvmet_mem_req_dsm_attributes(const struct nvmet_req *req);
u32 nvmet_mem_req_dsm_len(const struct nvmet_req *req);
u16 nvmet_mem_req_dsm_range(struct nvmet_req *req, u32 i, u64 *slba, u32 *nlb);
void nvmet_mem_req_set_execute(struct nvmet_req *req,
			       void (*execute)(struct nvmet_req *req),
			       bool nowait_capable);
bool nvmet_mem_req_check_transfer_len(struct nvmet_req *req, size_t len);
bool nvmet_mem_req_check_data_len_lte(struct nvmet_req *req, size_t len);
bool nvmet_mem_req_nowait(const struct nvmet_req *req);
void nvmet_mem_req_defer(struct nvmet_req *req);
struct scatterlist *nvmet_mem_req_sg(const struct nvmet_req *req,
				     unsigned int *nents, size_t *len);
void nvmet_mem_req_set_error(struct nvmet_req *req, u16 loc, u64 slba);
void nvmet_mem_req_complete(struct nvmet_req *req, u16 status);
u16 nvmet_mem_req_ending(const struct nvmet_req *req);
int nvmet_mem_req_complete_after(struct nvmet_req *req, u16 status,
				 u64 delay_ns);
u16 nvmet_mem_req_invalid_opcode(struct nvmet_req *req);

/* system */
void nvmet_mem_cond_resched(void);

u64 nvmet_mem_totalram_bytes(void);
unsigned long nvmet_mem_available_pages(void);
bool nvmet_mem_node_valid(int nid);
u32 nvmet_mem_random_below(u32 ceil);
u64 nvmet_mem_random_u64(void);

#endif /* NVMET_MEM_GLUE_H */
