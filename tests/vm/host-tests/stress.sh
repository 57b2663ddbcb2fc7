#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 11's host stress: processes (half as nobody) opening, mapping,
# issuing every ioctl and closing in loops, up to the view limit, while
# the host clock's frequency changes and steps and unloads are tried;
# then the module unloads cleanly. Meant for -smp 2 and the debug kernel
# (tests/debug/run); HT_STRESS_S sets the seconds (default 20).
. "$(dirname "$0")/lib.bash"

plan=$(mktemp)
trap 'rm -f "$plan"' EXIT
cat > "$plan" <<PLAN
modprobe vmclock_host max_views=16 ntp_poll_ms=100
result \$? "load with max_views=16"
echo "HT PREFIX stress"
hosttest stress 6 ${HT_STRESS_S:-20} 16
result \$? "stress: hosttest exit status"
rmmod vmclock_host
result \$? "unload after the stress"
PLAN
# load 1, stress 6+1, unload 1
ht_run stress "$plan" 9
