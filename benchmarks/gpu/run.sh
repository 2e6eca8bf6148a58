#!/usr/bin/env bash
# Runs on the GPU machine (after benchmarks/gpu/bundle.sh, from the repository root): the whole test suite with the
# CUDA accelerator (it fails if no CUDA device is found), the GPU report of every kernel, and the PyTorch reference
# timings. Results go to $OUT (default gpu-results/).
#
#   benchmarks/gpu/run.sh [tests] [report] [torch]     # default: all three; extra args after -- go to the report
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
carry=$root/.gpu-carry
apps=${APPS_DIR:-/tmp/fastcalib-apps}
out=${OUT:-$root/gpu-results}
mkdir -p "$out"
steps=("$@"); [ ${#steps[@]} -eq 0 ] && steps=(tests report torch)

# the runtime, unpacked once
export DOTNET_ROOT=${DOTNET_ROOT:-/tmp/fastcalib-dotnet}
if [ ! -x "$DOTNET_ROOT/dotnet" ]; then
  mkdir -p "$DOTNET_ROOT"
  tar -C "$DOTNET_ROOT" -xJf "$(ls "$carry"/dotnet-runtime-*.tar.xz | head -1)"
fi
# the apps, unpacked on every run (they change between runs)
rm -rf "$apps" && mkdir -p "$apps" && tar -C "$apps" -xJf "$carry/apps.tar.xz"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ILGPU loads the driver as "libcuda.so"; driver-only installs may ship just libcuda.so.1
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so '; then
  driver=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
  for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64; do
    [ -z "$driver" ] && [ -e "$d/libcuda.so.1" ] && driver=$d/libcuda.so.1
  done
  if [ -n "$driver" ]; then
    mkdir -p /tmp/fastcalib-libs && ln -sf "$driver" /tmp/fastcalib-libs/libcuda.so
    export LD_LIBRARY_PATH=/tmp/fastcalib-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$out/device.txt" 2>&1

status=0
for step in "${steps[@]}"; do
  case $step in
    tests)  # the package test needs the SDK: left out here
      timeout "${TESTS_TIMEOUT:-1200}" "$DOTNET_ROOT/dotnet" "$apps/tests/FastCalib.Tests.dll" --require-cuda --exclude PackageConsumerTests 2>&1 | tee "$out/tests.txt"
      [ "${PIPESTATUS[0]}" -eq 0 ] || status=1 ;;
    report)
      timeout "${REPORT_TIMEOUT:-600}" "$DOTNET_ROOT/dotnet" "$apps/bench/FastCalib.Benchmarks.dll" gpu ${REPORT_ARGS:-} 2>&1 | tee "$out/report.md"
      [ "${PIPESTATUS[0]}" -eq 0 ] || status=1 ;;
    torch)
      timeout "${TORCH_TIMEOUT:-600}" python3 "$root/benchmarks/gpu/torch_reference.py" ${TORCH_ARGS:-} 2>&1 | tee "$out/torch.md"
      [ "${PIPESTATUS[0]}" -eq 0 ] || status=1 ;;
    *) echo "unknown step $step (tests, report, torch)"; status=2 ;;
  esac
done
exit $status
