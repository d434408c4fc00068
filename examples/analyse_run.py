"""Reads one infiltrate run and draws a figure of it.

    python examples/analyse_run.py RUN_DIR FIGURE.png

RUN_DIR is a run's folder written with arrays on (`[output] arrays = true`, or
`infiltrate run --arrays-every 6h`). Loads metrics.csv, profile.csv and summary.json
(pandas, json) and arrays.zarr (xarray), prints a few numbers, recomputing two of
metrics.csv's readouts from the arrays, and saves a figure: the infiltration ratio over
time beside the T cells in the middle z plane at the last time of the arrays.
Needs pandas, xarray, zarr (3.x) and matplotlib.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

STROMA = 3  # the `class` array's code of stroma (its flag_meanings attribute)

run, figure = Path(sys.argv[1]), Path(sys.argv[2])
metrics = pd.read_csv(run / "metrics.csv")
profile = pd.read_csv(run / "profile.csv")
summary = json.loads((run / "summary.json").read_text())
arrays = xr.open_zarr(run / "arrays.zarr", consolidated=False)

# The last snapshot of the arrays, and metrics.csv's row at the same time.
last = arrays.isel(time=-1)
t_h = float(last.time_h)
row = metrics.loc[(metrics.time_h - t_h).abs().idxmin()]
tcells = last.tcells_per_mm3.values.astype(np.float64)  # (z, y, x), cells/mm³
cls = arrays["class"].values
voxel_mm3 = (arrays.attrs["voxel_um"] * 1e-3) ** 3

print(f"run: {summary['run']['name']}, {len(metrics)} snapshots to {metrics.time_h.iloc[-1]:g} h")
print(f"final infiltration ratio (metrics.csv): {summary['final']['infiltration_ratio']:.4f}")
n = arrays.sizes
print(f"arrays: {n['time']} times of {n['z']} × {n['y']} × {n['x']} voxels (z, y, x)")
print(f"T cells at {t_h:g} h, metrics.csv: {row.t_total_cells:.5g} cells")
print(f"T cells at {t_h:g} h, arrays:      {tcells.sum() * voxel_mm3:.5g} cells")
print(f"mean T in stroma at {t_h:g} h, metrics.csv: {row.t_stroma_per_mm3:.5g} cells/mm³")
print(f"mean T in stroma at {t_h:g} h, arrays:      {tcells[cls == STROMA].mean():.5g} cells/mm³")
print(f"T-cell profile: {profile.distance_lo_um.nunique()} distance bins")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.plot(metrics.time_h, metrics.infiltration_ratio, marker="o")
left.set_xlabel("time (h)")
left.set_ylabel("infiltration ratio (core / margin)")
left.set_title(summary["run"]["name"])
z = arrays.sizes["z"] // 2
plane = last.tcells_per_mm3.isel(z=z)
image = right.pcolormesh(arrays.x_um, arrays.y_um, plane, cmap="magma", shading="nearest")
right.set_aspect("equal")
right.invert_yaxis()  # y = 0 at the top, as infiltrate's pictures and image viewers show it
right.set_xlabel("x (µm)")
right.set_ylabel("y (µm)")
right.set_title(f"T cells at z = {float(arrays.z_um[z]):g} µm, {t_h:g} h")
fig.colorbar(image, ax=right, label="T cells (cells/mm³)")
fig.savefig(figure, dpi=100)
print(f"figure: {figure.name}")
