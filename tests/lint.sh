#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tree rules from the house style that a machine can check: no source file
# over 800 lines, an SPDX line on every source file, no unbounded string
# functions, no "if (p) free(p)".
set -u
cd "$(dirname "$0")/.."
files=$(git ls-files -co --exclude-standard -- 'src/*.c' 'include/*.h' 'bpf/*.c' 'bpf/*.h' \
	'tests/*.c' 'tests/*.h' 'bench/*.c' 'bench/*.h')

check() {	# NAME OFFENDERS
	if [ -z "$2" ]; then echo "PASS lint/$1"; else echo "FAIL lint/$1: $2"; fi
}

long=$(for f in $files; do n=$(wc -l <"$f"); [ "$n" -gt 800 ] && echo "$f($n)"; done | tr '\n' ' ')
check file-size-max-800 "$long"
nospdx=$(for f in $files; do head -n 2 "$f" | grep -q SPDX-License-Identifier || echo "$f"; done | tr '\n' ' ')
check spdx-header "$nospdx"
unsafe=$(grep -lE '\b(strcpy|strcat|sprintf|gets)\s*\(' $files 2>/dev/null | tr '\n' ' ')
check no-unbounded-string-functions "$unsafe"
guarded=$(grep -nE 'if \(([a-z_>.-]+)\)\s*free\(\1\)' $files 2>/dev/null | cut -d: -f1-2 | tr '\n' ' ')
check no-guarded-free "$guarded"
