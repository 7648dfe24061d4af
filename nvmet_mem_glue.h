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
u16 nvmet_mem_req_ending(const struct nvmet_req *req);

#endif /* NVMET_MEM_GLUE_H */
