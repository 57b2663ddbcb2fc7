#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vmclock_host's file and ioctl interface: unprivileged access rules,
# status/leap/TAI/error fields following adjtimex, bad ioctl arguments
# rejected with nothing changed, the explicit reference, the disruption
# and generation bumps, 100 open/mmap/close and 100 load/unload cycles.
. "$(dirname "$0")/lib.bash"

plan=$(mktemp)
trap 'rm -f "$plan"' EXIT
cat > "$plan" <<'PLAN'
modprobe vmclock_host ntp_poll_ms=100
echo "HT PREFIX perm"
hosttest perm
result $? "perm: hosttest exit status"
echo "HT PREFIX badargs"
hosttest badargs
result $? "badargs: hosttest exit status"
echo "HT PREFIX ntp"
hosttest ntp
result $? "ntp: hosttest exit status"
echo "HT PREFIX cycles"
hosttest cycles 100
result $? "cycles: hosttest exit status"
rmmod vmclock_host
result $? "unload after use"
echo "HT PREFIX load"
fails=0
i=0
while [ $i -lt 100 ]; do
	modprobe vmclock_host || fails=$((fails + 1))
	[ -c /dev/vmclock_host ] || fails=$((fails + 1))
	rmmod vmclock_host || fails=$((fails + 1))
	i=$((i + 1))
done
result $fails "100 load/unload cycles"
echo "# failures $fails"
lsmod | grep -q vmclock_host
result $((! $?)) "module gone after the cycles"
PLAN
# perm 17+1, badargs 25+1, ntp 12+1, cycles 1+1, load 3
ht_run api "$plan" 62
