#!/usr/bin/env bash
# docs/results/tracker_recipe/specialist_checkpoints.sh RUN_DIR OUT_PREFIX: each checkpoint of a fast-specialist run
# as both trackers (tracker_path and fast_tracker_path) on the library's 16 clips from 0.55 m/s, copied to /tmp/fast16:
#   mkdir -p /tmp/fast16 && for c in walk_v055_l140 walk_v060_l140 walk_v060_l150 walk_v065_l150 walk_v065_l160 \
#     walk_v070_l150 walk_v070_l160 walk_v072_l160 walk_v072_l170 walk_v074_l165 walk_v075_l160 walk_v075_l170 \
#     walk_v076_l160 walk_v078_l170 walk_v080_l160 walk_v080_l170; do cp wildrobot_gym/assets/clips/$c.npz /tmp/fast16/; done
set -u
for ck in $1/checkpoints/step_*; do
  s=$(basename $ck); OUT=$2_$s
  sed -e "s#^  tracker_path: null #  tracker_path: $ck #" -e "s#^  fast_tracker_path: null #  fast_tracker_path: $ck #" configs/reference.yaml > /tmp/ref_ck.yaml
  python -m reference.generate --config /tmp/ref_ck.yaml --input-dir /tmp/fast16 --adapt never --output-dir "$OUT" --workers 2 > "$OUT.log" 2>&1
  python - "$OUT" $s <<'PY'
import json, sys
w = json.load(open(sys.argv[1] + "/analysis.json"))["walking"]
print(sys.argv[2], "walking", round(w["walking_seconds"], 1), {k: round(v, 1) for k, v in w["seconds_by_speed_band"].items()},
      "DS", {k: round(v, 3) for k, v in w["double_support_by_speed_band"].items()}, "ratio", round(w["speed_ratio_mean"], 3), flush=True)
PY
done
