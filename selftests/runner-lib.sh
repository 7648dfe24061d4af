# SPDX-License-Identifier: GPL-2.0
#
# The runner's bookkeeping, sourced by selftests/run.sh (and by
# selftests/host/runner.sh, which tests it): results in KTAP, the expected
# skips, and the results of a guest. The caller sets `here` (selftests/)
# and `shared` (where ../shared is).

# skip_expected NAME: true if selftests/expected-skips lets NAME be skipped
# here (its WHERE holds).
skip_expected() {
	local name where
	while read -r name where; do
		[ "$name" = "$1" ] || continue
		case $where in
		no-shared-nvmetcli) [ ! -f "$shared/nvmetcli/nvmetcli" ] && return 0 ;;
		plain-kernel) [ "$NVMET_MEM_KERNEL" = plain ] && return 0 ;;
		esac
	done < <(grep -v '^#' "$here/expected-skips")
	return 1
}

pass=0 failn=0 skipn=0 skipped=()
result() { # result ok|fail|skip NAME
	case $1 in
	ok) pass=$((pass + 1)); echo "ok $((pass + failn + skipn)) $2" ;;
	skip)
		if skip_expected "$2"; then
			skipn=$((skipn + 1)) skipped+=("$2")
			echo "ok $((pass + failn + skipn)) $2 # SKIP"
		else
			# the config and setup.sh guarantee what it needs
			failn=$((failn + 1))
			echo "not ok $((pass + failn + skipn)) $2 # skipped, and not in selftests/expected-skips"
		fi
		;;
	*) failn=$((failn + 1)); echo "not ok $((pass + failn + skipn)) $2" ;;
	esac
}
finish() {
	echo "# host tests, guest tests and guest kernel log: see above"
	echo "# skipped (expected here, see selftests/expected-skips): ${skipped[*]:-none}"
	echo "$pass passed, $failn failed, $skipn skipped"
	[ $failn -eq 0 ]
	exit
}

# guest_results DIR G VMRC TEST...: count the results of guest G, run by
# scripts/vm.sh -o DIR with the tests TEST... (exit status VMRC); every one
# of them must report exactly once.
guest_results() {
	# Only guest.sh's own KTAP, in the script's output.log, counts: the
	# rest of host.log is vm.sh's, and may hold the console's tail, where
	# the KUnit suites' "ok N nvmet_mem_..." lines look like results.
	local dir=$1 g=$2 vmrc=$3 log=$1/output.log line t name seen=0 planned
	shift 3
	local -A mine_left=()
	for t in "$@"; do mine_left[$t]=1; done
	touch "$log"
	while IFS= read -r line; do
		if [[ $line =~ ^(not\ )?ok\ [0-9]+\ ([^#]*[^#\ ])(\ #\ (SKIP|XFAIL).*)?$ ]]; then
			seen=$((seen + 1))
			t=${BASH_REMATCH[2]}
			name=guest_$t
			if [ -z "${mine_left[$t]:-}" ]; then
				echo "# guest $g reported a result for $t, which it was not given (or twice)"
				result fail "$name"
				continue
			fi
			unset "mine_left[$t]"
			if [ -n "${BASH_REMATCH[1]}" ]; then result fail "$name"
			elif [ "${BASH_REMATCH[4]}" = SKIP ]; then result skip "$name"
			else result ok "$name"; fi
		else
			case $line in
			"# "*) echo "$line" ;;
			TAP*|1..*) ;;
			*) echo "# $line" ;;
			esac
		fi
	done <"$log"
	# vm.sh's own lines (boot, exit, console tail): comments only
	grep -vxF -f "$log" "$dir/host.log" | sed 's/^/# vm: /'
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log" | head -n 1)
	if [ -z "$planned" ] || [ "$seen" -lt "$planned" ] || [ ${#mine_left[@]} -gt 0 ]; then
		echo "# guest $g ran $seen of ${planned:-?} tests (vm exit $vmrc); no result for: ${!mine_left[*]}"
		result fail "guest${g}_completed"
	fi
}
