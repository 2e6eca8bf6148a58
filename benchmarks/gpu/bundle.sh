#!/usr/bin/env bash
# Prepares a GPU run on a machine that has an NVIDIA GPU but no .NET: publishes the test suite and the benchmarks
# (framework-dependent, linux-x64) into .gpu-carry/apps.tar.xz and packs the .NET runtime they need beside it
# (.gpu-carry/ is git-ignored; about 48 MB in all: xz -9 stores the files both apps share once).
# Copy the repository with .gpu-carry/ to the GPU machine and run benchmarks/gpu/run.sh there.
#
#   benchmarks/gpu/bundle.sh            # from the repository root, on a machine with the .NET 10 SDK
set -euo pipefail
root=$(git rev-parse --show-toplevel)
carry=$root/.gpu-carry
dotnet_dir=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(ls "$dotnet_dir/shared/Microsoft.NETCore.App" | sort -V | tail -1)

rm -rf "$carry/tests" "$carry/bench"
mkdir -p "$carry"
for pair in tests:tests/FastCalib.Tests/FastCalib.Tests.csproj bench:benchmarks/FastCalib.Benchmarks/FastCalib.Benchmarks.csproj; do
  name=${pair%%:*}
  echo "publishing ${pair#*:} -> .gpu-carry/$name"
  dotnet publish "$root/${pair#*:}" -c Release -r linux-x64 --self-contained false \
    -p:DebugType=none -p:GenerateDocumentationFile=false -o "$carry/$name" > /dev/null
  find "$carry/$name" \( -name '*.pdb' -o -name '*.xml' \) -delete
done

tarball=$carry/dotnet-runtime-$runtime.tar.xz
if [ ! -e "$tarball" ]; then
  echo "packing the .NET runtime $runtime"
  rm -f "$carry"/dotnet-runtime-*.tar.xz
  tar -C "$dotnet_dir" -cf - dotnet "host/fxr/$runtime" "shared/Microsoft.NETCore.App/$runtime" | xz -T0 -6 > "$tarball"
fi
echo "packing the apps"
tar -C "$carry" -cf - tests bench | xz -T0 -9 > "$carry/apps.tar.xz"
rm -rf "$carry/tests" "$carry/bench"
du -sh "$carry"/*
