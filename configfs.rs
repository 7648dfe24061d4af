// SPDX-License-Identifier: GPL-2.0

//! The configfs surface: `/sys/kernel/config/nvmet_mem/`.
//!
//! `mkdir nvmet_mem/NAME` creates a memory object, `rmdir` removes it. Its
//! attributes are `size`, `blocksize`, `numa_node`, `max_memory`, `nodata`,
//! `nowait`, `latency_ns`, `latency_range_ns` and the read-only `allocated`
//! and `stats`; the subsystem's own are `features`, `reserve_memory` and, on
//! debug kernels only, the test hook `debug_nodata_unzeroed`;
//! Documentation/nvmet-mem.rst describes each. A write either takes effect
//! whole or fails with an errno and a one-line kernel log message, leaving
//! the object as it was.
//!
//! The objects live in this module's own subsystem (as rnull's devices do)
//! rather than as attributes of nvmet's namespace directory: the data of an
//! object outlives the namespace that serves it (disable, enable, even
//! removal and re-creation of the namespace), nvmet's namespace directory
//! stays generic, and the module can be used without patching configfs
//! attribute lists into nvmet for each backend.

use crate::backend::{MemObject, ObjectTable, Settings, MAX_LATENCY_NS, NR_STATS, STAT_NAMES};
use crate::inject::{command_bit, Rule, RuleSettings, ALL_COMMANDS, COMMANDS, MAX_HOLD_MS};
#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
use crate::io::NODATA_UNZEROED;
use crate::store::{set_reserve_pages, RESERVE_PAGES};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::NumaNode;
use kernel::configfs::{self, AttributeOperations};
use kernel::configfs_attrs;
use kernel::fmt::{self, Write as _};
use kernel::mm::totalram_pages;
use kernel::page::{PAGE_SHIFT, PAGE_SIZE};
use kernel::prelude::*;
use kernel::str::{parse_int::ParseInt, BStr, CString};
use kernel::sync::Arc;

pub(crate) fn subsystem(
    objects: Arc<ObjectTable>,
) -> impl PinInit<configfs::Subsystem<Root>, Error> {
    #[cfg(not(CONFIG_FAULT_INJECTION_DEBUG_FS))]
    let item_type = configfs_attrs! {
        container: configfs::Subsystem<Root>,
        data: Root,
        child: ObjectDir,
        attributes: [
            features: 0,
            reserve_memory: 1,
        ],
    };
    // Debug kernels add a test hook (see `AttributeOperations<2>`).
    #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
    let item_type = configfs_attrs! {
        container: configfs::Subsystem<Root>,
        data: Root,
        child: ObjectDir,
        attributes: [
            features: 0,
            reserve_memory: 1,
            debug_nodata_unzeroed: 2,
        ],
    };
    configfs::Subsystem::new(c"nvmet_mem", item_type, try_pin_init!(Root { objects }))
}

/// The subsystem's root directory.
#[pin_data]
pub(crate) struct Root {
    objects: Arc<ObjectTable>,
}

#[vtable]
impl AttributeOperations<0> for Root {
    type Data = Root;

    fn show(_this: &Root, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let mut w = kernel::str::Formatter::new(page);
        w.write_str(
            "size,blocksize,numa_node,max_memory,allocated,nodata,nowait,stats,resize,thin,inject_error,latency,hold_ms\n",
        )?;
        Ok(w.bytes_written())
    }
}

/// `reserve_memory`: memory the stores leave to the rest of the system.
/// Bytes, with the suffixes of `size`; rounded up to whole pages.
#[vtable]
impl AttributeOperations<1> for Root {
    type Data = Root;

    fn show(_this: &Root, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let pages = RESERVE_PAGES.load(Ordering::Relaxed) as u64;
        show_value(page, pages * PAGE_SIZE as u64)
    }

    fn store(this: &Root, page: &[u8]) -> Result {
        let Ok(bytes) = parse_size(page) else {
            this.objects
                .log_refusal(fmt!("reserve_memory: not a byte count"));
            return Err(EINVAL);
        };
        let ram = ram_bytes();
        if bytes > ram {
            this.objects
                .log_refusal(fmt!("reserve_memory: above the {} bytes of RAM", ram));
            return Err(EINVAL);
        }
        let pages = bytes.div_ceil(PAGE_SIZE as u64) as usize;
        set_reserve_pages(pages);
        Ok(())
    }
}

