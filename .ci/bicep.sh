#!/usr/bin/env bash
# Obtains the real Bicep CLI and builds and lints every .bicep file under bicep/ with zero
# errors and zero warnings. Idempotent, and able to start from nothing:
#   1. `bicep` on PATH, or the copy `az bicep install` keeps in ~/.azure/bin;
#   2. otherwise the NuGet package Azure.Bicep.CommandLine.linux-x64, restored with the .NET
#      SDK from the machine's configured package sources into a cache outside the repo
#      (SIS_BICEP_CACHE, default ~/.cache/sis-bicep).
# Usage: .ci/bicep.sh            build + lint
#        .ci/bicep.sh --path     only obtain the CLI and print its path (used by the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${SIS_BICEP_VERSION:-0.49.2}"
cache="${SIS_BICEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sis-bicep}"

find_bicep() {
  if command -v bicep >/dev/null 2>&1; then
    command -v bicep
    return
  fi
  if [ -x "$HOME/.azure/bin/bicep" ]; then
    echo "$HOME/.azure/bin/bicep"
    return
  fi
  local cached="$cache/$version/bicep"
  if [ -x "$cached" ] && "$cached" --version >/dev/null 2>&1; then
    echo "$cached"
    return
  fi
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "bicep.sh: no bicep, no az bicep and no dotnet to fetch Azure.Bicep.CommandLine with" >&2
    return 1
  fi
  echo "bicep.sh: restoring Azure.Bicep.CommandLine.linux-x64 $version into $cache" >&2
  local work
  work="$(mktemp -d)"
  # A throwaway project whose only job is to download the package.
  cat >"$work/fetch.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net$(dotnet --version | cut -d. -f1-2)</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$version]" />
  </ItemGroup>
</Project>
XML
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
    dotnet restore "$work/fetch.csproj" --packages "$work/packages" >&2
  local tool="$work/packages/azure.bicep.commandline.linux-x64/$version/tools/bicep"
  if [ ! -f "$tool" ]; then
    echo "bicep.sh: the package has no tools/bicep" >&2
    rm -rf "$work"
    return 1
  fi
  mkdir -p "$cache/$version"
  # Copy then rename, so a concurrent run never sees half a binary.
  cp "$tool" "$cache/$version/bicep.partial.$$"
  chmod +x "$cache/$version/bicep.partial.$$"
  mv -f "$cache/$version/bicep.partial.$$" "$cached"
  rm -rf "$work"
  "$cached" --version >&2
  echo "$cached"
}

cli="$(find_bicep)"
if [ "${1:-}" = "--path" ]; then
  echo "$cli"
  exit 0
fi

echo "Bicep: $("$cli" --version)"
status=0
out="$(mktemp -d)"
count=0
while IFS= read -r -d '' file; do
  count=$((count + 1))
  for command in build lint; do
    if [ "$command" = build ]; then
      args=(build "$file" --outdir "$out")
    else
      args=(lint "$file")
    fi
    log="$("$cli" "${args[@]}" 2>&1)" || status=1
    if [ -n "$log" ]; then
      # Any diagnostic (error, warning or info) fails the step.
      echo "$log"
      status=1
    fi
  done
done < <(find bicep -name '*.bicep' -print0 | sort -z)
rm -rf "$out"
if [ "$count" -eq 0 ]; then
  echo "bicep.sh: no .bicep files found" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "bicep: build/lint of $count files FAILED" >&2
  exit 1
fi
echo "bicep: $count files built and linted: 0 errors, 0 warnings"
