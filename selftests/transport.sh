# SPDX-License-Identifier: GPL-2.0
#
# Transport plumbing for the guest tests; source it after lib.sh.
#
#   export_port TRANSPORT NQN PORTID   an nvmet port that exports NQN
#   connect_port TRANSPORT NQN PORTID [KATO]  nvme connect to it (keep-alive
#                                      timeout KATO seconds if given); sets DEV
#   check_transport TRANSPORT NQN PORTID  after >= 16 MiB of I/O: assert
#                                      that it went where the transport says
#
# TRANSPORT is one of:
#   loop       nvme-loop, no network.
#   tcp        nvmet-tcp on 127.0.0.1, host and target in the initial netns.
#   tcp-netns  nvmet-tcp on 10.123.0.1 in the initial netns; the host runs
#              `nvme connect` inside a network namespace the test creates
#              (10.123.0.2), joined to the initial one by a veth pair.
#   rdma       nvmet-rdma over soft-RoCE (rdma_rxe; siw if rxe does not
#              work) on one end of a veth pair, 10.124.0.1, host and target
#              both in the initial netns (nvmet-rdma and nvme-rdma create
#              their rdma_cm ids in init_net only, see below).
#
# Everything is torn down by lib.sh's clean-up stack (last in, first out):
# the network is set up before the port, the port before the connection, so
# the host disconnects first, then the port goes, then the network.
#
# What tcp-netns proves (read from drivers/nvme/host/tcp.c, Linux 7.3):
# nvme_tcp_alloc_queue() creates each queue's socket with
# sock_create_kern(current->nsproxy->net_ns, ...). On `nvme connect`,
# nvme_tcp_create_ctrl() -> nvme_tcp_setup_ctrl() runs synchronously in the
# context of the process that writes /dev/nvme-fabrics, so `ip netns exec NS
# nvme connect` really opens the admin and I/O queue sockets in NS, and the
# traffic crosses the veth pair (check_transport asserts both: the sockets
# are in NS's /proc/net/tcp, and the veth counters carry the data). The test
# therefore proves that nvmet-tcp serves a host that is a real peer across a
# network device (not the loopback device, no shared socket namespace),
# i.e. the path a remote host would take, short of a physical wire.
# Caveat: a controller reset or reconnect (nvme_tcp_reset_ctrl_work,
# nvme_tcp_reconnect_ctrl_work) runs in a kworker, whose nsproxy is the
# initial one, so the new sockets are created in init_net; there 10.123.0.1
# is a local address and the host silently reconnects over lo (seen in the
# guest: after `nvme reset` the three host sockets are 10.123.0.1 ->
# 10.123.0.1:4420 in the initial netns, none are left in NS, and I/O no
# longer moves the veth counters). The nvme-tcp host does not remember the
# namespace it was created in, and check_transport fails after a reset (it
# finds host sockets in the initial netns). The target's listening socket,
# sock_create() in nvmet_tcp_add_port(), is in the netns of whoever enables
# the port, here the initial one.
# The rdma host and target (nvme_rdma_alloc_queue, nvmet_rdma_enable_port)
# use rdma_create_id(&init_net, ...), so nvme-rdma cannot be moved into a
# network namespace at all; the rdma transport stays in init_net, where
# rdma_cm resolves the local address to the soft-RoCE device's netdev and
# rxe/siw loop the packets back through their own stack.

TR_NETNS=nvmet-mem-host
TR_VETH_T=nvmt0 TR_VETH_H=nvmh0 # tcp-netns: target end, host end (in NS)
TR_TADDR=10.123.0.1 TR_HADDR=10.123.0.2
TR_RVETH_T=nvmr0 TR_RVETH_P=nvmr1 # rdma: RoCE device end, its peer
TR_RTADDR=10.124.0.1 TR_RPADDR=10.124.0.2
TR_RDMA_DEV="" # the rdma link in use (rxe_nvmt or siw_nvmt)
_tr_net_done=""

# _tr_ip ARGS...: ip, failing the test with its message.
_tr_ip() { ip "$@" 2>&1 || fail "ip $*"; }

