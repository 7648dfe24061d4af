#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Protocol fuzz (nvme_fuzz.py): random NVMe I/O commands through the
# passthrough ioctl to a mem namespace over a transport, with a fixed,
# printed seed: every opcode, random flags, data lengths that do not match
# NLB, huge NLB, LBAs at and beyond the end and near 2^64, Dataset
# Management with 1..256 random ranges, Write Zeroes, Verify, Compare, and
# 4 x KATO seconds of commands that fail in nvmet_req_init(). Every command
# must complete with the status the model expects, the data outside the
# fuzz region must be intact, and the controller must stay connected: same
# controller (cntlid), state live, no keep-alive expiry, reset, reconnect
# or timeout in the kernel log.
#   mem_fuzz.sh TRANSPORT [COUNT [SEED]]   (loop, tcp; COUNT default 500,
#                                           SEED default 1)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
tr=${1:?usage: mem_fuzz.sh TRANSPORT [COUNT [SEED]]}
count=${2:-500} seed=${3:-1}
kato=5 # seconds; the keep-alive phase lasts 4 x kato
here=$(dirname "$0")
load_mem
new_mem_obj fuzz0 8M 512
nqn=testnqn.fuzz.$tr
new_subsys $nqn
new_ns $nqn 1
mem_ns $nqn 1 fuzz0
export_port "$tr" $nqn 171
connect_port "$tr" $nqn 171 $kato
ctrl=$(basename "$(readlink -f "/sys/block/${DEV#/dev/}/device")")
sys=/sys/class/nvme/$ctrl
[ "$(cat "$sys/kato" 2>/dev/null)" = "$kato" ] ||
	fail "$ctrl: kato $(cat "$sys/kato" 2>/dev/null), expected $kato"
cntlid=$(cat "$sys/cntlid")
msg "$ctrl over $tr: cntlid $cntlid, kato ${kato}s, state $(cat "$sys/state")"
log_mark
python3 "$here/nvme_fuzz.py" "$DEV" "$count" "$seed" "$kato" "$sys"
rc=$?
why=()
[ $rc -eq 0 ] || why+=("commands did not complete as expected (seed $seed)")
state=$(cat "$sys/state" 2>/dev/null || echo gone)
now=$(cat "$sys/cntlid" 2>/dev/null || echo gone)
msg "$ctrl after the fuzz: state $state, cntlid $now"
if [ "$state" = gone ]; then
	why+=("$ctrl was deleted")
else
	[ "$state" = live ] || why+=("$ctrl is $state, not live")
	# (a reconnected controller may get the same cntlid: the log tells)
	[ "$now" = "$cntlid" ] || why+=("$ctrl has cntlid $now, not $cntlid: it reconnected")
fi
# lost controllers: the target's keep-alive timer or fatal error, the host's
# error recovery, resets, reconnects, command timeouts
lost=$(log_since | grep -Ei 'keep-alive|fatal error|resetting controller|Removing ctrl|error recovery|reconnect|timeout|timed out')
if [ -n "$lost" ]; then
	printf '%s\n' "$lost" | head -n 20 | sed 's/^/# log: /'
	why+=("the controller was lost (kernel log above)")
fi
if grep -qi 'keep-alive timer.*expired' <<<"$lost"; then
	why+=("the target's keep-alive timer expired: it does not count commands that fail in nvmet_req_init() as traffic, the host (TBKAS) does and sent no Keep Alive")
fi
[ ${#why[@]} -eq 0 ] || fail "fuzz over $tr: $(printf '%s; ' "${why[@]}" | sed 's/; $//')"
msg "fuzz over $tr: every command completed as expected, $ctrl stayed live, the protected half is intact"
