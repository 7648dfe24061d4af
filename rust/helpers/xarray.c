// SPDX-License-Identifier: GPL-2.0

#include <linux/xarray.h>

__rust_helper int rust_helper_xa_err(void *entry)
{
	return xa_err(entry);
}

__rust_helper void rust_helper_xa_init_flags(struct xarray *xa, gfp_t flags)
{
	return xa_init_flags(xa, flags);
}

__rust_helper int rust_helper_xa_trylock(struct xarray *xa)
{
	return xa_trylock(xa);
}

__rust_helper void rust_helper_xa_lock(struct xarray *xa)
{
	return xa_lock(xa);
}

__rust_helper void rust_helper_xa_unlock(struct xarray *xa)
{
	return xa_unlock(xa);
}

__rust_helper bool rust_helper_xa_is_zero(const void *entry)
{
	return xa_is_zero(entry);
}

__rust_helper bool rust_helper_xa_is_retry(const void *entry)
{
	return xa_is_retry(entry);
}

__rust_helper void rust_helper_xas_reset(struct xa_state *xas)
{
	xas_reset(xas);
}

__rust_helper void *rust_helper_xas_next(struct xa_state *xas)
{
	return xas_next(xas);
}
