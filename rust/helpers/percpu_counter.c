// SPDX-License-Identifier: GPL-2.0

#include <linux/percpu_counter.h>

__rust_helper void rust_helper_percpu_counter_add(struct percpu_counter *fbc,
						  s64 amount)
{
	percpu_counter_add(fbc, amount);
}

__rust_helper void
rust_helper_percpu_counter_add_local(struct percpu_counter *fbc, s64 amount)
{
	percpu_counter_add_local(fbc, amount);
}

__rust_helper s64 rust_helper_percpu_counter_read(struct percpu_counter *fbc)
{
	return percpu_counter_read(fbc);
}

__rust_helper s64 rust_helper_percpu_counter_sum(struct percpu_counter *fbc)
{
	return percpu_counter_sum(fbc);
}

#ifndef CONFIG_SMP
/*
 * With SMP these two are functions of lib/percpu_counter.c, the first taking
 * the lock class that the percpu_counter_init_many() macro makes for each of
 * its callers; without SMP, the same names and arguments.
 */
__rust_helper int
rust_helper___percpu_counter_init_many(struct percpu_counter *fbc, s64 amount,
				       gfp_t gfp, u32 nr_counters,
				       struct lock_class_key *key)
{
	return percpu_counter_init_many(fbc, amount, gfp, nr_counters);
}

__rust_helper void
rust_helper_percpu_counter_destroy_many(struct percpu_counter *fbc,
					u32 nr_counters)
{
	percpu_counter_destroy_many(fbc, nr_counters);
}
#endif
