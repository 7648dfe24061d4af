// SPDX-License-Identifier: GPL-2.0

//! Held commands: a command that a holding rule fired for stays
//! uncompleted until a poll on the system workqueue ends it (see [`hold`]).
//! Above the I/O path, which executes a held command once it is released,
//! and the memory objects, which keep the held commands.

use crate::backend::{Binding, MemObject, ObjectTable, Stat};
use crate::glue::HeldRequest;
use crate::inject::MAX_HOLD_MS;
use crate::io::{self, Req};
use crate::nvme::{Command, Status, SC_ABORT_REQ, SC_DNR, SC_INTERNAL, SC_SUCCESS};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::{Delta, Instant, Monotonic};
use kernel::workqueue::WorkItem;

/// The poll of held commands: the table's delayed work, queued by [`hold`]
/// and re-queued while commands stay held.
impl WorkItem for ObjectTable {
    type Pointer = Arc<ObjectTable>;

    fn run(this: Arc<ObjectTable>) {
        // Only the poll ends held commands, and it does not run twice at
        // once: a command it leaves held still pins its namespace, and so
        // the module, until a later poll ends it.
        if poll_held(&this) {
            this.as_arc_borrow().poll_held_later();
        }
    }
}

/// Holds `req`, a command that a holding rule fired for (see
/// [`crate::inject::Fire::Hold`]), executed as `cmd` in process context:
/// it stays uncompleted until one of these, which [`poll_held`] checks
/// every [`HELD_POLL_MS`](crate::backend::HELD_POLL_MS):
///
/// - something it holds a reference on is going: its queue (the host reset
///   the controller or disconnected, the port went), its namespace (being
///   disabled) or its host's reservation (preempted with abort). It
///   completes with *Command Aborted due to SQ Deletion* or *Command Abort
///   Requested*, without executing, so that a write the host has given up
///   on never lands after what the host wrote since;
/// - the longest `hold_ms` of the object's enabled holding rules, as of
///   now, has passed: *Command Abort Requested*, unexecuted. So whatever
///   waits for the command (a host deleting its nvme-loop controller,
///   which has no I/O timeout) waits a bounded time;
/// - no holding rule of the object is enabled any more: it executes.
///
/// The deletions wait for the command's reference, so they wait up to one
/// poll more for held commands.
fn hold(table: Arc<ObjectTable>, req: Req<'_>, cmd: Command) {
    let Some(obj) = req.data().map(|b| b.object_ref()) else {
        return req.complete(SC_INTERNAL | SC_DNR);
    };
    obj.stat(Stat::Held, 1);
    // (`hold_ms` is at most an hour: no overflow)
    let hold = obj.rules.hold_ms().min(MAX_HOLD_MS);
    let deadline = Instant::<Monotonic>::now() + Delta::from_millis(hold as i64);
    // The table's lock first, then the object's, as in `poll_held`. The
    // lists grow without reclaim (the crate has no GFP_NOIO): this is the
    // I/O path, and a failure only ends the command.
    let mut polled = table.held.lock();
    let mut held = obj.held.lock();
    // Room in both lists first, so that the command ends here only after
    // this function has let go of the object: its reference may be the
    // last one once the command has ended (the namespace disabled, the
    // object removed), and an object's teardown has no place on the I/O
    // path, nor module code after a command's end.
    let room = (held.polled || polled.reserve(1, GFP_NOWAIT).is_ok())
        && held.cmds.reserve(1, GFP_NOWAIT).is_ok();
    if !room {
        drop(held);
        drop(polled);
        drop(obj);
        return req.complete(SC_INTERNAL);
    }
    if !held.polled {
        // Within the capacity just reserved: cannot fail.
        let _ = polled.push_within_capacity(obj.clone());
        held.polled = true;
    }
    let _ = held.cmds.push_within_capacity((req.hold(), cmd, deadline));
    drop(held);
    // The command cannot end before the table's lock is dropped (the poll
    // takes it first), and its namespace, whose binding holds the object,
    // not before the command: this reference is not the last.
    drop(obj);
    // Under the table's lock: the poll that ends this command runs after
    // it, so once the command has ended (and its namespace may go, and the
    // module with it) no queueing by this function is left to come.
    table.as_arc_borrow().poll_held_later();
    drop(polled);
}

/// Executes `req` as `cmd` once the injection rules have looked at it:
/// what parsing installs while a rule is enabled, in a context that may
/// sleep. A rule fails the command with its status, or holds it, or lets
/// it execute.
pub(crate) fn execute_checked(table: Arc<ObjectTable>, req: Req<'_>, cmd: Command) {
    if req.nowait() {
        // Not nowait capable: should a transport set nowait all the same,
        // go where holding may allocate, before a rule counts the command.
        return req.defer();
    }
    match io::injected(&req, cmd) {
        Ok(false) => io::execute(req, cmd),
        Ok(true) => hold(table, req, cmd),
        Err(status) => req.complete(status),
    }
}

/// A held command that ends, and the status to complete it with (success:
/// execute it).
type Ending = (HeldRequest<KBox<Binding>>, Command, Status);

/// Ends the held commands that have a reason to end (see [`hold`]);
/// whether any command stays held. Process context (the poll's work).
fn poll_held(table: &ObjectTable) -> bool {
    let mut ending = KVec::new();
    let any = {
        let mut polled = table.held.lock();
        polled.retain(|obj| poll_object(obj, &mut ending));
        !polled.is_empty()
    };
    // Outside the table's lock, which `hold` takes.
    for (req, cmd, status) in ending {
        match status {
            SC_SUCCESS => req.resume(|req| io::execute(req, cmd)),
            s => req.resume(|req| {
                if let Some(b) = req.data() {
                    b.object().count(Some(cmd), s, 0);
                }
                req.complete(s)
            }),
        }
    }
    any
}

/// Moves the held commands of `obj` that have a reason to end to `ending`;
/// whether any stays held.
fn poll_object(obj: &MemObject, ending: &mut KVec<Ending>) -> bool {
    let release = obj.rules.hold_ms() == 0;
    let now = Instant::<Monotonic>::now();
    let mut held = obj.held.lock();
    let mut i = 0;
    while i < held.cmds.len() {
        let (req, _, deadline) = &held.cmds[i];
        let status = match req.ending() {
            SC_SUCCESS if release => SC_SUCCESS,
            SC_SUCCESS if !(now - *deadline).is_negative() => SC_ABORT_REQ,
            SC_SUCCESS => {
                i += 1;
                continue;
            }
            s => s,
        };
        if let Ok((req, cmd, _)) = held.cmds.remove(i) {
            // A command that finds no room is dropped: aborted.
            let _ = ending.push((req, cmd, status), GFP_NOWAIT);
        }
    }
    held.polled = !held.cmds.is_empty();
    held.polled
}
