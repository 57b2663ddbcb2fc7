# SPDX-License-Identifier: GPL-2.0
# Shared by the tests/matrix scripts (sourced, bash).
#
# Everything downloaded (packages, the trixie chroot, QEMU 10) lives in the
# cache, outside the work tree:
#   ${VMCLOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmclock}
# Other Debian suites are reached through the archive URI this machine's own
# apt configuration lists (read here at run time), with a private apt
# configuration so the machine's package state is never touched.

CACHE=${VMCLOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmclock}
MATRIX_APT=$CACHE/matrix-apt

# The Debian archive URI from /etc/apt/sources.list.d/*.sources (deb822) or
# the one-line lists; the security archive is skipped. Empty when none.
matrix_archive_uri() {
	local u
	u=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' |
		grep -v -- '-security' | head -n1)
	if [ -z "$u" ]; then
		u=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' |
			grep -v -- '-security' | head -n1)
	fi
	echo "$u"
}

# A private apt configuration listing trixie, trixie-backports and
# bookworm-backports (and the latter's sources, for tests/qemu/build);
# "matrix_apt get ARGS" runs apt-get with it.
matrix_apt_setup() {
	local uri
	uri=$(matrix_archive_uri)
	[ -n "$uri" ] || { echo "matrix: no Debian archive URI in /etc/apt/sources.list.d" >&2; return 1; }
	mkdir -p "$MATRIX_APT/lists/partial" "$MATRIX_APT/archives/partial" \
		"$MATRIX_APT/parts" "$MATRIX_APT/prefs"
	cat > "$MATRIX_APT/sources.list.new" <<-EOS
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie-backports main
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-backports main
	deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-backports main
	EOS
	if ! cmp -s "$MATRIX_APT/sources.list.new" "$MATRIX_APT/sources.list"; then
		mv "$MATRIX_APT/sources.list.new" "$MATRIX_APT/sources.list"
		rm -f "$MATRIX_APT/updated"
	else
		rm -f "$MATRIX_APT/sources.list.new"
	fi
	# refresh the indexes at most once a day
	# (an unreachable archive is fine while older indexes are there)
	if [ -z "$(find "$MATRIX_APT/updated" -mmin -1440 2>/dev/null)" ]; then
		if matrix_apt get update -q >&2; then
			touch "$MATRIX_APT/updated"
		else
			[ -e "$MATRIX_APT/updated" ] || return 1
		fi
	fi
}

matrix_apt() {
	local cmd=$1
	shift
	"apt-$cmd" \
		-o Dir::Etc::SourceList="$MATRIX_APT/sources.list" \
		-o Dir::Etc::SourceParts="$MATRIX_APT/parts" \
		-o Dir::Etc::PreferencesParts="$MATRIX_APT/prefs" \
		-o Dir::State::Lists="$MATRIX_APT/lists" \
		-o Dir::Cache::Archives="$MATRIX_APT/archives" \
		-o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" \
		-o APT::Sandbox::User=root "$@"
}

# chroot_exec [--overlay LOWER] ROOT CMD...: CMD in chroot ROOT, in a private
# mount namespace with /proc, /dev and a /tmp of its own, in a clean
# environment: PATH, HOME, LANG and the NAME=VALUE words of the array
# CHROOT_ENV. With --overlay, ROOT is first mounted (for this command only)
# as an overlay of LOWER whose upper and work directories are ROOT's
# siblings upper/ and work/: LOWER itself never changes.
chroot_exec() {
	local lower=
	if [ "$1" = --overlay ]; then
		lower=$2
		shift 2
	fi
	unshare -m --propagation private sh -c '
		l=$1 c=$2; shift 2
		if [ -n "$l" ]; then
			mount -t overlay overlay -o \
				"lowerdir=$l,upperdir=$c/../upper,workdir=$c/../work" "$c" ||
				exit
		fi
		mount -t proc proc "$c/proc" && mount -t tmpfs tmpfs "$c/tmp" &&
		mount --bind /dev "$c/dev" && exec chroot "$c" "$@"' sh "$lower" "$1" \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		${CHROOT_ENV[@]+"${CHROOT_ENV[@]}"} "${@:2}"
}
