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

#include <linux/cacheflush.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/scatterlist.h>
#include "nvmet.h"
#include "nvmet_mem_glue.h"

static void *nvmet_mem_context;

static void nvmet_mem_identify_ns(struct nvmet_ns *ns, struct nvme_id_ns *id)
{
	u64 used = nvmet_mem_rs_used_blocks(ns);

	/* the core leaves NUSE zero where the namespace is inaccessible */
	if (id->nuse)
		id->nuse = cpu_to_le64(min(used, le64_to_cpu(id->nsze)));
	/* thin: NUSE counts the blocks backed by pages */
	id->nsfeat |= NVME_NS_FEAT_THIN;
	/* deallocated blocks read as zeroes; Write Zeroes deallocates */
	id->dlfeat = 0x1 | (1 << 3);
}

static void nvmet_mem_identify_cs_indep(struct nvmet_ns *ns,
					struct nvme_id_ns_cs_indep *id)
{
	/* a write is in the store when it completes; Flush has nothing to do */
	id->nsfeat |= NVME_NS_VWC_NOT_PRESENT;
}

static struct nvmet_backend_ops nvmet_mem_backend_ops = {
	.name			= "mem",
	.owner			= THIS_MODULE,
	.enable			= nvmet_mem_rs_enable,
	.disable		= nvmet_mem_rs_disable,
	.parse_io_cmd		= nvmet_mem_rs_parse_io_cmd,
	.identify_ns		= nvmet_mem_identify_ns,
	.identify_cs_indep	= nvmet_mem_identify_cs_indep,
};

int nvmet_mem_register(void *ctx)
{
	nvmet_mem_context = ctx;
	return nvmet_register_backend(&nvmet_mem_backend_ops);
}

void nvmet_mem_unregister(void)
{
	nvmet_unregister_backend(&nvmet_mem_backend_ops);
	nvmet_mem_context = NULL;
}

void *nvmet_mem_ctx(void)
{
	return nvmet_mem_context;
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

void *nvmet_mem_ns_data(const struct nvmet_ns *ns)
{
	return ns->backend_data;
}

void nvmet_mem_ns_set_data(struct nvmet_ns *ns, void *data)
{
	ns->backend_data = data;
}

void *nvmet_mem_req_ns_data(const struct nvmet_req *req)
{
	return req->ns->backend_data;
}

u8 nvmet_mem_req_opcode(const struct nvmet_req *req)
{
	return req->cmd->common.opcode;
}

/* Read, Write, Compare, Write Zeroes and Verify share these fields. */
u64 nvmet_mem_req_slba(const struct nvmet_req *req)
{
	return le64_to_cpu(req->cmd->rw.slba);
}

u32 nvmet_mem_req_nlb(const struct nvmet_req *req)
{
	return (u32)le16_to_cpu(req->cmd->rw.length) + 1;
}

u32 nvmet_mem_req_dsm_nr(const struct nvmet_req *req)
{
	return le32_to_cpu(req->cmd->dsm.nr) + 1;
}

u32 nvmet_mem_req_dsm_attributes(const struct nvmet_req *req)
{
	return le32_to_cpu(req->cmd->dsm.attributes);
}

u32 nvmet_mem_req_dsm_len(const struct nvmet_req *req)
{
	return nvmet_dsm_len((struct nvmet_req *)req);
}

u16 nvmet_mem_req_dsm_range(struct nvmet_req *req, u32 i, u64 *slba, u32 *nlb)
{
	struct nvme_dsm_range range;
	u16 status;

	status = nvmet_copy_from_sgl(req, i * sizeof(range), &range,
				     sizeof(range));
	if (status)
		return status;
	*slba = le64_to_cpu(range.slba);
	*nlb = le32_to_cpu(range.nlb);
	return 0;
}

void nvmet_mem_req_set_execute(struct nvmet_req *req, bool in_submitter)
{
	req->execute = nvmet_mem_rs_execute;
	req->execute_inline = in_submitter;
}

bool nvmet_mem_req_check_transfer_len(struct nvmet_req *req, size_t len)
{
	return nvmet_check_transfer_len(req, len);
}

bool nvmet_mem_req_check_data_len_lte(struct nvmet_req *req, size_t len)
{
	return nvmet_check_data_len_lte(req, len);
}

bool nvmet_mem_req_inline(const struct nvmet_req *req)
{
	return req->execute_inline;
}

bool nvmet_mem_req_sg_direct(const struct nvmet_req *req,
			     struct scatterlist **sg, u32 *cnt)
{
	*sg = req->sg;
	*cnt = req->sg_cnt;
	/*
	 * Without highmem every page has a direct-map address, which is what
	 * kmap_local_page() returns; and where the architecture needs no
	 * flush_dcache_page(), sg_miter's unmap does nothing else either.
	 */
	return !IS_ENABLED(CONFIG_HIGHMEM) && !ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE;
}

struct scatterlist *nvmet_mem_sg_virt(struct scatterlist *sg, void **addr,
				      u32 *len)
{
	*addr = sg_virt(sg);
	*len = sg->length;
	return sg_next(sg);
}

void nvmet_mem_req_error_slba(struct nvmet_req *req, u64 slba)
{
	req->error_loc = offsetof(struct nvme_rw_command, slba);
	req->error_slba = slba;
}

void nvmet_mem_req_complete(struct nvmet_req *req, u16 status)
{
	nvmet_req_complete(req, status);
}

u16 nvmet_mem_req_invalid_opcode(struct nvmet_req *req)
{
	return nvmet_report_invalid_opcode(req);
}

struct page *nvmet_mem_alloc_page(int nid, bool may_sleep)
{
	/* an I/O path allocation: no I/O recursion, no warning on failure */
	gfp_t gfp = may_sleep ? GFP_NOIO : GFP_NOWAIT;

	return alloc_pages_node(nid, gfp | __GFP_ZERO | __GFP_NOWARN, 0);
}

void nvmet_mem_free_page(struct page *page)
{
	__free_page(page);
}

/*
 * A whole page between page-aligned addresses goes by copy_page() (on x86-64
 * rep movsq where the CPU does that well), anything else by memcpy().
 */
void nvmet_mem_copy_from_page(void *to, struct page *page, size_t off,
			      size_t len)
{
	void *from = kmap_local_page(page);

	if (len == PAGE_SIZE && PAGE_ALIGNED(to))
		copy_page(to, from);
	else
		memcpy(to, from + off, len);
	kunmap_local(from);
}

void nvmet_mem_copy_to_page(struct page *page, size_t off, const void *from,
			    size_t len)
{
	void *to = kmap_local_page(page);

	if (len == PAGE_SIZE && PAGE_ALIGNED(from))
		copy_page(to, (void *)from);
	else
		memcpy(to + off, from, len);
	kunmap_local(to);
}

u64 nvmet_mem_totalram_bytes(void)
{
	return (u64)totalram_pages() << PAGE_SHIFT;
}

bool nvmet_mem_node_valid(int nid)
{
	return nid == NUMA_NO_NODE ||
	       (nid >= 0 && nid < MAX_NUMNODES && node_online(nid));
}
