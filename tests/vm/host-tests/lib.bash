#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Shared by the host-module test scripts in this directory (sourced).
#
# ht_run NAME PLAN_FILE: builds vmclock_host.ko, the test-only
# tests/host/host_probe.ko and tests/host/hosttest (static) out of tree in
# the cache, makes an initramfs with tests/vm/mkinitramfs plus an overlay
# (this directory's guest-init as /init, the plan, hosttest), boots
# Debian's stock kernel (tests/vm/fetch-kernel) under TCG and prints TAP.
# VMCLOCK_KERNEL=debug: the debug tier's kernel instead (tests/debug/
# build-kernel; modules built against its tree, -smp 2, kasan_multi_shot,
# three times the time limit, a kmemleak scan after the plan);
# VMCLOCK_SMP=N: N vCPUs.
#
# The guest prints "R pass|fail DESC" results, "# ..." details, "M ..."
# measurements and "HT ..." harness lines on its console.
#
# The TAP plan is fixed by the caller (ht_run's third argument: the number
# of R lines the plan must produce): a result that never appears is a
# failure, and so is one more than planned.
set -u

HT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HT_DIR/../../.." && pwd)
CACHE=${VMCLOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmclock}
# One build directory per work tree: make judges by mtime, and another
# tree's newer objects must never stand in for this tree's sources.
WORK=$CACHE/host-tests-$(printf '%s' "$TOP" | md5sum | cut -c1-8)
KDIR=${KDIR:-$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-240}

# A harness failure before the guest ran: every planned check fails.
ht_die() {
	local i total=$((${HT_PLANNED:-0} + 3))

	echo "TAP version 13"
	echo "1..$total"
	echo "not ok 1 - $*"
	for ((i = 2; i <= total; i++)); do echo "not ok $i - not run"; done
	exit 1
}

# Build into $WORK/src, a copy of only the host module's sources (the
# guest module may be mid-edit). cp -a keeps mtimes: make stays incremental.
ht_build() {
	local src=$WORK/src log=$WORK/build.log

	mkdir -p "$src/tests/host"
	cp -a "$TOP/Kbuild" "$TOP/dkms.conf" "$TOP/include" "$TOP/lib" "$TOP/common" \
		"$TOP/host" "$src/"
	sed -i '/vmclock_discipline/d; /guest\//d' "$src/Kbuild"
	cp -a "$TOP/tests/host/Kbuild" "$TOP/tests/host/host_probe.c" \
		"$TOP/tests/host/host_probe.h" "$src/tests/host/"
	{
		make -C "$KDIR" M="$src" modules &&
		make -C "$KDIR" M="$src/tests/host" modules &&
		gcc -static -O2 -Wall -I"$TOP/include" -I"$TOP/tests/host" \
			-o "$WORK/hosttest" "$TOP/tests/host/hosttest.c" \
			"$TOP/lib/vmclock_math.c"
	} > "$log" 2>&1 || { tail -n 20 "$log" >&2; ht_die "build (see $log)"; }
	if grep -q 'warning:' "$log"; then
		grep 'warning:' "$log" >&2
		ht_die "build has warnings"
	fi
}

ht_initramfs() {
	local plan=$1 ov=$WORK/overlay

	"$TOP/tests/vm/mkinitramfs" -b "$WORK/ir" -o "$WORK/base.cpio.gz" \
		"$WORK/src/vmclock_host.ko" \
		"$WORK/src/tests/host/host_probe.ko" > "$WORK/mkinitramfs.log" 2>&1 ||
		{ tail -n 20 "$WORK/mkinitramfs.log" >&2; ht_die "mkinitramfs"; }
	rm -rf "$ov"
	mkdir -p "$ov/bin" "$ov/etc/ht"
	install -m 0755 "$HT_DIR/guest-init" "$ov/init"
	install -m 0755 "$WORK/hosttest" "$ov/bin/hosttest"
	install -m 0644 "$plan" "$ov/etc/ht/plan"
	(cd "$ov" && find . -print0 | sort -z |
		cpio --null -o -H newc --quiet -R 0:0) | gzip -6 > "$WORK/overlay.cpio.gz"
	cat "$WORK/base.cpio.gz" "$WORK/overlay.cpio.gz" > "$WORK/initrd.gz"
}

