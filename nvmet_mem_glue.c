// SPDX-License-Identifier: GPL-2.0
/*
 * C half of nvmet-mem's glue: what the Rust side cannot express on nvmet's
 * structures (percpu_ref_is_dying() is a static inline). nvmet's
 * structures and exported functions reach Rust through bindgen
 * (rust/bindings/bindings_helper.h includes nvmet.h), and so does this
 * function (it includes nvmet_mem_glue.h).
 */
#include "nvmet.h"
#include "nvmet_mem_glue.h"

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
