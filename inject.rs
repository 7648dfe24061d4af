// SPDX-License-Identifier: GPL-2.0

//! Error injection (safe Rust): rules that make matching commands of a
//! memory object fail with a status of the user's choice.
//!
//! A rule is a directory under the object (see [`crate::configfs`]). It
//! names the commands it applies to, an LBA range, the NVMe status to
//! return and how often: every match, the next N matches, or each match
//! with a probability. Enabled rules are checked when a command is parsed,
//! before it moves any data, in the order they were enabled; the first
//! that fires decides the status. A failed command changes nothing in
//! the store. An object with no enabled rule pays one load per command.

use crate::nvme::{Command, Status, NR_COMMANDS};
use core::num::NonZeroU32;
use core::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use kernel::prelude::*;
use kernel::random::get_random_u32_below;
use kernel::sync::{Arc, Mutex, SpinLockIrq};
use kernel::{new_mutex, new_spinlock_irq};

/// The commands a rule may name, as configfs spells them.
pub(crate) const COMMANDS: [(&str, Command); NR_COMMANDS] = [
    ("read", Command::Read),
    ("write", Command::Write),
    ("compare", Command::Compare),
    ("write_zeroes", Command::WriteZeroes),
    ("dsm", Command::Dsm),
    ("verify", Command::Verify),
    ("flush", Command::Flush),
];

/// The bit of `cmd` in [`RuleSettings::commands`].
pub(crate) const fn command_bit(cmd: Command) -> u32 {
    1 << cmd as u32
}

/// Every command.
pub(crate) const ALL_COMMANDS: u32 = (1 << COMMANDS.len()) - 1;

/// The longest a rule may hold a command: an hour. Whatever waits for a
/// held command (a host's controller deletion over nvme-loop, whose host
/// has no I/O timeout) waits at most this long.
pub(crate) const MAX_HOLD_MS: u64 = 3_600_000;

/// The bound of a rule's random draw against its `probability`, in percent.
const PERCENT: NonZeroU32 = NonZeroU32::new(100).unwrap();

/// What a user sets in a rule's directory.
#[derive(Clone, Copy)]
pub(crate) struct RuleSettings {
    /// The commands it applies to, one [`command_bit`] each.
    pub(crate) commands: u32,
    /// First LBA of the range it applies to.
    pub(crate) lba_start: u64,
    /// Number of LBAs of the range, 0 for all up to the namespace's end.
    pub(crate) lba_count: u64,
    /// The status the command fails with (DNR included); 0 until set.
    pub(crate) status: Status,
    /// The number of matches that fail once enabled, -1 for every one.
    pub(crate) count: i64,
    /// Percentage of matches that fail.
    pub(crate) probability: u32,
    /// Whether the rule is in force.
    pub(crate) enabled: bool,
    /// Hold matching commands for up to this many milliseconds instead of
    /// failing them (see [`Fire`]); 0: fail them.
    pub(crate) hold_ms: u64,
}

impl RuleSettings {
    /// The LBA that a command on `[slba, slba + nlb)` fails at, if the
    /// range overlaps the rule's. Commands without a range (`None`:
    /// Flush, Dataset Management) match only a rule over the whole
    /// namespace.
    fn lba_of(&self, range: Option<(u64, u64)>) -> Option<u64> {
        let Some((slba, nlb)) = range else {
            return (self.lba_start == 0 && self.lba_count == 0).then_some(0);
        };
        let end = match self.lba_count {
            0 => u64::MAX,
            n => self.lba_start.saturating_add(n),
        };
        (slba < end && slba.saturating_add(nlb) > self.lba_start).then(|| slba.max(self.lba_start))
    }
}

/// An error injection rule.
#[pin_data]
pub(crate) struct Rule {
    #[pin]
    pub(crate) settings: Mutex<RuleSettings>,
    /// Matches left to fail, -1 for no limit: the configured count,
    /// counted down while enabled. Changed under the [`Rules`] lock.
    remaining: AtomicI64,
    /// Commands failed by the rule.
    hits: AtomicU64,
}