/// `debug_nodata_unzeroed`, on debug kernels only
/// (`CONFIG_FAULT_INJECTION_DEBUG_FS`): 1 makes no-data Reads leave their
/// data buffer unzeroed, so that a test can show that its leak check sees
/// the target's memory (see `io::NODATA_UNZEROED`); 0 (the default) puts
/// the zeroing back. A root-only test hook, on kernels that already let
/// root fail allocations at will through fault injection's debugfs.
#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
#[vtable]
impl AttributeOperations<2> for Root {
    type Data = Root;

    fn show(_this: &Root, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, u8::from(NODATA_UNZEROED.load(Ordering::Relaxed)))
    }

    fn store(this: &Root, page: &[u8]) -> Result {
        let on = match parse_int(page) {
            Ok(0) => false,
            Ok(1) => true,
            _ => {
                this.objects
                    .log_refusal(fmt!("debug_nodata_unzeroed: must be 0 or 1"));
                return Err(EINVAL);
            }
        };
        if NODATA_UNZEROED.swap(on, Ordering::Relaxed) != on {
            pr_info!(
                "debug_nodata_unzeroed: no-data reads {} their buffer (test hook)\n",
                if on { "no longer zero" } else { "zero" }
            );
        }
        Ok(())
    }
}

#[vtable]
impl configfs::GroupOperations for Root {
    type Child = ObjectDir;

    fn make_group(&self, name: &CStr) -> Result<impl PinInit<configfs::Group<ObjectDir>, Error>> {
        let item_type = configfs_attrs! {
            container: configfs::Group<ObjectDir>,
            data: ObjectDir,
            child: RuleDir,
            attributes: [
                size: 0,
                blocksize: 1,
                numa_node: 2,
                max_memory: 3,
                allocated: 4,
                nodata: 5,
                stats: 6,
                latency_ns: 7,
                latency_range_ns: 8,
                nowait: 9,
            ],
        };
        let dir_name: CString = name.try_into()?;
        let obj = MemObject::new(name.try_into()?)?;
        // The object enters the table last, once its group exists and
        // nothing can fail any more (see `ObjectDir`).
        self.objects.reserve()?;
        Ok(configfs::Group::new(
            dir_name,
            item_type,
            try_pin_init!(ObjectDir {
                obj,
                objects: self.objects.clone(),
            })
            .pin_chain(|dir| dir.objects.add(dir.obj.clone())),
        ))
    }
}

/// A memory object's directory. Dropped when configfs releases the
/// directory after `rmdir`: the object leaves the table, and its pages
/// are freed with its last reference.
///
/// The object enters the table as the last step of the directory's
/// initializer, once the group that configfs gets is allocated, and leaves
/// it when the directory is dropped. So an object is in the table only
/// while its directory exists or is being attached: if the group cannot be
/// allocated, it never entered; if configfs then fails to attach the
/// directory (its dentries and inodes), configfs drops the group before
/// `mkdir` returns, as it does on `rmdir`. configfs has no callback for
/// the moment the directory is complete, so a namespace enabled in that
/// window may bind to an object whose `mkdir` then fails; it serves it as
/// it would after an `rmdir` (until disabled). A second `mkdir` of the
/// name cannot interleave: the VFS holds the parent directory's lock
/// across `mkdir` and `rmdir`, and configfs its subsystem mutex across
/// `make_group`, so the table never holds two objects of one name.
#[pin_data(PinnedDrop)]
pub(crate) struct ObjectDir {
    obj: Arc<MemObject>,
    objects: Arc<ObjectTable>,
}

#[pinned_drop]
impl PinnedDrop for ObjectDir {
    fn drop(self: Pin<&mut Self>) {
        self.objects.remove(&self.obj);
        // The pages of an unbound object go on the workqueue, off
        // configfs's locks (a bound one's when its namespace is disabled),
        // unless the reap work runs before this directory's own reference
        // goes: then that one frees them here, as it always did.
        self.objects.as_arc_borrow().reap(self.obj.clone());
    }
}

