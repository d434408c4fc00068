#!/usr/bin/env bash
# Draws the README's figures again: runs the four shipped slice arms (CPU, about 3
# minutes each on 2 cores), compares them, and copies the pictures into docs/img/.
#
# Usage: bash docs/figures.sh [--redraw] [RUNS]
#   RUNS      where the runs go (default runs/figures)
#   --redraw  keep the runs in RUNS and only draw their pictures and the comparison again
#             (`infiltrate pictures`, `infiltrate compare`), e.g. after a change of style
#
# Copied: slice-combination-final.png (the combination arm's final.png),
# slice-{untreated,combination}-timelapse.png (composite time-lapses) and
# slice-compare-{metrics,composite,tcells,arms}.png (compare's metrics.png and final-*.png).
set -euo pipefail
cd "$(dirname "$0")/.."

redraw=false
if [ "${1:-}" = "--redraw" ]; then
    redraw=true
    shift
fi
runs=${1:-runs/figures}
cargo build --release --quiet
bin=target/release/infiltrate
arms=(untreated amd3100 anti_pd1 combination)
for arm in "${arms[@]}"; do
    if $redraw; then
        "$bin" pictures "$runs/slice-$arm"
    else
        "$bin" run "scenarios/slice/$arm.toml" --out "$runs/slice-$arm" --force
    fi
done
# T cells on a log scale: a range shared by arms whose densities differ tenfold (held in
# the lamellae untreated, spread through the tumour with AMD3100) shows both.
"$bin" compare "${arms[@]/#/$runs/slice-}" --out "$runs/compare" --scale log

img=docs/img
cp "$runs/slice-combination/pictures/final.png" "$img/slice-combination-final.png"
for arm in untreated combination; do
    cp "$runs/slice-$arm/pictures/timelapse-composite.png" "$img/slice-$arm-timelapse.png"
done
cp "$runs/compare/metrics.png" "$img/slice-compare-metrics.png"
for what in composite tcells arms; do
    cp "$runs/compare/final-$what.png" "$img/slice-compare-$what.png"
done
echo "figures: $img/slice-*.png (runs in $runs)"