# ht_tap PLANNED: guest console lines -> TAP on stdout, PLANNED results
# plus three harness checks; exit status 1 on any failure.
ht_tap() {
	awk -v planned="$1" '
	{ sub(/\r$/, "") }
	/^HT PREFIX / { prefix = substr($0, 11) ": "; next }
	match($0, /HT CLOCKSOURCE [^ ]+/) { cs = substr($0, RSTART + 15, RLENGTH - 15) }
	/^HT END/ { ended = 1 }
	/^HT DMESG-BAD / { dbad = $3 }
	/^HT KMEMLEAK / { kml = $3 }
	/^HT KMEMLEAK-REPORT / { kl[++nk] = substr($0, 20) }
	/^HT DMESG / { dl[++nd] = substr($0, 10) }
	/^R (pass|fail) / {
		n++
		ok = ($2 == "pass")
		if (!ok) fail++
		res[n] = (ok ? "ok " : "not ok ") n " - " prefix substr($0, 8)
		next
	}
	/^# / && n { res[n] = res[n] "\n" $0; next }
	/^M / { meas[++nm] = "# " prefix substr($0, 3) }
	END {
		print "TAP version 13"
		print "1.." planned + 3 + (kml != "")
		for (i = 1; i <= nm; i++) print meas[i]
		for (i = 1; i <= planned; i++) {
			if (i <= n) { print res[i]; continue }
			print "not ok " i " - result " i " of " planned " missing"
			print "# the guest stopped early or a check did not report"
			fail++
		}
		k = planned + 1
		if (cs == "tsc") print "ok " k " - guest clocksource is the TSC"
		else { print "not ok " k " - guest clocksource is the TSC"; print "# measured " cs ", expected tsc"; fail++ }
		k++
		if (ended && n == planned) print "ok " k " - guest ran the whole plan"
		else {
			print "not ok " k " - guest ran the whole plan"
			if (!ended) print "# no HT END (timeout or crash)"
			if (n != planned) print "# measured " n " results, planned " planned
			for (i = planned + 1; i <= n; i++) print "# unplanned: " res[i]
			fail++
		}
		k++
		if (dbad == "0") print "ok " k " - no WARNING/BUG/Oops/Call Trace in dmesg"
		else {
			print "not ok " k " - no WARNING/BUG/Oops/Call Trace in dmesg"
			print "# measured " (dbad == "" ? "no report" : dbad " lines") ", expected 0"
			for (i = 1; i <= nd; i++) print "# " dl[i]
			fail++
		}
		if (kml != "") {	# a kernel with kmemleak (the debug tier)
			k++
			if (kml == "0") print "ok " k " - kmemleak: nothing unreferenced after the plan"
			else {
				print "not ok " k " - kmemleak: nothing unreferenced after the plan"
				print "# measured " kml ", expected 0"
				for (i = 1; i <= nk; i++) print "# " kl[i]
				fail++
			}
		}
		exit fail ? 1 : 0
	}'
}

# ht_run NAME PLAN_FILE PLANNED [KERNEL_ARGS...]
ht_run() {
	local name=$1 plan=$2 planned=$3 log vmlinuz rc
	shift 3
	HT_PLANNED=$planned

	local smp=${VMCLOCK_SMP:-1} limit=$QEMU_TIMEOUT extra=

	# fetch-kernel (and mkinitramfs) follow VMCLOCK_KERNEL=debug too
	kout=$("$TOP/tests/vm/fetch-kernel" 2>/dev/null) ||
		ht_die "tests/vm/fetch-kernel"
	eval "$kout"	# VMLINUZ MODDIR KVER, and KDIR for debug
	if [ "${VMCLOCK_KERNEL:-}" = debug ]; then
		WORK=$WORK-debug smp=${VMCLOCK_SMP:-2} limit=$((QEMU_TIMEOUT * 3))
		extra=kasan_multi_shot
	fi
	ht_build
	ht_initramfs "$plan"
	vmlinuz=$VMLINUZ
	log=$WORK/$name.console
	timeout "$limit" qemu-system-x86_64 -accel tcg -cpu max -smp "$smp" \
		-m 512M -nographic -no-reboot -kernel "$vmlinuz" \
		-initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 tsc=reliable panic=-1 loglevel=4 $extra $*" \
		< /dev/null > "$log" 2>&1
	ht_tap "$planned" < "$log"
	rc=$?
	echo "# console log: $log"
	return $rc
}