/// Parses a byte count: decimal digits with an optional binary suffix
/// `K`, `M`, `G` or `T` (either case), surrounding ASCII white space
/// ignored.
pub(crate) fn parse_size(input: &[u8]) -> Result<u64> {
    let s = core::str::from_utf8(input)
        .map_err(|_| EINVAL)?
        .trim_ascii();
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 30),
        Some(b't' | b'T') => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    decimal(digits)?.checked_mul(1u64 << shift).ok_or(EINVAL)
}

/// Parses ASCII decimal digits, at least one and nothing else, with the
/// kernel's parser. Its grammar is wider than the one documented here (a
/// sign, `0x`, `0o` and `0b` prefixes, a leading 0 for octal): the digits
/// reach it without their leading zeros, so that `010` is ten.
fn decimal(digits: &str) -> Result<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EINVAL);
    }
    let significant = digits.trim_start_matches('0');
    let digits = if significant.is_empty() {
        "0"
    } else {
        significant
    };
    u64::from_str(BStr::from_bytes(digits.as_bytes()))
}

/// The largest namespace: nvmet keeps the size in bytes in a `loff_t`.
const MAX_SIZE: u64 = i64::MAX as u64 & !4095;

/// Parses an unsigned number, decimal or hexadecimal with `0x`,
/// surrounding ASCII white space ignored.
fn parse_u64(input: &[u8]) -> Result<u64> {
    let s = core::str::from_utf8(input)
        .map_err(|_| EINVAL)?
        .trim_ascii();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        // The kernel's parser takes the prefix too, and nothing else here.
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str(BStr::from_bytes(s.as_bytes()))
        }
        Some(_) => Err(EINVAL),
        None => decimal(s),
    }
}

/// Parses a decimal integer, surrounding ASCII white space ignored.
fn parse_int(input: &[u8]) -> Result<i64> {
    let s = core::str::from_utf8(input)
        .map_err(|_| EINVAL)?
        .trim_ascii();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n = decimal(digits)?;
    if negative {
        0i64.checked_sub_unsigned(n).ok_or(EINVAL)
    } else {
        i64::try_from(n).map_err(|_| EINVAL)
    }
}

/// Bytes of RAM the kernel manages.
fn ram_bytes() -> u64 {
    (totalram_pages() as u64) << PAGE_SHIFT
}

/// Whether `nid` is -1 (`NUMA_NO_NODE`: any node) or an online node.
fn node_valid(nid: i32) -> bool {
    nid == NumaNode::NO_NODE.id() || NumaNode::new(nid).is_ok_and(NumaNode::is_online)
}

fn show_value(page: &mut [u8; PAGE_SIZE], v: impl fmt::Display) -> Result<usize> {
    let mut w = kernel::str::Formatter::new(page);
    w.write_fmt(fmt!("{}\n", v))?;
    Ok(w.bytes_written())
}

/// Logs why a write to `attr` of `this` was refused (rate-limited) and
/// returns `err`.
fn refuse(this: &ObjectDir, attr: &str, err: Error, why: fmt::Arguments<'_>) -> Result {
    this.objects
        .log_refusal(fmt!("{:?}: {}: {}", &*this.obj.name, attr, why));
    Err(err)
}

macro_rules! refuse {
    ($this:expr, $attr:expr, $err:expr, $($why:tt)*) => {
        refuse($this, $attr, $err, format_args!($($why)*))
    };
}

/// Refuses a change to `attr` while a namespace is bound to the object.
fn refuse_if_bound(this: &ObjectDir, attr: &str, s: &Settings) -> Result {
    match s.bound {
        Some(nsid) => refuse!(this, attr, EBUSY, "in use by nsid {}", nsid),
        None => Ok(()),
    }
}

/// Sets the flag that `field` picks among the object's settings from
/// `page`, "0" or "1", while no namespace is bound to the object.
fn store_flag(
    this: &ObjectDir,
    attr: &str,
    page: &[u8],
    field: impl FnOnce(&mut Settings) -> &mut bool,
) -> Result {
    let value = match parse_int(page) {
        Ok(0) => false,
        Ok(1) => true,
        _ => return refuse!(this, attr, EINVAL, "must be 0 or 1"),
    };
    let mut s = this.obj.settings.lock();
    refuse_if_bound(this, attr, &s)?;
    *field(&mut s) = value;
    Ok(())
}

