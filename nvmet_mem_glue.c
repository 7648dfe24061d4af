// SPDX-License-Identifier: GPL-2.0
/*
 * C half of nvmet-mem's FFI layer: the delayed completion timer, and the
 * static inlines of the kernel that the Rust side does not yet take from
 * the kernel crate. nvmet's structures and exported functions reach Rust
 * through bindgen (rust/bindings/bindings_helper.h includes nvmet.h), and
 * so do these functions (it includes nvmet_mem_glue.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/preempt.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "nvmet.h"
#include "nvmet_mem_glue.h"

/* ---- requests ---- */

/*
 * Whether execute must not sleep: the transport said so (nvme-loop), or
 * it runs in a softirq (nvmet-fc may execute from an LLDD's completion).
 */
bool nvmet_mem_req_nowait(const struct nvmet_req *req)
{
	return req->nowait || in_interrupt();
}

/* ---- held commands ---- */

/*
 * Why a held command must end now: 0 while everything it holds a reference
 * on lives; Command Aborted due to SQ Deletion once its queue is being
 * deleted (the host reset or disconnected, the port went); Command Abort
 * Requested once its namespace is being disabled or its host's reservation
 * was preempted with abort. Each of these kills the reference first and
 * then waits for it, so this is what lets them go on.
 */
u16 nvmet_mem_req_ending(const struct nvmet_req *req)
{
	if (percpu_ref_is_dying(&req->sq->ref))
		return NVME_SC_ABORT_QUEUE;
	if (req->ns && percpu_ref_is_dying(&req->ns->ref))
		return NVME_SC_ABORT_REQ;
	if (req->pc_ref && percpu_ref_is_dying(&req->pc_ref->ref))
		return NVME_SC_ABORT_REQ;
	return 0;
}

/* ---- delayed completion (latency injection) ---- */

struct nvmet_mem_delayed {
	struct hrtimer		timer;
	struct nvmet_req	*req;
	u16			status;
};

static enum hrtimer_restart nvmet_mem_delayed_fire(struct hrtimer *timer)
{
	struct nvmet_mem_delayed *d =
		container_of(timer, struct nvmet_mem_delayed, timer);
	struct nvmet_req *req = d->req;
	u16 status = d->status;

	/*
	 * Completing the command may let its namespace be disabled and this
	 * module be unloaded. free_module() waits for RCU readers before it
	 * frees the module's text, and a soft hrtimer callback runs with
	 * bottom halves disabled, which is one, until it has returned.
	 */
	kfree(d);
	nvmet_req_complete(req, status);
	return HRTIMER_NORESTART;
}

/*
 * Completes @req with @status @delay_ns from now, from a softirq, without
 * blocking the caller. The command keeps its namespace and queue
 * references until then, so disabling either waits for it. Returns 0, or
 * -ENOMEM if no timer could be allocated (without waiting, in a context
 * that must not sleep): then @req is left to the caller.
 */
int nvmet_mem_req_complete_after(struct nvmet_req *req, u16 status,
				 u64 delay_ns)
{
	gfp_t gfp = nvmet_mem_req_nowait(req) ? GFP_NOWAIT : GFP_NOIO;
	struct nvmet_mem_delayed *d;

	d = kmalloc_obj(*d, gfp | __GFP_NOWARN);
	if (!d)
		return -ENOMEM;
	d->req = req;
	d->status = status;
	hrtimer_setup(&d->timer, nvmet_mem_delayed_fire, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL_SOFT);
	hrtimer_start(&d->timer, ns_to_ktime(delay_ns), HRTIMER_MODE_REL_SOFT);
	return 0;
}

void nvmet_mem_cond_resched(void)
{
	cond_resched();
}

u64 nvmet_mem_totalram_bytes(void)
{
	return (u64)totalram_pages() << PAGE_SHIFT;
}

/* MemAvailable of /proc/meminfo, in pages */
unsigned long nvmet_mem_available_pages(void)
{
	long pages = si_mem_available();

	return pages > 0 ? pages : 0;
}

bool nvmet_mem_node_valid(int nid)
{
	return nid == NUMA_NO_NODE ||
	       (nid >= 0 && nid < MAX_NUMNODES && node_online(nid));
}

u32 nvmet_mem_random_below(u32 ceil)
{
	return get_random_u32_below(ceil);
}

u64 nvmet_mem_random_u64(void)
{
	return get_random_u64();
}
