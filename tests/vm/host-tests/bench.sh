#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Scale benchmark (reported, not pass/fail beyond "it ran"): 1000 open
# views (files open for writing); time inside the pvclock_gtod notifier, CPU per page rewrite and
# host CPU per second, idle and with the tick length changing at 10 Hz,
# from /sys/kernel/debug/vmclock_host/stats.
. "$(dirname "$0")/lib.bash"

plan=$(mktemp)
trap 'rm -f "$plan"' EXIT
echo "BENCH_VIEWS=${BENCH_VIEWS:-1000} BENCH_SECS=${BENCH_SECS:-10}" > "$plan"
cat >> "$plan" <<'PLAN'
modprobe vmclock_host
echo "HT PREFIX bench"
hosttest bench $BENCH_VIEWS $BENCH_SECS
result $? "bench: hosttest exit status"
cat /sys/kernel/debug/vmclock_host/stats | sed 's/^/M stats /'
rmmod vmclock_host
result $? "unload with no view open"
PLAN
ht_run bench "$plan" 3