#[vtable]
impl AttributeOperations<0> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.obj.settings.lock().size)
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        let Ok(size) = parse_size(page) else {
            return refuse!(
                this,
                "size",
                EINVAL,
                "not a byte count (digits, optional K/M/G/T)"
            );
        };
        let mut s = this.obj.settings.lock();
        if size == 0 {
            return refuse!(this, "size", EINVAL, "must not be zero");
        }
        if size > MAX_SIZE {
            return refuse!(
                this,
                "size",
                EINVAL,
                "above the {} bytes nvmet can serve",
                MAX_SIZE
            );
        }
        if size & u64::from(s.block_size - 1) != 0 {
            return refuse!(
                this,
                "size",
                EINVAL,
                "not a multiple of blocksize {}",
                s.block_size
            );
        }
        let ram = ram_bytes();
        if size > ram && s.max_memory == 0 {
            return refuse!(
                this,
                "size",
                ENOMEM,
                "{} bytes is more than the {} bytes of RAM (thin: set max_memory first)",
                size,
                ram
            );
        }
        // Shrinking drops what lies beyond the new end; a bound namespace
        // takes the new size when nvmet revalidates it.
        this.obj.resize(&mut s, size);
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<1> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.obj.settings.lock().block_size)
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        let bs = match parse_int(page) {
            Ok(512) => 512u32,
            Ok(4096) => 4096u32,
            _ => return refuse!(this, "blocksize", EINVAL, "must be 512 or 4096"),
        };
        let mut s = this.obj.settings.lock();
        refuse_if_bound(this, "blocksize", &s)?;
        if s.size & u64::from(bs - 1) != 0 {
            return refuse!(
                this,
                "blocksize",
                EINVAL,
                "size {} is not a multiple of {}",
                s.size,
                bs
            );
        }
        s.block_size = bs;
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<2> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.obj.settings.lock().numa_node)
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        let node = match parse_int(page).map(i32::try_from) {
            Ok(Ok(n)) if node_valid(n) => n,
            _ => return refuse!(this, "numa_node", EINVAL, "must be -1 or an online node"),
        };
        let mut s = this.obj.settings.lock();
        refuse_if_bound(this, "numa_node", &s)?;
        s.numa_node = node;
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<3> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.obj.settings.lock().max_memory)
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        let Ok(cap) = parse_size(page) else {
            return refuse!(
                this,
                "max_memory",
                EINVAL,
                "not a byte count (digits, optional K/M/G/T)"
            );
        };
        if cap & (PAGE_SIZE as u64 - 1) != 0 {
            return refuse!(
                this,
                "max_memory",
                EINVAL,
                "not a multiple of the page size {}",
                PAGE_SIZE
            );
        }
        let ram = ram_bytes();
        if cap > ram {
            return refuse!(
                this,
                "max_memory",
                ENOMEM,
                "{} bytes is more than the {} bytes of RAM",
                cap,
                ram
            );
        }
        let mut s = this.obj.settings.lock();
        refuse_if_bound(this, "max_memory", &s)?;
        let used = this.obj.store.used_pages() as u64 * PAGE_SIZE as u64;
        if cap != 0 && cap < used {
            return refuse!(
                this,
                "max_memory",
                EINVAL,
                "below the {} bytes already allocated",
                used
            );
        }
        if cap == 0 && s.size > ram {
            return refuse!(
                this,
                "max_memory",
                EINVAL,
                "size {} is more than RAM: a cap is needed",
                s.size
            );
        }
        s.max_memory = cap;
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<4> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.obj.store.used_pages() as u64 * PAGE_SIZE as u64)
    }
}

#[vtable]
impl AttributeOperations<5> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, u8::from(this.obj.settings.lock().nodata))
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        store_flag(this, "nodata", page, |s| &mut s.nodata)
    }
}

