#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boots the kTLS VM once: base + module + per-run initramfs segments, a guest script run by
# /init, results back over the serial console as "RESULT name ok|fail detail". Prints
# "PASS vm/<name>" or "FAIL vm/<name>: detail" for every name in the expect file (missing = FAIL).
# Usage: run-vm.sh --dir VMDIR --mods full|notls --script FILE --expect FILE --log FILE
#                  [--prefix vm] [--timeout SEC] [--files DIR] BINARY...
# --files DIR: DIR's contents are copied to /gw in the guest (configs, certificates).
set -euo pipefail

dir= mods=full script= expect= log= prefix=vm files= tmo=${KTLSGW_VM_TIMEOUT:-300}
while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=$2; shift 2 ;;
	--mods) mods=$2; shift 2 ;;
	--script) script=$2; shift 2 ;;
	--expect) expect=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--prefix) prefix=$2; shift 2 ;;
	--timeout) tmo=$2; shift 2 ;;
	--files) files=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "run-vm.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ -n "$dir" ] && [ -n "$script" ] && [ -n "$expect" ] && [ -n "$log" ] || {
	echo "usage: run-vm.sh --dir D --mods full|notls --script F --expect F --log F BIN..." >&2
	exit 2
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# copy_with_libs BIN: BIN into /bin, and every library ldd names at its own path.
copy_with_libs() {
	local bin=$1 lib

	cp "$bin" "$stage/root/bin/"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$stage/root$(dirname "$lib")"
		cp -L "$lib" "$stage/root$lib"
	done
}

write_init() {
	cat >"$stage/root/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /tmp && mount -t tmpfs tmp /tmp
ip link set lo up
for m in $(cat /lib/modules/load.list); do modprobe "$m" 2>/dev/null; done
echo "VMBOOT $(uname -r) ulp=[$(cat /proc/sys/net/ipv4/tcp_available_ulp)]"
sh /test.sh
echo "VMDONE"
poweroff -f
EOF
	chmod 755 "$stage/root/init"
}

build_initrd() {
	local b

	mkdir -p "$stage/root/bin"
	for b in "$@"; do
		copy_with_libs "$b"
	done
	write_init
	cp "$script" "$stage/root/test.sh"
	[ -z "$files" ] || cp -a "$files" "$stage/root/gw"
	(cd "$stage/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$stage/run.cpio.gz"
	cat "$dir/base.cpio.gz" "$dir/mods${mods/full/}.cpio.gz" "$stage/run.cpio.gz" \
		>"$stage/initrd"
}

boot() {
	timeout -k 5 "$tmo" "${KTLSGW_QEMU:-qemu-system-x86_64}" \
		-accel tcg,thread=multi -cpu max -m 512M \
		-nodefaults -net none -no-reboot -nographic -serial stdio \
		-kernel "$dir/vmlinuz" -initrd "$stage/initrd" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off" </dev/null 2>&1 |
		tr -d '\r' >"$log" || true
}

# One PASS/FAIL line per expected name; exit status 1 when any failed.
report() {
	local name line fails=0

	grep -q '^VMDONE' "$log" || echo "# $prefix: guest did not finish (see $log)" >&2
	while read -r name; do
		[ -n "$name" ] || continue
		line=$(grep -m1 "^RESULT $name " "$log" || true)
		case $line in
		"RESULT $name ok"*) echo "PASS $prefix/$name" ;;
		"RESULT $name fail"*)
			echo "FAIL $prefix/$name: ${line#"RESULT $name fail "}"
			fails=1 ;;
		*) echo "FAIL $prefix/$name: no RESULT marker on the console"; fails=1 ;;
		esac
	done <"$expect"
	return $fails
}

[ "$mods" = full ] || [ "$mods" = notls ] || { echo "--mods full|notls" >&2; exit 2; }
[ "$mods" = notls ] && mods=-notls
build_initrd "$@"
boot
report
