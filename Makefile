# SPDX-License-Identifier: GPL-2.0
# Human targets. Kernel rules live in Kbuild; tests in tests/.

KVER ?= $(shell uname -r)
# The running kernel's build tree, else the newest installed Debian headers
# (the machines that build this often run a kernel without headers).
KDIR ?= $(shell if [ -d /lib/modules/$(KVER)/build ]; then \
		echo /lib/modules/$(KVER)/build; \
	else ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1; fi)
VMCLOCK_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vmclock
export KDIR VMCLOCK_CACHE

VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' dkms.conf)

.PHONY: all modules clean check check-fast demo demo-chain install uninstall checkpatch \
	fuzz help check-matrix check-debug check-smp check-all tools deb

all: modules tools

# vmclockctl, the operator's tool (userspace, libkmod)
tools:
	$(MAKE) -C tools VERSION=$(VERSION)

modules:
	@test -n "$(KDIR)" || { echo "no kernel headers found: install linux-headers-amd64 or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C tests/unit clean
	-$(MAKE) -C tools clean
	rm -rf build out

# Every test: unit, fuzz smoke, build, style, DKMS, VM scenarios.
check:
	tests/run-all

# Other kernels (7.3 with upstream ptp_vmclock, 6.12) and QEMU 10's vmclock
# device with live migration; downloads cached in VMCLOCK_CACHE.
check-matrix:
	tests/matrix/run $(MATRIX_ARGS)

# The debug-kernel tier: Debian 12's 6.1 source with KASAN, lockdep, UBSAN,
# KFENCE, kmemleak (built once, cached in VMCLOCK_CACHE), its canary, the
# guest scenarios and host suites on two vCPUs; DEBUG_ARGS="--core" is CI's
# share, DEBUG_ARGS="guest-converge host:stress" picks cases.
check-debug:
	tests/debug/run $(DEBUG_ARGS)

# The stock kernel on two vCPUs: every guest scenario with -smp 2
# (SMP_ARGS="--core" is CI's share).
check-smp:
	tests/vm/run-smp $(SMP_ARGS)

# Everything: what CI runs, with every case of every tier (~2 h).
check-all:
	VMCLOCK_CI_ALL=1 bash .ci/run

# The tests that need no VM and no root (a quick edit-compile loop).
check-fast:
	tests/run-all --fast

# The main job, shown on the embedded default scenario.
demo:
	tests/vm/demo

# The whole chain: vmclock_host in a host VM, patched QEMU, the guest (~4 min).
demo-chain:
	tests/chain/demo

# vmclock_discipline against chrony and phc2sys in QEMU (tests/bench/run-bench).
.PHONY: bench
bench:
	tests/bench/run-bench $(BENCH_ARGS)

install: modules tools
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(KVER)
	$(MAKE) -C tools install VERSION=$(VERSION) PREFIX=/usr/local

uninstall:
	rm -f /lib/modules/$(KVER)/updates/vmclock_discipline.ko \
	      /lib/modules/$(KVER)/updates/vmclock_host.ko \
	      /lib/modules/$(KVER)/extra/vmclock_discipline.ko \
	      /lib/modules/$(KVER)/extra/vmclock_host.ko
	depmod -a $(KVER)
	rm -f $(DESTDIR)/usr/local/sbin/vmclockctl \
	      $(DESTDIR)/usr/local/share/man/man8/vmclockctl.8

checkpatch:
	tests/checkpatch

# Debian packages (vmclock-dkms, vmclockctl) from the files git knows (no
# build products), with debhelper and dh-dkms; the changelog is written
# from dkms.conf's version. Results and lintian's report in build/deb/;
# a lintian error fails it.
DEB_TOP := build/deb
DEB_SRC := $(DEB_TOP)/vmclock-$(VERSION)
deb:
	rm -rf $(DEB_TOP) && mkdir -p $(DEB_SRC)
	git ls-files -co --exclude-standard -z > $(DEB_TOP)/files
	tar --null -T $(DEB_TOP)/files -cf $(DEB_TOP)/tree.tar
	tar -xf $(DEB_TOP)/tree.tar -C $(DEB_SRC) && rm $(DEB_TOP)/files $(DEB_TOP)/tree.tar
	{ echo "vmclock ($(VERSION)) unstable; urgency=medium"; echo; \
	  echo "  * Built from commit $$(git rev-parse --short HEAD)$$(git diff --quiet HEAD || echo ' with local changes')."; \
	  echo; echo " -- $$(sed -n 's/^Maintainer: //p' debian/control)  $$(git log -1 --format=%aD)"; \
	} > $(DEB_SRC)/debian/changelog
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc --build=full
	lintian --info --fail-on error $(DEB_TOP)/vmclock_$(VERSION)_*.changes \
		> $(DEB_TOP)/lintian.txt 2>&1; rc=$$?; cat $(DEB_TOP)/lintian.txt; exit $$rc
	@ls $(DEB_TOP)/*.deb

fuzz:
	$(MAKE) -C tests/unit fuzz-long

help:
	@echo "vmclock-dkms $(VERSION): vmclock_discipline.ko (guest), vmclock_host.ko (host)"
	@echo
	@echo "  make [all|modules]  build both modules against KDIR=$(KDIR)"
	@echo "  make demo           boot Debian 12's kernel in QEMU and watch a guest lock to a simulated host"
	@echo "  make demo-chain     vmclock_host in a host VM -> patched QEMU inside it -> a guest following it (~4 min)"
	@echo "  make bench          module vs chrony and phc2sys in QEMU: table and plots in tests/bench/out (~65 min, 3 repeats; BENCH_ARGS=\"-s migration -r ours,phc2sys -n 1\")"
	@echo "  make check          every test (installs what it needs; root, ~25 min)"
	@echo "  make check-fast     unit tests, fuzz smoke, build and style only"
	@echo "  make deb            Debian packages vmclock-dkms and vmclockctl in build/deb (debhelper, dh-dkms, lintian)"
	@echo "  make check-matrix   7.3 / 6.12 kernels, upstream ptp_vmclock, QEMU 10 vmclock + migration (root, ~20 min)"
	@echo "  make check-debug    canary, guest scenarios, host suites on a KASAN/lockdep/UBSAN/kmemleak 6.1 kernel, -smp 2 (root; kernel build cached)"
	@echo "  make check-smp      every guest scenario on the stock kernel with -smp 2"
	@echo "  make check-all      make check, the matrix, and every case of the smp2 and debug tiers"
	@echo "  make fuzz           a long libFuzzer run of page validation and time arithmetic"
	@echo "  make checkpatch     kernel style check of all C sources"
	@echo "  make tools          build tools/vmclockctl (needs libkmod-dev)"
	@echo "  make install        install the modules for KVER=$(KVER) (without DKMS) and vmclockctl"
	@echo "  make uninstall      remove them again"
	@echo "  make clean          remove build products"
	@echo
	@echo "  Cached downloads (kernel image, tools): VMCLOCK_CACHE=$(VMCLOCK_CACHE)"