#[vtable]
impl AttributeOperations<6> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let mut w = kernel::str::Formatter::new(page);
        for (i, name) in STAT_NAMES.iter().enumerate().take(NR_STATS) {
            w.write_fmt(fmt!("{} {}\n", name, this.obj.stat_sum(i)))?;
        }
        let store = &this.obj.store;
        w.write_fmt(fmt!("pages_allocated {}\n", store.allocated_pages()))?;
        w.write_fmt(fmt!(
            "pages_freed {}\n",
            store
                .allocated_pages()
                .saturating_sub(store.used_pages() as u64)
        ))?;
        Ok(w.bytes_written())
    }
}

/// Sets one of the latency attributes: any time, bound or not; commands
/// executed from then on see it.
fn store_latency(this: &ObjectDir, attr: &str, to: &AtomicU64, page: &[u8]) -> Result {
    match parse_u64(page) {
        Ok(ns) if ns <= MAX_LATENCY_NS => {
            to.store(ns, Ordering::Relaxed);
            Ok(())
        }
        Ok(ns) => refuse!(
            this,
            attr,
            EINVAL,
            "{} ns is more than {} ns",
            ns,
            MAX_LATENCY_NS
        ),
        Err(e) => refuse!(this, attr, e, "not a number of nanoseconds"),
    }
}

#[vtable]
impl AttributeOperations<7> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.obj.latency_ns.load(Ordering::Relaxed))
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        store_latency(this, "latency_ns", &this.obj.latency_ns, page)
    }
}

#[vtable]
impl AttributeOperations<8> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.obj.latency_range_ns.load(Ordering::Relaxed))
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        store_latency(this, "latency_range_ns", &this.obj.latency_range_ns, page)
    }
}

#[vtable]
impl AttributeOperations<9> for ObjectDir {
    type Data = ObjectDir;

    fn show(this: &ObjectDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, u8::from(this.obj.settings.lock().nowait))
    }

    fn store(this: &ObjectDir, page: &[u8]) -> Result {
        store_flag(this, "nowait", page, |s| &mut s.nowait)
    }
}

#[vtable]
impl configfs::GroupOperations for ObjectDir {
    type Child = RuleDir;

    fn make_group(&self, name: &CStr) -> Result<impl PinInit<configfs::Group<RuleDir>, Error>> {
        let item_type = configfs_attrs! {
            container: configfs::Group<RuleDir>,
            data: RuleDir,
            attributes: [
                commands: 0,
                lba_start: 1,
                lba_count: 2,
                status: 3,
                count: 4,
                probability: 5,
                enable: 6,
                hits: 7,
                hold_ms: 8,
            ],
        };
        Ok(configfs::Group::new(
            name.try_into()?,
            item_type,
            try_pin_init!(RuleDir {
                rule: Rule::new()?,
                obj: self.obj.clone(),
                objects: self.objects.clone(),
            }),
        ))
    }
}

/// An error injection rule's directory, under its object's. The rule is
/// in force from `enable` until it is disabled or the directory is
/// released after `rmdir`.
#[pin_data(PinnedDrop)]
pub(crate) struct RuleDir {
    rule: Arc<Rule>,
    obj: Arc<MemObject>,
    objects: Arc<ObjectTable>,
}

#[pinned_drop]
impl PinnedDrop for RuleDir {
    fn drop(self: Pin<&mut Self>) {
        self.obj.rules.disable(&self.rule);
    }
}

/// Logs why a write to `attr` of a rule was refused (rate-limited) and
/// returns `err`.
fn refuse_rule(this: &RuleDir, attr: &str, err: Error, why: fmt::Arguments<'_>) -> Result {
    this.objects
        .log_refusal(fmt!("{:?}: rule {}: {}", &*this.obj.name, attr, why));
    Err(err)
}

/// Changes a setting of a disabled rule with `set`, which returns an
/// explanation if the value is refused.
fn set_rule(
    this: &RuleDir,
    attr: &str,
    set: impl FnOnce(&mut RuleSettings) -> Result<(), &'static str>,
) -> Result {
    let mut s = this.rule.settings.lock();
    if s.enabled {
        return refuse_rule(this, attr, EBUSY, format_args!("disable the rule first"));
    }
    let mut new = *s;
    if let Err(why) = set(&mut new) {
        return refuse_rule(this, attr, EINVAL, format_args!("{}", why));
    }
    *s = new;
    this.rule.set_remaining(s.count);
    Ok(())
}

