#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds, or reuses from its cache, what the kTLS VM boots: Debian's cloud kernel, its tls and
# crypto modules, and the busybox base of the initramfs. Everything is cached per kernel version
# under $KTLSGW_VM_CACHE (default /var/cache/ktlsgw-vm, else $BUILD/vm), so a second run is instant.
# On success prints "VER=... DIR=..." on stdout; exit 77 with "SKIP: reason" on stderr when the
# kernel package cannot be had.
set -euo pipefail

# Modules the tests need beyond the kernel image (recipe: without gcm, TLS_TX fails with ENOENT).
MODS="tls gcm ctr ghash_generic aesni_intel ghash_clmulni_intel chacha20poly1305 chacha_x86_64
	poly1305_x86_64 chacha_generic poly1305_generic"

META=${KTLSGW_VM_KERNEL_META:-linux-image-cloud-amd64}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# A cache entry is complete when every artefact exists and was built for this module list.
is_complete() {
	[ -f "$1/vmlinuz" ] && [ -f "$1/mods.cpio.gz" ] && [ -f "$1/mods-notls.cpio.gz" ] &&
		[ -f "$1/base.cpio.gz" ] && [ "$(cat "$1/modules" 2>/dev/null)" = "$(echo $MODS)" ]
}

# cached_or_skip CACHE WHY: offline, the newest complete cached kernel still serves.
cached_or_skip() {
	local d

	d=$(ls -d "$1"/*/ 2>/dev/null | sort -V | while read -r c; do
		is_complete "$c" && echo "${c%/}"
	done | tail -n 1 || true)
	[ -n "$d" ] || skip "$2"
	echo "build-vm: $2; using cached $(basename "$d")" >&2
	echo "VER=$(basename "$d") DIR=$d"
}

pick_cache() {
	local c=${KTLSGW_VM_CACHE:-/var/cache/ktlsgw-vm}

	if mkdir -p "$c" 2>/dev/null && [ -w "$c" ]; then
		echo "$c"
	else
		mkdir -p "${BUILD:-build}/vm" && (cd "${BUILD:-build}/vm" && pwd)
	fi
}

# fetch_kernel DIR PKG VER: the image and its module tree, unpacked under DIR/kroot.
fetch_kernel() {
	local dir=$1 pkg=$2 ver=$3 tmp

	tmp=$(mktemp -d)
	chmod 755 "$tmp"	# apt's _apt user must be able to write there
	if ! (cd "$tmp" && timeout 300 apt-get download -q "$pkg" >/dev/null 2>"$tmp/err"); then
		why="apt-get download $pkg failed: $(tail -n 1 "$tmp/err")"
		rm -rf "$tmp" "$dir"
		cached_or_skip "$(dirname "$dir")" "$why"
		exit 0
	fi
	rm -rf "$dir/kroot"
	dpkg -x "$tmp"/*.deb "$dir/kroot"
	rm -rf "$tmp"
	depmod -b "$dir/kroot" "$ver"
	cp "$dir/kroot/boot/vmlinuz-$ver" "$dir/vmlinuz"
}

# module_files DIR VER: every .ko the modules in $MODS need, dependencies first, once each.
module_files() {
	local dir=$1 ver=$2 m

	for m in $MODS; do
		modprobe -d "$dir/kroot" -S "$ver" -D "$m" 2>/dev/null || true
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# make_mods_cpio DIR VER OUT [EXCLUDE]: the module tree (minus EXCLUDE.ko) as a gzipped cpio.
make_mods_cpio() {
	local dir=$1 ver=$2 out=$3 exclude=${4:-} stage f rel

	stage=$(mktemp -d)
	mkdir -p "$stage/lib/modules/$ver"
	for f in $(module_files "$dir" "$ver"); do
		rel=${f#"$dir/kroot"}
		[ -n "$exclude" ] && [ "$(basename "$rel")" = "$exclude.ko" ] && continue
		mkdir -p "$stage$(dirname "$rel")"
		cp "$f" "$stage$rel"
	done
	cp "$dir/kroot/lib/modules/$ver"/modules.{order,builtin,builtin.modinfo} \
		"$stage/lib/modules/$ver/" 2>/dev/null || true
	depmod -b "$stage" "$ver"
	echo "$MODS" | tr -s ' \t\n' '\n' >"$stage/lib/modules/load.list"
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$stage"
}

# make_base_cpio OUT: busybox with every applet linked, /dev/console, the empty mount points.
make_base_cpio() {
	local out=$1 stage a

	command -v busybox >/dev/null || skip "busybox-static not installed"
	file -L "$(command -v busybox)" 2>/dev/null | grep -q 'statically linked' ||
		skip "busybox is not the static build (install busybox-static)"
	stage=$(mktemp -d)
	mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc,root,usr/bin,usr/sbin}
	cp "$(command -v busybox)" "$stage/bin/busybox"
	for a in $("$stage/bin/busybox" --list-full); do
		[ -e "$stage/$a" ] || ln -s /bin/busybox "$stage/$a"
	done
	mknod -m 600 "$stage/dev/console" c 5 1 || skip "mknod needs root (for /dev/console)"
	mknod -m 666 "$stage/dev/null" c 1 3
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$stage"
}

main() {
	local cache pkg ver dir

	for t in apt-cache apt-get dpkg depmod modprobe cpio gzip; do
		command -v "$t" >/dev/null || skip "$t not found"
	done
	cache=$(pick_cache)
	pkg=$(apt-cache depends "$META" 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }' || true)
	if [ -z "$pkg" ]; then
		cached_or_skip "$cache" "apt-cache knows no $META (apt-get update?)"
		return
	fi
	ver=${pkg#linux-image-}
	dir=$cache/$ver
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock -w 600 9 || skip "cache $dir is locked"
	if ! is_complete "$dir"; then
		[ -f "$dir/vmlinuz" ] && [ -d "$dir/kroot" ] || fetch_kernel "$dir" "$pkg" "$ver"
		make_mods_cpio "$dir" "$ver" "$dir/mods.cpio.gz"
		make_mods_cpio "$dir" "$ver" "$dir/mods-notls.cpio.gz" tls
		make_base_cpio "$dir/base.cpio.gz"
		echo $MODS >"$dir/modules"
		rm -rf "$dir/kroot"	# the cpios hold all we boot: 17 MB kept instead of 140
	fi
	echo "VER=$ver DIR=$dir"
}

main "$@"
