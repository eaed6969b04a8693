#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kTLS for real: boots Debian's kernel under QEMU (TCG, no KVM) and runs $BUILD/tests/vm_ktls_pair
# for TLS 1.2/1.3 x AES-128-GCM/AES-256-GCM/CHACHA20-POLY1305, plus close_notify, KeyUpdate and
# the client (upstream) role; then a negative control without tls.ko whose offload assertions
# must fail. Then tests/vm/gateway.sh boots it again with the real ktlsgw (its own matrix and
# negative control). Prints PASS/FAIL lines; SKIP + exit 77 when QEMU or the kernel cannot be had.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../../build}
bin=$build/tests/vm_ktls_pair
bytes=${KTLSGW_VM_BYTES:-$((16 << 20))}
qemu=${KTLSGW_QEMU:-qemu-system-x86_64}
export KTLSGW_QEMU=$qemu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

skip() {
	echo "SKIP vm/ktls: $*"
	exit 77
}

# cell NAME ARGS...: one vm_ktls_pair run in the guest and the markers it must print.
cell() {
	local name=$1 checks
	shift
	case " $* " in
	*" --mode keyupdate "*) checks="offload up keyupdate keyupdate_close" ;;
	*" --ktls-client "*)
		checks="offload up down tickets close_notify_tx close_notify_rx stat" ;;
	*) checks="offload up down close_notify_tx close_notify_rx stat" ;;
	esac
	echo "timeout 120 /bin/vm_ktls_pair --cell $name --bytes $bytes $* 2>&1" >>"$work/test.sh"
	for c in $checks; do
		echo "$name/$c" >>"$work/expect"
	done
}

plan() {
	local v c io

	echo "timeout 30 /bin/vm_ktls_pair --probe 2>&1" >"$work/test.sh"
	echo "probe/caps" >"$work/expect"
	for v in 1.2 1.3; do
		for c in aes128gcm aes256gcm chacha20; do
			# TLS 1.2 moves payload with send/recv, TLS 1.3 through splice
			io=$([ $v = 1.3 ] && echo --splice)
			cell "tls${v/./}-$c" --tls $v --cipher $c $io
		done
		# the offloaded socket as a TLS client, i.e. the upstream leg of internal TLS
		cell "tls${v/./}-aes128gcm-client" --tls $v --cipher aes128gcm --ktls-client \
			--bytes $((4 << 20))
	done
	cell tls13-chacha20-keyupdate --tls 1.3 --cipher chacha20 --mode keyupdate --bytes 1048576
	cell tls13-aes256gcm-keyupdate-splice --tls 1.3 --cipher aes256gcm --mode keyupdate \
		--splice --bytes 1048576
}

main() {
	local vm dir start fails=0

	if [ ! -x "$bin" ]; then
		echo "FAIL vm/build: $bin not built (make check-tests)"
		return 1
	fi
	command -v "$qemu" >/dev/null ||
		skip "$qemu not installed (apt-get install qemu-system-x86)"
	vm=$("$here/build-vm.sh" 2>"$work/build.err")
	case $? in
	0) ;;
	77) skip "$(tail -n 1 "$work/build.err" | sed 's/^SKIP: //')" ;;
	*) echo "FAIL vm/build: $(tail -n 1 "$work/build.err")"; exit 1 ;;
	esac
	dir=${vm#*DIR=}
	plan
	start=$(date +%s)
	"$here/run-vm.sh" --dir "$dir" --mods full --script "$work/test.sh" \
		--expect "$work/expect" --log "$build/vm-console.log" "$bin" || fails=1
	echo "# vm: matrix run took $(($(date +%s) - start)) s (console: $build/vm-console.log)" >&2
	negative_control "$dir" || fails=1
	# the real gateway in the same kernel: its own boot and negative control
	BUILD=$build "$here/gateway.sh" "$dir" || fails=1
	return $fails
}

# Same guest without tls.ko: every offload assertion must fail, and the guest must finish.
negative_control() {
	local dir=$1 out=$work/neg.out neg total start

	start=$(date +%s)
	grep -E '/offload$|^probe/' "$work/expect" >"$work/expect.neg"
	# only the offload markers count here: 1 MiB each way is enough
	sed 's/--bytes [0-9]*/--bytes 1048576/' "$work/test.sh" >"$work/test-neg.sh"
	"$here/run-vm.sh" --dir "$dir" --mods notls --script "$work/test-neg.sh" --prefix vm-neg \
		--expect "$work/expect.neg" --log "$build/vm-console-notls.log" "$bin" >"$out"
	total=$(wc -l <"$work/expect.neg")
	neg=$(grep -c '^FAIL .*: ret=' "$out")
	echo "# vm: negative control took $(($(date +%s) - start)) s" >&2
	if [ "$neg" -eq "$total" ] && grep -q '^VMDONE' "$build/vm-console-notls.log"; then
		echo "PASS vm/negative-control: without tls.ko all $total offload assertions failed"
		return 0
	fi
	echo "FAIL vm/negative-control: $neg of $total offload assertions failed without tls.ko"
	sed 's/^/    | /' "$out"
	return 1
}

main
