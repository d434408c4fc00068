#!/bin/bash
# One prepared run on a lent GPU machine (the `device` tool; no Vulkan loader, Rust or
# network there): the GPU tests on the GPU, `infiltrate bench` at 256³ and 512³
# (kernels against a vec4 copy, among them a chem pass of one chemical and one of three
# fused, the cell step, and the unit step fused and not; a snapshot reduced on the device
# against one read back; the CPU solver on the same grid), quick.toml on both backends,
# the in-vivo combination arm on the GPU (dispatch-bound), and a 1024³ run through the
# driver. Results go to $OUT. About 6–7 minutes on an H200.
#
# Prepare here (once per checkout: the .deb files of ../shared/GPU.md in .gl/, and
# /.gl/ and /.devbin/ in .git/info/exclude):
#   cargo build --release && cargo test --release --no-run --test gpu
#   mkdir -p .devbin && strip -o .devbin/infiltrate target/release/infiltrate
#   strip -o .devbin/gpu-tests $(ls -t target/release/deps/gpu-* | grep -v '\.d$' | head -1)
# then call the device tool with carry [".gl", ".devbin"] and the command
#   bash benches/device.sh
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done >/dev/null 2>&1; ldconfig
B=$PWD/.devbin
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nproc; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$B/infiltrate" adapters > "$OUT/adapters.txt" 2>&1
if ! grep -q NVIDIA "$OUT/adapters.txt"; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  "$B/infiltrate" adapters > "$OUT/adapters.txt" 2>&1
fi
head -12 "$OUT/adapters.txt"
# The GPU tests run the binary at its cargo path.
mkdir -p target/release && cp "$B/infiltrate" target/release/infiltrate
t=$(date +%s)
timeout 150 "$B/gpu-tests" --test-threads 4 > "$OUT/gpu_tests.txt" 2>&1
echo "gpu tests rc=$? in $(( $(date +%s) - t )) s"
grep -E "test result|FAILED|panicked" "$OUT/gpu_tests.txt"
t=$(date +%s)
timeout 200 "$B/infiltrate" bench --sizes 256,512 --backend vulkan --reps 50 --rounds 5 \
  --cpu-max-voxels 20000000 --json "$OUT/bench.json" > "$OUT/bench.txt" 2>&1
echo "bench rc=$? in $(( $(date +%s) - t )) s"; cat "$OUT/bench.txt"
for b in vulkan cpu; do
  t=$(date +%s%N)
  timeout 60 "$B/infiltrate" run scenarios/quick.toml --backend $b --out /tmp/q_$b --force --quiet
  echo "quick.toml $b rc=$? wall $(( ($(date +%s%N) - t) / 1000000 )) ms"
  cp /tmp/q_$b/metrics.csv "$OUT/quick_$b.csv" 2>/dev/null
done
# The in-vivo combination arm, AMD3100 stepped explicitly (84 sub-steps per cell step on
# 15,360 voxels): bound by dispatches, 8.0 s on an H200 on 2026-11-26.
t=$(date +%s%N)
timeout 90 "$B/infiltrate" run scenarios/flc/combination.toml --backend vulkan \
  --out /tmp/flc_comb --force --quiet --no-vti
echo "flc/combination.toml vulkan rc=$? wall $(( ($(date +%s%N) - t) / 1000000 )) ms"
cp /tmp/flc_comb/metrics.csv "$OUT/flc_combination_vulkan.csv" 2>/dev/null
# 1024³: a few cell steps with anti-PD-1 in the bath, snapshots at 0 and 6 min, no
# ParaView file (it would read every field back).
cat > /tmp/big1024.toml <<'TOML'
name = "1024^3 slice, anti-PD-1"
[grid]
nx = 1024
ny = 1024
nz = 1024
voxel_um = 10.0
[time]
burn_in_h = 0.0
duration_h = 0.1
snapshot_every_h = 0.1
[geometry]
kind = "slice"
[geometry.slice]
thickness_um = 10240.0
[numerics]
quasi_steady = ["amd3100"]
[[treatment]]
drug = "anti_pd1"
route = "bath"
level_nM = 68.5
[output]
vti = false
TOML
/usr/bin/time -v timeout 240 "$B/infiltrate" run /tmp/big1024.toml --backend vulkan \
  --out /tmp/big --force > "$OUT/big1024.txt" 2>&1
echo "1024³ rc=$?"; grep -E "backend|done|ratio|Elapsed|Maximum resident" "$OUT/big1024.txt"
cp /tmp/big/summary.json "$OUT/big1024-summary.json" 2>/dev/null
