// SPDX-License-Identifier: GPL-2.0

//! Memory objects, the table that names them, and the binding of a
//! namespace to an object (safe Rust).
//!
//! A memory object is created with `mkdir /sys/kernel/config/nvmet_mem/NAME`
//! (see [`crate::configfs`]) and owns its settings and its page store. A
//! namespace whose `backend` is `mem` and whose `device_path` is `NAME` binds
//! to it on enable: the settings are frozen into a [`Binding`] that the command
//! path reads without locking, and the object refuses changes until the
//! namespace is disabled. The store belongs to the object, so data survives
//! disable and enable; it is freed with the object (after `rmdir` and, if a
//! namespace was still bound, once that namespace is disabled).

use crate::glue::{HeldRequest, Namespace, NamespaceRef};
use crate::inject::Rules;
use crate::nvme::{Command, Status, NR_COMMANDS};
use crate::store::{Limits, Store};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::fmt;
use kernel::page::PAGE_SHIFT;
use kernel::percpu_counter::PercpuCounters;
use kernel::prelude::*;
use kernel::random::get_random_u64;
use kernel::ratelimit::RateLimit;
use kernel::str::CString;
use kernel::sync::{static_lock_class, Arc, ArcBorrow, Mutex};
use kernel::time::{msecs_to_jiffies, Instant, Monotonic};
use kernel::workqueue::{
    self, impl_has_delayed_work, impl_has_work, new_delayed_work, new_work, DelayedWork, Work,
    WorkItem,
};
use kernel::{new_mutex, pr_err, pr_info};

/// What a user sets through configfs.
pub(crate) struct Settings {
    /// Namespace size in bytes; 0 until set.
    pub(crate) size: u64,
    /// Logical block size in bytes: 512 or 4096.
    pub(crate) block_size: u32,
    /// NUMA node for pages, -1 for any.
    pub(crate) numa_node: i32,
    /// At most this many bytes of pages, 0 for no limit.
    pub(crate) max_memory: u64,
    /// Complete Read and Write without moving data (a benchmark ceiling).
    pub(crate) nodata: bool,
    /// Commands honour nowait: nvme-loop may execute them where it submits.
    pub(crate) nowait: bool,
    /// NSID of the namespace bound to the object, if any.
    pub(crate) bound: Option<u32>,
}

/// An object's statistics counters (see [`MemObject::stats`]): one per
/// [`Command`], at `cmd as usize`, then these.
#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum Stat {
    /// Commands with an opcode the backend does not serve.
    Other = NR_COMMANDS,
    ReadBytes,
    WriteBytes,
    /// Commands completed with an error status, injected ones included.
    Errors,
    /// Commands failed by an error injection rule.
    Injected,
    /// Commands whose completion was delayed (latency injection).
    Delayed,
    /// Of those, commands completed at once as no timer could be had.
    DelayFailed,
    /// Commands held by a rule (see [`crate::hold`]).
    Held,
}

/// The number of counters.
pub(crate) const NR_STATS: usize = Stat::Held as usize + 1;

/// Names of the counters in the `stats` attribute, in index order.
pub(crate) const STAT_NAMES: [&str; NR_STATS] = [
    "read_commands",
    "write_commands",
    "compare_commands",
    "write_zeroes_commands",
    "dsm_commands",
    "verify_commands",
    "flush_commands",
    "other_commands",
    "read_bytes",
    "write_bytes",
    "errors",
    "injected_errors",
    "delayed_commands",
    "delays_failed",
    "held_commands",
];

/// The largest completion delay and delay range that may be set, in
/// nanoseconds: disabling a namespace, deleting a queue or removing a port
/// waits for the commands still delayed, so each wait stays bounded.
pub(crate) const MAX_LATENCY_NS: u64 = 10_000_000_000;

/// A memory object: settings, pages, error injection rules, statistics.
#[pin_data]
pub(crate) struct MemObject {
    pub(crate) name: CString,
    #[pin]
    pub(crate) settings: Mutex<Settings>,
    /// `settings.size`, for the command path, which takes no lock: it
    /// changes while a namespace is bound only by an online resize.
    size: AtomicU64,
    #[pin]
    pub(crate) store: Store,
    #[pin]
    pub(crate) rules: Rules,
    /// Counted per CPU, so commands on different CPUs share no line
    /// (read them with [`MemObject::stat`]).
    #[pin]
    stats: PercpuCounters<NR_STATS>,
    /// Completion delay of every executed command, in nanoseconds: at
    /// least `latency_ns`, plus up to `latency_range_ns` drawn uniformly.
    /// Each at most [`MAX_LATENCY_NS`]; may change while bound.
    pub(crate) latency_ns: AtomicU64,
    pub(crate) latency_range_ns: AtomicU64,
    /// Commands held by a rule, and whether the object is on its table's
    /// list of objects to poll (see [`crate::hold`]).
    #[pin]
    pub(crate) held: Mutex<Held>,
}