impl Rule {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                settings <- new_mutex!(RuleSettings {
                    commands: ALL_COMMANDS,
                    lba_start: 0,
                    lba_count: 0,
                    status: 0,
                    count: -1,
                    probability: 100,
                    enabled: false,
                    hold_ms: 0,
                }),
                remaining: AtomicI64::new(-1),
                hits: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Matches left to fail (-1: every one).
    pub(crate) fn remaining(&self) -> i64 {
        self.remaining.load(Ordering::Relaxed)
    }

    /// Commands failed by the rule so far.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Re-arms the count; the caller holds the settings lock and the rule
    /// is disabled.
    pub(crate) fn set_remaining(&self, count: i64) {
        self.remaining.store(count, Ordering::Relaxed);
    }
}

/// An enabled rule with a copy of its settings, fixed while enabled.
struct Active {
    rule: Arc<Rule>,
    s: RuleSettings,
}

/// The enabled rules of a memory object.
#[pin_data]
pub(crate) struct Rules {
    /// Taken with interrupts off: commands may be parsed in any context.
    #[pin]
    active: SpinLockIrq<KVec<Active>>,
    /// Number of enabled rules, read without the lock by every command.
    count: AtomicUsize,
    /// The longest `hold_ms` of the enabled rules, 0 if none holds.
    hold_ms: AtomicU64,
}

/// What an enabled rule does to a command that it fires for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fire {
    /// Fail it with this status, at this LBA.
    Fail(Status, u64),
    /// Hold it: complete it neither while a holding rule of the object is
    /// enabled nor before its `hold_ms` have passed (see
    /// [`crate::hold`]).
    Hold,
}

impl Rules {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            active <- new_spinlock_irq!(KVec::new(), "nvmet_mem_rules"),
            count: AtomicUsize::new(0),
            hold_ms: AtomicU64::new(0),
        })
    }

    /// Puts `rule` in force with settings `s` (its own, validated).
    pub(crate) fn enable(&self, rule: &Arc<Rule>, s: RuleSettings) -> Result {
        let mut active = self.active.lock();
        active.push(
            Active {
                rule: rule.clone(),
                s,
            },
            GFP_ATOMIC,
        )?;
        self.count.store(active.len(), Ordering::Relaxed);
        self.count_holding(&active);
        Ok(())
    }

    fn count_holding(&self, active: &KVec<Active>) {
        let ms = active.iter().map(|a| a.s.hold_ms).max().unwrap_or(0);
        self.hold_ms.store(ms, Ordering::Relaxed);
    }

    /// How long a command may be held: the longest `hold_ms` of the
    /// enabled rules, 0 if none holds. One load, no lock.
    pub(crate) fn hold_ms(&self) -> u64 {
        self.hold_ms.load(Ordering::Relaxed)
    }

    /// Takes `rule` out of force; no command fails by it after this.
    pub(crate) fn disable(&self, rule: &Arc<Rule>) {
        let mut active = self.active.lock();
        if let Some(i) = active.iter().position(|a| Arc::ptr_eq(&a.rule, rule)) {
            // The rule's configfs directory holds another reference, so this
            // frees nothing under the lock but the vector's slot.
            drop(active.remove(i));
        }
        self.count.store(active.len(), Ordering::Relaxed);
        self.count_holding(&active);
    }

    /// Whether any rule is enabled; one load, no lock.
    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// What happens to `cmd` on the LBA range `range` (see
    /// [`RuleSettings`]) if an enabled rule fires for it. Any context.
    pub(crate) fn check(&self, cmd: Command, range: Option<(u64, u64)>) -> Option<Fire> {
        if !self.any() {
            return None;
        }
        let active = self.active.lock();
        for a in active.iter() {
            if a.s.commands & command_bit(cmd) == 0 {
                continue;
            }
            let Some(lba) = a.s.lba_of(range) else {
                continue;
            };
            let left = a.rule.remaining.load(Ordering::Relaxed);
            if left == 0
                || (a.s.probability < 100 && get_random_u32_below(PERCENT) >= a.s.probability)
            {
                continue;
            }
            if left > 0 {
                a.rule.remaining.store(left - 1, Ordering::Relaxed);
            }
            a.rule.hits.fetch_add(1, Ordering::Relaxed);
            return Some(match a.s.hold_ms {
                0 => Fire::Fail(a.s.status, lba),
                _ => Fire::Hold,
            });
        }
        None
    }
}

