#!/bin/sh
# SPDX-License-Identifier: MIT
# Helm post-renderer: reads the rendered chart on stdin, adds the ktlsgw
# sidecar to the Milvus proxy Deployment with kustomize, writes the result.
# Needs `kustomize` or `kubectl` (>= 1.21, for kustomize `patches` targets).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/rendered.yaml"
cp "$here/kustomization.yaml" "$here/sidecar-patch.yaml" "$tmp/"
if command -v kustomize >/dev/null 2>&1; then
	kustomize build "$tmp"
else
	kubectl kustomize "$tmp"
fi