/// An object's held commands, each with the time at which
/// it is aborted at the latest.
pub(crate) struct Held {
    pub(crate) cmds: KVec<(HeldRequest<KBox<Binding>>, Command, Instant<Monotonic>)>,
    pub(crate) polled: bool,
}

impl MemObject {
    pub(crate) fn new(name: CString) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                name,
                settings <- new_mutex!(Settings {
                    size: 0,
                    block_size: 512,
                    numa_node: -1,
                    max_memory: 0,
                    nodata: false,
                    nowait: true,
                    bound: None,
                }),
                size: AtomicU64::new(0),
                store <- Store::new(),
                rules <- Rules::new(),
                stats <- PercpuCounters::new(0, GFP_KERNEL, static_lock_class!()),
                latency_ns: AtomicU64::new(0),
                latency_range_ns: AtomicU64::new(0),
                held <- new_mutex!(Held {
                    cmds: KVec::new(),
                    polled: false,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// The namespace size in bytes, without locking.
    pub(crate) fn size(&self) -> u64 {
        // Pairs with the release in `resize`: a command that sees a grown
        // size sees the store's grown end too.
        self.size.load(Ordering::Acquire)
    }

    /// Sets the size to `new` bytes; `s` is the locked settings. Data
    /// beyond a smaller size is dropped; a larger size reads zeroes beyond
    /// the old end. A bound namespace sees it when nvmet revalidates it.
    pub(crate) fn resize(&self, s: &mut Settings, new: u64) {
        let old = s.size;
        if new < old {
            // Commands see the new end first: none writes beyond it once
            // the store drops what lies there.
            self.size.store(new, Ordering::Relaxed);
            self.store.resize(old, new);
        } else {
            // Commands see the new end last, once the store takes pages
            // up to it.
            self.store.resize(old, new);
            self.size.store(new, Ordering::Release);
        }
        s.size = new;
    }

    /// The delay to complete a command with, in nanoseconds: 0 for none.
    pub(crate) fn delay_ns(&self) -> u64 {
        let base = self.latency_ns.load(Ordering::Relaxed);
        match self.latency_range_ns.load(Ordering::Relaxed) {
            0 => base,
            range => base + random_u64_below(range + 1),
        }
    }

    /// Adds `n` to counter `stat`; any context. The counters are read
    /// with [`MemObject::stat_sum`], so a CPU folds its count into the
    /// shared one only when it would overflow.
    pub(crate) fn stat(&self, stat: Stat, n: u64) {
        self.add_stat(stat as usize, n);
    }

    fn add_stat(&self, i: usize, n: u64) {
        if let Some(c) = self.stats.get(i) {
            c.add_local(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Counter `i` (see [`STAT_NAMES`]) summed over the CPUs; 0 for
    /// `i >= NR_STATS`.
    pub(crate) fn stat_sum(&self, i: usize) -> u64 {
        self.stats
            .get(i)
            .map_or(0, |c| u64::try_from(c.sum()).unwrap_or(0))
    }

    /// Counts a command (`None`: an opcode not served) completed with
    /// `status`, `bytes` moved.
    pub(crate) fn count(&self, cmd: Option<Command>, status: Status, bytes: u64) {
        self.add_stat(cmd.map_or(Stat::Other as usize, |c| c as usize), 1);
        if status != 0 {
            self.stat(Stat::Errors, 1);
        } else if bytes != 0 {
            let moved = match cmd {
                Some(Command::Read) => Stat::ReadBytes,
                _ => Stat::WriteBytes,
            };
            self.stat(moved, bytes);
        }
    }
}

/// The memory objects that exist, by name.
#[pin_data]
pub(crate) struct ObjectTable {
    #[pin]
    objects: Mutex<KVec<Arc<MemObject>>>,
    /// Objects with held commands, for the poll ([`crate::hold`]); an object may have
    /// left `objects` (its directory is gone) while its namespace is bound.
    #[pin]
    pub(crate) held: Mutex<KVec<Arc<MemObject>>>,
    /// Polls held commands every [`HELD_POLL_MS`] while there are any,
    /// on `system_dfl_wq`: queue and namespace deletions on nvmet's own
    /// workqueue wait for held commands, so the poll must not run there.
    /// Module exit flushes it ([`ObjectTable::flush_poll`]).
    #[pin]
    poll: DelayedWork<ObjectTable>,
    /// References to objects that a namespace's disable or an `rmdir` let
    /// go, for [`ObjectTable::reap`] to drop: the last one frees the
    /// object's pages, which for a large object takes long, and those
    /// callers hold nvmet's locks (every connect and Identify waits) or
    /// configfs's.
    #[pin]
    dead: Mutex<KVec<Arc<MemObject>>>,
    #[pin]
    reap: Work<ObjectTable, 1>,
    /// Limits the log lines that explain refused configfs writes and
    /// namespace enables (see [`ObjectTable::log_refusal`]).
    #[pin]
    refusals: RateLimit,
}

/// How often held commands are checked for a reason to end.
pub(crate) const HELD_POLL_MS: u32 = 100;

impl_has_delayed_work! {
    impl HasDelayedWork<Self> for ObjectTable { self.poll }
}

impl_has_work! {
    impl HasWork<Self, 1> for ObjectTable { self.reap }
}

impl WorkItem<1> for ObjectTable {
    type Pointer = Arc<ObjectTable>;

    fn run(this: Arc<ObjectTable>) {
        let dead = core::mem::take(&mut *this.dead.lock());
        // Outside the lock: the last reference frees the object's pages.
        drop(dead);
    }
}

impl ObjectTable {
    /// Logs why a configfs write or a namespace's enable was refused, at
    /// most 10 times in 5 seconds, then how many reasons were left out:
    /// whoever can write to configfs must not be able to flood the log.
    /// The write fails with its errno every time.
    pub(crate) fn log_refusal(&self, why: fmt::Arguments<'_>) {
        if self.refusals.allow(c"nvmet_mem: refusals") {
            pr_err!("{}\n", why);
        }
    }

    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                objects <- new_mutex!(KVec::new()),
                held <- new_mutex!(KVec::new()),
                poll <- new_delayed_work!("ObjectTable::poll"),
                dead <- new_mutex!(KVec::new()),
                reap <- new_work!("ObjectTable::reap"),
                refusals <- RateLimit::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Makes sure that the held commands are polled within
    /// [`HELD_POLL_MS`]; any context.
    pub(crate) fn poll_held_later(self: ArcBorrow<'_, Self>) {
        // Already pending: that poll comes soon enough (and the reference
        // handed back is not the last: the caller borrows another).
        let _ = workqueue::system_dfl()
            .enqueue_delayed::<_, 0>(Arc::from(self), msecs_to_jiffies(HELD_POLL_MS));
    }

    /// Lets go of `obj` on the workqueue ([`ObjectTable::reap`]), so that
    /// freeing its pages, if this was the last reference, does not hold up
    /// the caller. Process context. Should the list not grow, the reference
    /// goes here.
    pub(crate) fn reap(self: ArcBorrow<'_, Self>, obj: Arc<MemObject>) {
        let mut dead = self.dead.lock();
        if dead.reserve(1, GFP_KERNEL).is_err() {
            drop(dead);
            return drop(obj);
        }
        // Into the room just made: cannot fail.
        let _ = dead.push(obj, GFP_KERNEL);
        drop(dead);
        // Already queued: that run takes this one too (it empties the list
        // after this push, as the push holds the lock).
        let _ = workqueue::system_dfl().enqueue::<_, 1>(Arc::from(self));
    }

    /// Waits until the poll of held commands, if pending or running, has
    /// run; for module exit, when no namespace is enabled and so no command
    /// can be held: a command is held and its poll queued under the table's
    /// lock (see [`crate::hold`]), so a pending poll finds none and ends. Process
    /// context.
    pub(crate) fn flush_poll(&self) {
        self.poll.flush();
    }

    /// Waits until the references handed to [`ObjectTable::reap`] are
    /// dropped; for module exit, when nothing hands more. Process context.
    pub(crate) fn flush_reap(&self) {
        self.reap.flush();
    }

    /// Makes room for one more object, so that the [`ObjectTable::add`]
    /// that follows cannot fail. configfs runs `make_group`, which calls
    /// both, under its subsystem mutex: no other `add` comes in between.
    pub(crate) fn reserve(&self) -> Result {
        self.objects.lock().reserve(1, GFP_KERNEL)?;
        Ok(())
    }

    /// Enters `obj` in the room made by [`ObjectTable::reserve`].
    pub(crate) fn add(&self, obj: Arc<MemObject>) -> Result {
        self.objects
            .lock()
            .push_within_capacity(obj)
            .map_err(|_| ENOMEM)
    }

    pub(crate) fn remove(&self, obj: &Arc<MemObject>) {
        let mut objects = self.objects.lock();
        if let Some(i) = objects.iter().position(|o| Arc::ptr_eq(o, obj)) {
            let _ = objects.remove(i);
        }
    }

    pub(crate) fn find(&self, name: &CStr) -> Option<Arc<MemObject>> {
        let objects = self.objects.lock();
        objects
            .iter()
            .find(|o| o.name.to_bytes() == name.to_bytes())
            .cloned()
    }
}

/// A namespace's binding to a memory object, fixed while it is enabled.
pub(crate) struct Binding {
    obj: Arc<MemObject>,
    /// log2 of the logical block size.
    pub(crate) shift: u32,
    /// Where and how much to allocate.
    pub(crate) limits: Limits,
    /// Read and Write move no data.
    pub(crate) nodata: bool,
    /// Commands honour nowait (see [`crate::io::Via`]).
    pub(crate) nowait: bool,
}

impl Binding {
    pub(crate) fn store(&self) -> &Store {
        &self.obj.store
    }

    pub(crate) fn object(&self) -> &MemObject {
        &self.obj
    }

    /// A reference to the memory object, for a command held past its
    /// execute (see [`crate::hold`]).
    pub(crate) fn object_ref(&self) -> Arc<MemObject> {
        self.obj.clone()
    }

    /// Namespace size in logical blocks, now (see [`MemObject::resize`]).
    pub(crate) fn nblocks(&self) -> u64 {
        self.obj.size() >> self.shift
    }
}

/// nvmet's `enable`: bind the namespace to the object named by its
/// `device_path`; returns the binding, which nvmet keeps with the
/// namespace until `disable`.
pub(crate) fn enable(
    objects: &ObjectTable,
    ns: &mut Namespace<'_, KBox<Binding>>,
) -> Result<KBox<Binding>> {
    let nsid = ns.nsid();
    let Some(path) = ns.device_path() else {
        objects.log_refusal(fmt!("nsid {}: device_path must name a memory object", nsid));
        return Err(EINVAL);
    };
    let Some(obj) = objects.find(path) else {
        objects.log_refusal(fmt!("nsid {}: no memory object {:?}", nsid, path));
        return Err(ENOENT);
    };
    let bound = {
        let mut s = obj.settings.lock();
        if let Some(other) = s.bound {
            objects.log_refusal(fmt!(
                "nsid {}: memory object {:?} is in use by nsid {}",
                nsid,
                path,
                other
            ));
            return Err(EBUSY);
        }
        if s.size == 0 {
            objects.log_refusal(fmt!("nsid {}: memory object {:?} has no size", nsid, path));
            return Err(EINVAL);
        }
        let shift = s.block_size.trailing_zeros();
        let bound = KBox::new(
            Binding {
                obj: obj.clone(),
                shift,
                limits: Limits {
                    nid: s.numa_node,
                    max_pages: (s.max_memory >> PAGE_SHIFT) as usize,
                },
                nodata: s.nodata,
                nowait: s.nowait,
            },
            GFP_KERNEL,
        )?;
        s.bound = Some(nsid);
        bound
    };
    pr_info!(
        "nsid {}: serving {:?}: {} blocks of {} bytes{}{}\n",
        nsid,
        path,
        bound.nblocks(),
        1u32 << bound.shift,
        if bound.nodata { ", no data" } else { "" },
        if bound.nowait { "" } else { ", nowait off" }
    );
    ns.set_geometry(bound.nblocks() << bound.shift, bound.shift);
    Ok(bound)
}

/// nvmet's `disable`: unbind; the data stays with the object, which
/// `table` lets go of off nvmet's locks (see [`ObjectTable::reap`]).
pub(crate) fn disable(table: ArcBorrow<'_, ObjectTable>, ns: &mut Namespace<'_, KBox<Binding>>) {
    if let Some(bound) = ns.take_data() {
        bound.obj.settings.lock().bound = None;
        pr_info!("nsid {}: released {:?}\n", ns.nsid(), &*bound.obj.name);
        // The binding's own reference, moved: no copy of it is left here
        // to be the last one if the reap work runs first.
        let Binding { obj, .. } = KBox::into_inner(bound);
        table.reap(obj);
    }
}

/// Logical blocks backed by pages (NUSE).
pub(crate) fn used_blocks(ns: &NamespaceRef<'_, KBox<Binding>>) -> u64 {
    ns.data().map_or(0, |b| {
        (b.store().used_pages() as u64) << (PAGE_SHIFT as u32 - b.shift)
    })
}

/// nvmet's `revalidate`: report the object's current size, so that an
/// online resize reaches the hosts (nvmet compares and announces it).
pub(crate) fn revalidate(ns: &NamespaceRef<'_, KBox<Binding>>) {
    if let Some(b) = ns.data() {
        ns.set_size(b.nblocks() << b.shift);
    }
}

/// A uniformly distributed random number in `[0, ceil)`, for any `u64`
/// bound (the bias of the multiply-shift is below `ceil / 2^64`); 0 if
/// `ceil` is 0. Any context.
fn random_u64_below(ceil: u64) -> u64 {
    ((u128::from(get_random_u64()) * u128::from(ceil)) >> 64) as u64
}