#[kunit_tests(nvmet_mem_inject)]
mod tests {
    use super::*;

    fn rule(lba_start: u64, lba_count: u64) -> RuleSettings {
        RuleSettings {
            commands: ALL_COMMANDS,
            lba_start,
            lba_count,
            status: 0x4281,
            count: -1,
            probability: 100,
            enabled: true,
            hold_ms: 0,
        }
    }

    #[test]
    fn lba_overlap() {
        let r = rule(100, 10);
        assert_eq!(r.lba_of(Some((0, 100))), None);
        assert_eq!(r.lba_of(Some((0, 101))), Some(100));
        assert_eq!(r.lba_of(Some((105, 1))), Some(105));
        assert_eq!(r.lba_of(Some((109, 8))), Some(109));
        assert_eq!(r.lba_of(Some((110, 8))), None);
        assert_eq!(r.lba_of(None), None);
        let whole = rule(0, 0);
        assert_eq!(whole.lba_of(None), Some(0));
        assert_eq!(whole.lba_of(Some((u64::MAX - 1, 1))), Some(u64::MAX - 1));
        let to_end = rule(50, 0);
        assert_eq!(to_end.lba_of(Some((1 << 40, 8))), Some(1 << 40));
        assert_eq!(to_end.lba_of(Some((0, 50))), None);
    }

    #[test]
    fn count_and_order() {
        let rules = KBox::pin_init(Rules::new(), GFP_KERNEL).unwrap();
        assert_eq!(rules.check(Command::Read, Some((0, 1))), None);
        let first = Rule::new().unwrap();
        let mut s = rule(0, 0);
        s.commands = command_bit(Command::Read);
        s.count = 2;
        first.set_remaining(2);
        rules.enable(&first, s).unwrap();
        let second = Rule::new().unwrap();
        let mut s2 = rule(0, 0);
        s2.status = 0x6;
        rules.enable(&second, s2).unwrap();
        // Writes skip the read-only rule and fire the second.
        assert_eq!(
            rules.check(Command::Write, Some((7, 1))),
            Some(Fire::Fail(0x6, 7))
        );
        assert_eq!(
            rules.check(Command::Read, Some((3, 1))),
            Some(Fire::Fail(0x4281, 3))
        );
        assert_eq!(
            rules.check(Command::Read, Some((4, 1))),
            Some(Fire::Fail(0x4281, 4))
        );
        // The first is used up: reads fall through to the second.
        assert_eq!(
            rules.check(Command::Read, Some((5, 1))),
            Some(Fire::Fail(0x6, 5))
        );
        assert_eq!((first.hits(), first.remaining()), (2, 0));
        assert_eq!(second.hits(), 2);
        rules.disable(&second);
        rules.disable(&first);
        assert_eq!(rules.check(Command::Read, Some((5, 1))), None);
        // A holding rule holds what it matches, and says so.
        assert_eq!(rules.hold_ms(), 0);
        let third = Rule::new().unwrap();
        let mut s3 = rule(0, 0);
        s3.hold_ms = 5000;
        rules.enable(&third, s3).unwrap();
        let fourth = Rule::new().unwrap();
        let mut s4 = rule(0, 0);
        s4.hold_ms = 9000;
        rules.enable(&fourth, s4).unwrap();
        assert_eq!(rules.hold_ms(), 9000);
        assert_eq!(rules.check(Command::Write, Some((9, 1))), Some(Fire::Hold));
        rules.disable(&fourth);
        assert_eq!(rules.hold_ms(), 5000);
        rules.disable(&third);
        assert_eq!(rules.hold_ms(), 0);
    }
}