#[vtable]
impl AttributeOperations<0> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let commands = this.rule.settings.lock().commands;
        let mut w = kernel::str::Formatter::new(page);
        if commands == ALL_COMMANDS {
            w.write_str("all\n")?;
            return Ok(w.bytes_written());
        }
        let mut sep = "";
        for (name, cmd) in COMMANDS {
            if commands & command_bit(cmd) != 0 {
                w.write_fmt(fmt!("{}{}", sep, name))?;
                sep = ",";
            }
        }
        w.write_str("\n")?;
        Ok(w.bytes_written())
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let parsed = parse_commands(page);
        set_rule(this, "commands", |s| {
            s.commands = parsed.ok_or(
                "all, or a list of read, write, compare, write_zeroes, dsm, verify, flush",
            )?;
            Ok(())
        })
    }
}

/// Parses a list of command names separated by commas, or `all`.
fn parse_commands(input: &[u8]) -> Option<u32> {
    let s = core::str::from_utf8(input).ok()?.trim_ascii();
    if s == "all" {
        return Some(ALL_COMMANDS);
    }
    let mut mask = 0;
    for word in s.split(',') {
        let (_, cmd) = COMMANDS
            .iter()
            .find(|(name, _)| *name == word.trim_ascii())?;
        mask |= command_bit(*cmd);
    }
    Some(mask)
}

#[vtable]
impl AttributeOperations<1> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.rule.settings.lock().lba_start)
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let v = parse_u64(page);
        set_rule(this, "lba_start", |s| {
            s.lba_start = v.map_err(|_| "not a number")?;
            Ok(())
        })
    }
}

#[vtable]
impl AttributeOperations<2> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.rule.settings.lock().lba_count)
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let v = parse_u64(page);
        set_rule(this, "lba_count", |s| {
            s.lba_count = v.map_err(|_| "not a number (0: to the end)")?;
            Ok(())
        })
    }
}

#[vtable]
impl AttributeOperations<3> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let mut w = kernel::str::Formatter::new(page);
        w.write_fmt(fmt!("{:#x}\n", this.rule.settings.lock().status))?;
        Ok(w.bytes_written())
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let v = parse_u64(page);
        set_rule(this, "status", |s| {
            s.status = match v {
                // SCT and SC, with or without DNR (bit 14): not success,
                // and nothing in bits 15:11 but DNR.
                Ok(st) if st & 0x7ff != 0 && st & !0x47ff == 0 => st as u16,
                _ => return Err("an NVMe status (SCT << 8 | SC), plus 0x4000 for DNR"),
            };
            Ok(())
        })
    }
}

#[vtable]
impl AttributeOperations<4> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.rule.remaining())
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let v = parse_int(page);
        set_rule(this, "count", |s| {
            s.count = match v {
                Ok(n) if n >= -1 => n,
                _ => return Err("-1 (every match) or the number of matches to fail"),
            };
            Ok(())
        })
    }
}

#[vtable]
impl AttributeOperations<5> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.rule.settings.lock().probability)
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let v = parse_int(page);
        set_rule(this, "probability", |s| {
            s.probability = match v {
                Ok(p @ 1..=100) => p as u32,
                _ => return Err("a percentage, 1 to 100"),
            };
            Ok(())
        })
    }
}

#[vtable]
impl AttributeOperations<6> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, u8::from(this.rule.settings.lock().enabled))
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let enable = match parse_int(page) {
            Ok(0) => false,
            Ok(1) => true,
            _ => return refuse_rule(this, "enable", EINVAL, format_args!("must be 0 or 1")),
        };
        let mut s = this.rule.settings.lock();
        if enable == s.enabled {
            return Ok(());
        }
        if !enable {
            this.obj.rules.disable(&this.rule);
            s.enabled = false;
            return Ok(());
        }
        if s.status == 0 && s.hold_ms == 0 {
            return refuse_rule(
                this,
                "enable",
                EINVAL,
                format_args!("set status (or hold_ms) first"),
            );
        }
        if s.commands == 0 {
            return refuse_rule(this, "enable", EINVAL, format_args!("no commands"));
        }
        this.rule.set_remaining(s.count);
        s.enabled = true;
        if let Err(e) = this.obj.rules.enable(&this.rule, *s) {
            s.enabled = false;
            return Err(e);
        }
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<7> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.rule.hits())
    }
}

