#!/usr/bin/env bash
# Before/after CPU benchmarks of a change, on the same machine in the same hour: builds the benchmarks at a base
# revision (in a temporary git worktree) and at the working tree, then runs the same BenchmarkDotNet filter on each
# in turn, alternating (base, new, base, new, ...), so that the machine's drift hits both sides alike.
#   benchmarks/compare.sh BASE_REV [ROUNDS] [FILTER...]
# Results: one folder per run under benchmarks/compare-out/ (BenchmarkDotNet's CSV and markdown), and a table of
# the mean (BenchmarkDotNet's, median over rounds) of each benchmark per side and the ratio new/base, printed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${1:?usage: benchmarks/compare.sh BASE_REV [ROUNDS] [FILTER...]}
rounds=${2:-2}
shift $(( $# >= 2 ? 2 : 1 ))
filters=("$@")
[ ${#filters[@]} -eq 0 ] && filters=('*Simd*' '*LogitsAllCores*' '*InPlaceAllCores*' '*Temperature*' '*Copy*')
out="$root/benchmarks/compare-out"
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add --detach "$work/base" "$base" >/dev/null
build() { dotnet build "$1/benchmarks/FastCalib.Benchmarks" -c Release -o "$2" >"$2.log" 2>&1 || { tail -20 "$2.log"; exit 1; }; }
build "$work/base" "$work/bin-base"
build "$root" "$work/bin-new"
rm -rf "$out"; mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for side in base new; do
    echo "round $r: $side"
    # BenchmarkDotNet rebuilds the benchmark project it finds under the current folder: run each side from its own tree
    tree=$([ "$side" = base ] && echo "$work/base" || echo "$root")
    (cd "$tree" && dotnet "$work/bin-$side/FastCalib.Benchmarks.dll" --filter "${filters[@]}" --artifacts "$out/$side-$r" >"$out/$side-$r.log" 2>&1) \
      || { tail -20 "$out/$side-$r.log"; exit 1; }
  done
done
python3 - "$out" <<'PY'
import csv, glob, os, statistics, sys
out = sys.argv[1]
def load(side):
    runs = {}
    for f in glob.glob(f"{out}/{side}-*/results/*-report.csv"):
        for row in csv.DictReader(open(f)):
            key = (os.path.basename(f).replace('-report.csv', '').split('.')[-1], row.get('Method', ''), row.get('Shape', '') or row.get('Case', ''))
            v = row['Mean'].replace(',', '')
            unit = v.split()[-1]
            ms = float(v.split()[0]) * {'ns': 1e-6, 'us': 1e-3, 'μs': 1e-3, 'ms': 1, 's': 1000}[unit]
            runs.setdefault(key, []).append(ms)
    return {k: statistics.median(v) for k, v in runs.items()}
b, n = load('base'), load('new')
print(f"{'benchmark':70} {'base ms':>10} {'new ms':>10} {'new/base':>9}")
for k in sorted(b):
    if k in n:
        print(f"{' '.join(x for x in k if x):70} {b[k]:10.3f} {n[k]:10.3f} {n[k] / b[k]:9.3f}")
PY
