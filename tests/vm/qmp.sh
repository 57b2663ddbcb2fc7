# SPDX-License-Identifier: GPL-2.0
# QMP over loopback TCP from bash (sourced by tests/vm/run-scenario and
# tests/matrix/qemu-vmclock): one command per connection, no python.

# free_ports N: print a base port B with B .. B+N-1 all free on loopback.
free_ports() {
	local n=$1 base i busy
	base=$((20000 + RANDOM % 20000))
	while :; do
		busy=0
		for i in $(seq 0 $((n - 1))); do
			ss -Htln | awk '{ print $4 }' | grep -qE ":$((base + i))\$" && busy=1
		done
		[ $busy -eq 0 ] && break
		base=$((base + n))
	done
	echo "$base"
}

# qmp PORT JSON: one command on a fresh QMP connection; prints the reply
# line ("return" or "error"), or fails when QEMU does not answer.
qmp() {
	local port=$1 cmd=$2 line fd i
	for i in $(seq 50); do
		exec {fd}<> "/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
		fd=
		sleep 0.1
	done
	[ -n "$fd" ] || return 1
	read -r -t 10 line <&"$fd"
	echo '{"execute": "qmp_capabilities"}' >&"$fd"
	while read -r -t 10 line <&"$fd"; do
		case $line in *'"return"'* | *'"error"'*) break ;; esac
	done
	echo "$cmd" >&"$fd"
	while read -r -t 60 line <&"$fd"; do
		case $line in *'"return"'* | *'"error"'*) echo "$line"; break ;; esac
	done
	exec {fd}>&-
}

# qmp_ok PORT JSON: qmp, failing on an error reply (printed as a comment).
qmp_ok() {
	local r
	r=$(qmp "$1" "$2") || { echo "# qmp $1: no answer to $2"; return 1; }
	case $r in *'"return"'*) return 0 ;; esac
	echo "# qmp $1: $2: $r"
	return 1
}

# qmp_cap PORT CAPABILITY: turn a migration capability on.
qmp_cap() {
	qmp_ok "$1" "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"$2\", \"state\": true}]}}"
}

# migrate PORT URI: start a migration and wait until it completes.
migrate() {
	local port=$1 uri=$2 r i
	r=$(qmp "$port" "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"$uri\"}}")
	case $r in *'"error"'*) echo "# migrate $uri: $r"; return 1 ;; esac
	for i in $(seq 1200); do
		r=$(qmp "$port" '{"execute": "query-migrate"}')
		case $r in
		*'"status": "completed"'*) return 0 ;;
		*'"status": "failed"'* | *'"status": "cancelled"'*) echo "# migrate $uri: $r"; return 1 ;;
		esac
		sleep 0.1
	done
	echo "# migrate $uri: no completion: $r"
	return 1
}
