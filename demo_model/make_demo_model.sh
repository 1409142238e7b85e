#!/usr/bin/env bash
# Makes demo_model/model, the model `make demo` uses, with the project's own commands:
# build the demo task, pre-train a tiny backbone on its real faces (masked image modelling),
# fine-tune it with the competitive two-branch recipe, calibrate on the validation videos.
# Needs the set-up of `make install` (the photos of the insightface wheel). The exact
# configurations are demo_model/pretrain-config.yaml and demo_model/train-config.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
WORK=${WORK:-$(mktemp -d)}
DATA="$WORK/data"
PRE="$WORK/pretrain"
RUN="$WORK/run"

STEPS=(
  "$BIN/python -m ffdetect.inference.demo_task build $DATA"
  "$BIN/ffdetect pretrain --config demo_model/pretrain-config.yaml --data $DATA --out $PRE"
  "$BIN/ffdetect train --config demo_model/train-config.yaml --data $DATA --init $PRE/model --out $RUN"
  "$BIN/ffdetect calibrate --model $RUN/model --results $RUN/val_results.csv"
)
for step in "${STEPS[@]}"; do
  echo "+ $step"
  $step
done
rm -rf demo_model/model.new
cp -r "$RUN/model" demo_model/model.new
"$BIN/python" -m ffdetect.inference.demo_task record demo_model/model.new "${STEPS[@]}"
rm -rf demo_model/model
mv demo_model/model.new demo_model/model
echo "wrote demo_model/model"