_tr_wait_carrier() { # IFACE [NETNS]
	local i c
	for i in $(seq 1 50); do
		if [ -n "${2:-}" ]; then
			c=$(ip netns exec "$2" cat "/sys/class/net/$1/carrier" 2>/dev/null)
		else
			c=$(cat "/sys/class/net/$1/carrier" 2>/dev/null)
		fi
		[ "$c" = 1 ] && return 0
		sleep 0.1
	done
	fail "$1 has no carrier"
}

_tr_net_tcp_netns() {
	# a leftover from an earlier test that died would make this fail
	if ip netns list 2>/dev/null | grep -qw "$TR_NETNS"; then
		msg "removing stale netns $TR_NETNS"
		ip netns del "$TR_NETNS"
	fi
	ip link del "$TR_VETH_T" 2>/dev/null && msg "removed stale $TR_VETH_T"
	ip netns add "$TR_NETNS" 2>&1 || skip "ip netns add failed: no network namespaces"
	cleanup_add "ip netns del '$TR_NETNS'"
	_tr_ip link add "$TR_VETH_T" type veth peer name "$TR_VETH_H" netns "$TR_NETNS"
	cleanup_add "ip link del '$TR_VETH_T'"
	_tr_ip addr add "$TR_TADDR/24" dev "$TR_VETH_T"
	_tr_ip link set "$TR_VETH_T" up
	_tr_ip -n "$TR_NETNS" link set lo up
	_tr_ip -n "$TR_NETNS" addr add "$TR_HADDR/24" dev "$TR_VETH_H"
	_tr_ip -n "$TR_NETNS" link set "$TR_VETH_H" up
	_tr_wait_carrier "$TR_VETH_T"
	_tr_wait_carrier "$TR_VETH_H" "$TR_NETNS"
	# the host side must have no other way to the target than the veth
	ip -n "$TR_NETNS" -o addr show | grep -q "$TR_TADDR" &&
		fail "$TR_TADDR is local in $TR_NETNS"
	msg "tcp-netns: target $TR_TADDR on $TR_VETH_T (init netns), host $TR_HADDR on $TR_VETH_H (netns $TR_NETNS)"
}

_tr_rdma_link_active() { # DEV: wait for port 1 to be ACTIVE
	local i
	for i in $(seq 1 50); do
		rdma link show "$1/1" 2>/dev/null | grep -q "state ACTIVE" && return 0
		sleep 0.1
	done
	return 1
}

_tr_net_rdma() {
	local why="" out
	command -v rdma >/dev/null || skip "no rdma tool (iproute2)"
	ip link del "$TR_RVETH_T" 2>/dev/null && msg "removed stale $TR_RVETH_T"
	_tr_ip link add "$TR_RVETH_T" type veth peer name "$TR_RVETH_P"
	cleanup_add "ip link del '$TR_RVETH_T'"
	_tr_ip addr add "$TR_RTADDR/24" dev "$TR_RVETH_T"
	_tr_ip addr add "$TR_RPADDR/24" dev "$TR_RVETH_P"
	_tr_ip link set "$TR_RVETH_T" up
	_tr_ip link set "$TR_RVETH_P" up
	_tr_wait_carrier "$TR_RVETH_T"
	# soft-RoCE first, soft-iWARP if that does not work
	if ! out=$(modprobe rdma_rxe 2>&1); then
		why="modprobe rdma_rxe: $out"
	elif ! out=$(rdma link add rxe_nvmt type rxe netdev "$TR_RVETH_T" 2>&1); then
		why="rdma link add rxe_nvmt: $out"
	else
		cleanup_add "rdma link delete rxe_nvmt"
		if _tr_rdma_link_active rxe_nvmt; then
			TR_RDMA_DEV=rxe_nvmt
		else
			why="rxe_nvmt/1 not ACTIVE: $(rdma link show rxe_nvmt/1 2>&1)"
			rdma link delete rxe_nvmt
		fi
	fi
	if [ -z "$TR_RDMA_DEV" ]; then
		msg "rxe does not work ($why), trying siw"
		if ! out=$(modprobe siw 2>&1); then
			why="$why; modprobe siw: $out"
		elif ! out=$(rdma link add siw_nvmt type siw netdev "$TR_RVETH_T" 2>&1); then
			why="$why; rdma link add siw_nvmt: $out"
		else
			cleanup_add "rdma link delete siw_nvmt"
			if _tr_rdma_link_active siw_nvmt; then
				TR_RDMA_DEV=siw_nvmt
			else
				why="$why; siw_nvmt/1 not ACTIVE"
			fi
		fi
	fi
	[ -n "$TR_RDMA_DEV" ] || skip "neither soft-RoCE nor soft-iWARP works: $why"
	msg "rdma: $(rdma link show "$TR_RDMA_DEV/1")"
}