#[vtable]
impl AttributeOperations<8> for RuleDir {
    type Data = RuleDir;

    fn show(this: &RuleDir, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_value(page, this.rule.settings.lock().hold_ms)
    }

    fn store(this: &RuleDir, page: &[u8]) -> Result {
        let ms = parse_u64(page);
        set_rule(this, "hold_ms", |s| {
            s.hold_ms = match ms {
                Ok(ms) if ms <= MAX_HOLD_MS => ms,
                _ => return Err("not a number of milliseconds up to 3600000"),
            };
            Ok(())
        })
    }
}

#[kunit_tests(nvmet_mem_configfs)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"4096"), Ok(4096));
        assert_eq!(parse_size(b"4096\n"), Ok(4096));
        assert_eq!(parse_size(b"64M\n"), Ok(64 << 20));
        assert_eq!(parse_size(b"1g"), Ok(1 << 30));
        assert_eq!(parse_size(b"2K"), Ok(2048));
        assert_eq!(parse_size(b"1T"), Ok(1 << 40));
        assert_eq!(parse_size(b"0"), Ok(0));
        assert_eq!(parse_size(b" \t8k \n"), Ok(8192));
    }

    #[test]
    fn bad_sizes() {
        assert!(parse_size(b"").is_err());
        assert!(parse_size(b"M").is_err());
        assert!(parse_size(b"-1").is_err());
        assert!(parse_size(b"12Q").is_err());
        assert!(parse_size(b"1.5G").is_err());
        assert!(parse_size(b"0x1000").is_err());
        assert!(parse_size(b"99999999999T").is_err());
        assert!(parse_size(b"18446744073709551616").is_err());
        assert!(parse_size(b"17179869184G").is_err());
        // white space other than ASCII is part of the value
        assert!(parse_size("4096\u{a0}".as_bytes()).is_err());
        assert!(parse_size("\u{3000}4096".as_bytes()).is_err());
        assert!(parse_size(b"4096\0").is_err());
        assert!(parse_size(b"\xff").is_err());
    }

    #[test]
    fn numbers_and_commands() {
        assert_eq!(parse_u64(b"0x4281\n"), Ok(0x4281));
        assert_eq!(parse_u64(b"17"), Ok(17));
        assert!(parse_u64(b"0x").is_err());
        assert!(parse_u64(b"-1").is_err());
        assert!(parse_u64(b"12ab").is_err());
        assert_eq!(parse_commands(b"all\n"), Some(ALL_COMMANDS));
        assert_eq!(
            parse_commands(b"read,write"),
            Some(
                command_bit(crate::nvme::Command::Read) | command_bit(crate::nvme::Command::Write)
            )
        );
        assert_eq!(parse_commands(b"read,,write"), None);
        assert_eq!(parse_commands(b"reads"), None);
        assert_eq!(parse_commands(b""), None);
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int(b" -1\n"), Ok(-1));
        assert!(parse_int("0\u{a0}".as_bytes()).is_err());
        assert!(parse_int(b"9223372036854775808").is_err());
        assert!(parse_int(b"").is_err());
        assert_eq!(parse_int(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int(b"+5"), Ok(5));
        // Decimal, whatever the kernel's parser makes of a leading 0.
        assert_eq!(parse_int(b"010"), Ok(10));
        assert_eq!(parse_int(b"-007"), Ok(-7));
        assert_eq!(parse_u64(b"010"), Ok(10));
        assert_eq!(parse_size(b"010K"), Ok(10 << 10));
        assert_eq!(parse_size(b"000"), Ok(0));
        for bad in [&b"0o7"[..], b"0b1", b"--1", b"-+1", b"+-1", b"0x10"] {
            assert!(parse_int(bad).is_err());
        }
        assert!(parse_u64(b"0o7").is_err());
        assert!(parse_u64(b"+0x1").is_err());
    }
}