# _tr_setup_net TRANSPORT: the network a transport needs, once per test.
_tr_setup_net() {
	case " $_tr_net_done " in *" $1 "*) return 0 ;; esac
	case $1 in
	loop) modload nvme-loop || fail "modprobe nvme-loop" ;;
	tcp | tcp-netns)
		modload nvmet-tcp nvme-tcp || skip "modprobe nvmet-tcp nvme-tcp failed"
		[ "$1" = tcp ] || _tr_net_tcp_netns
		;;
	rdma)
		modload nvmet-rdma nvme-rdma || skip "modprobe nvmet-rdma nvme-rdma failed"
		_tr_net_rdma
		;;
	*) fail "unknown transport '$1' (loop, tcp, tcp-netns, rdma)" ;;
	esac
	_tr_net_done="$_tr_net_done $1"
}

# _tr_traddr TRANSPORT: the target address of the transport.
_tr_traddr() {
	case $1 in
	tcp) echo 127.0.0.1 ;;
	tcp-netns) echo "$TR_TADDR" ;;
	rdma) echo "$TR_RTADDR" ;;
	esac
}

# _tr_free_svcid TRTYPE TRADDR: 4420, or the next service id that no
# other configured port of that type and address uses.
_tr_free_svcid() {
	local s=4420 p used
	while :; do
		used=""
		for p in "$CFS"/ports/*; do
			[ -d "$p" ] || continue
			[ "$(cat "$p/addr_trtype")" = "$1" ] &&
				[ "$(cat "$p/addr_traddr")" = "$2" ] &&
				[ "$(cat "$p/addr_trsvcid")" = "$s" ] && used=1
		done
		[ -z "$used" ] && break
		s=$((s + 1))
	done
	echo "$s"
}

# export_port TRANSPORT NQN PORTID: an nvmet port of that transport that
# exports subsystem NQN; port, link and network are removed at exit.
export_port() {
	local tr=$1 nqn=$2 p="$CFS/ports/$3" trtype addr
	_tr_setup_net "$tr"
	mkdir "$p" || fail "mkdir port $3"
	cleanup_add "rmdir '$p'"
	case $tr in
	loop) write_attr "$p/addr_trtype" loop ;;
	*)
		trtype=${tr%-netns}
		addr=$(_tr_traddr "$tr")
		write_attr "$p/addr_trtype" "$trtype"
		write_attr "$p/addr_adrfam" ipv4
		write_attr "$p/addr_traddr" "$addr"
		write_attr "$p/addr_trsvcid" "$(_tr_free_svcid "$trtype" "$addr")"
		;;
	esac
	# linking the first subsystem enables the port (the listener)
	ln -s "$CFS/subsystems/$nqn" "$p/subsystems/$nqn" ||
		fail "link $nqn to $tr port $3 ($(dmesg | tail -n 3 | tr '\n' ' '))"
	cleanup_add "rm -f '$p/subsystems/$nqn'"
	[ "$tr" = loop ] ||
		msg "$tr port $3: $(cat "$p/addr_trtype") $(cat "$p/addr_traddr"):$(cat "$p/addr_trsvcid")"
}

# connect_port TRANSPORT NQN PORTID [KATO]: connect the host to the port;
# sets DEV to the namespace's block device. KATO: the keep-alive timeout in
# seconds (nvme connect -k), else the kernel's default (5 s). The
# disconnect runs at exit.
connect_port() {
	local tr=$1 nqn=$2 p="$CFS/ports/$3" kato=${4:-} i cmd out
	[ -d "$p" ] || fail "no port $3"
	case $tr in
	loop) cmd=(nvme connect -t loop -n "$nqn") ;;
	tcp | tcp-netns | rdma)
		# a lost connection gives up after 10 s instead of 10 min
		cmd=(nvme connect -t "$(cat "$p/addr_trtype")" -a "$(cat "$p/addr_traddr")"
			-s "$(cat "$p/addr_trsvcid")" -n "$nqn" -l 10 -c 1)
		[ "$tr" = tcp-netns ] && cmd=(ip netns exec "$TR_NETNS" "${cmd[@]}")
		;;
	*) fail "unknown transport '$tr'" ;;
	esac
	[ -z "$kato" ] || cmd+=(-k "$kato")
	cleanup_add "nvme disconnect -n '$nqn'"
	out=$("${cmd[@]}" 2>&1) || fail "${cmd[*]}: $out"
	for i in $(seq 1 200); do
		find_dev "$nqn" && break
		sleep 0.1
	done
	[ -n "${DEV:-}" ] || fail "no block device for $nqn after ${cmd[*]}"
	msg "connected over $tr: $DEV ($(cat "/sys/block/${DEV#/dev/}/device/transport") $(cat "/sys/block/${DEV#/dev/}/device/address" 2>/dev/null | tr '\n' ' '))"
}

# _tr_hexip A.B.C.D: the address as /proc/net/tcp prints it (x86: little
# endian __be32).
_tr_hexip() { local IFS=.; set -- $1; printf '%02X%02X%02X%02X' "$4" "$3" "$2" "$1"; }

# _tr_tcp_conns LOCAL_HEX REMOTE_HEX [NETNS]: number of ESTABLISHED
# sockets LOCAL(any port) -> REMOTE in the netns' /proc/net/tcp.
_tr_tcp_conns() {
	local cmd=(cat /proc/net/tcp)
	[ -n "${3:-}" ] && cmd=(ip netns exec "$3" "${cmd[@]}")
	"${cmd[@]}" | awk -v l="$1" -v r="$2" '
		{ split($2, a, ":"); if (a[1] == l && $3 == r && $4 == "01") n++ }
		END { print n + 0 }'
}

# check_transport TRANSPORT NQN PORTID: call after at least 16 MiB of I/O;
# asserts that the connection is the one the transport promises.
check_transport() {
	local tr=$1 p="$CFS/ports/$3" svc rem n_ns n_init rx tx stats
	case $tr in
	tcp-netns)
		svc=$(printf '%04X' "$(cat "$p/addr_trsvcid")")
		rem="$(_tr_hexip "$TR_TADDR"):$svc"
		n_ns=$(_tr_tcp_conns "$(_tr_hexip "$TR_HADDR")" "$rem" "$TR_NETNS")
		n_init=$(_tr_tcp_conns "$(_tr_hexip "$TR_TADDR")" "$rem")
		msg "host sockets to $TR_TADDR:$(cat "$p/addr_trsvcid"): $n_ns in netns $TR_NETNS, $n_init over lo in the initial netns"
		[ "$n_ns" -ge 2 ] || fail "expected admin + I/O queue sockets in $TR_NETNS, found $n_ns"
		[ "$n_init" -eq 0 ] || fail "$n_init host sockets in the initial netns"
		rx=$(cat "/sys/class/net/$TR_VETH_T/statistics/rx_bytes")
		tx=$(cat "/sys/class/net/$TR_VETH_T/statistics/tx_bytes")
		msg "$TR_VETH_T: rx $rx bytes (host to target), tx $tx bytes (target to host)"
		[ $((rx + tx)) -ge $((16 << 20)) ] ||
			fail "the data did not cross the veth pair"
		;;
	rdma)
		# the target address is local, so rxe/siw loop the packets back
		# inside the soft device: the veth only sees ARP and the like
		msg "rdma device $TR_RDMA_DEV: $(rdma link show "$TR_RDMA_DEV/1" | sed 's/.*state/state/')"
		stats=$(rdma statistic show link "$TR_RDMA_DEV/1" 2>/dev/null)
		msg "rdma statistic: $(echo ${stats:-none})"
		n_ns=$(awk '{ for (i = 1; i < NF; i++) if ($i == "sent_pkts") print $(i + 1) }' <<<"$stats")
		if [ -n "$n_ns" ]; then
			# 16 MiB of fio writes alone are > 4096 packets
			[ "$n_ns" -ge 4096 ] || fail "only $n_ns packets sent by $TR_RDMA_DEV"
		fi
		;;
	esac
	return 0
}
