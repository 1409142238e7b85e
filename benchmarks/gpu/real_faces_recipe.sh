#!/usr/bin/env bash
# The real-face recipe of demo_model/make_demo_model.sh with more data and compute, for one GPU
# call of the device tool (benchmarks/results/real_faces.md, "On a GPU"): the base training-step
# benchmark, then the task with 48 draws per photo, pre-training 8 epochs at batch 256 and
# fine-tuning at batch 128, lr 3e-3, bf16, for as many epochs as the time left allows (sized by
# benchmarks/gpu/step_rate.py), at depth 6 (the shipped architecture, A) and depth 12 (B), side by
# side. Needs: $OUT (results), the wheels of the packages the GPU image lacks in .whl/, and
# MTCNN's detections of the CelebA photos in $DETECTIONS (the detections.json of a local
# `python -m ffdetect.synthesis.real_faces build`), as the image has no MTCNN.
# Run from the repository root: bash benchmarks/gpu/real_faces_recipe.sh. BUDGET (s, default
# 500), VARIANTS, PHOTOS, PRE_EPOCHS, PROBE_STEPS, NTRAIN, BENCH_ARGS and SKIP_PIP shrink it for
# a dry run on a CPU.
set -u
export PYTHONUNBUFFERED=1
END=$((SECONDS + ${BUDGET:-500}))
W=/tmp/w
mkdir -p $W/data
exec > >(tee -a "$OUT/log.txt") 2>&1
t() { echo "[t=${SECONDS}s] $*"; }
[ -n "${SKIP_PIP:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src
nvidia-smi -L
python3 -c "import torch,timm,albumentations,cv2,numpy;print(torch.__version__,timm.__version__,albumentations.__version__,cv2.__version__,numpy.__version__,torch.cuda.is_available())" || exit 1
FF="python3 -m ffdetect.cli"
t bench+build
(timeout 150 python3 benchmarks/training.py ${BENCH_ARGS:---size base --img-size 224 --batch 32 --repeats 15} > $W/bench.log 2>&1; echo "bench rc $?" >> $W/bench.log; cp benchmarks/results/training.md $OUT/training_gpu.md) &
BENCH=$!
cp "${DETECTIONS:-.gpu/carry/detections.json}" $W/data/
timeout 200 python3 -m ffdetect.synthesis.real_faces build $W/data --variants ${VARIANTS:-48} --workers 12 ${PHOTOS:+--photos $PHOTOS} || exit 1
t built; wait $BENCH; tail -25 $W/bench.log
t pretrain
PIDS=()
PRE="data.batch_size=256 data.num_workers=6 optim.lr=2e-3 schedule.epochs=${PRE_EPOCHS:-8} run.amp=true run.log_every=50"
for r in A:6 B:12; do
  n=${r%%:*}; d=${r##*:}
  timeout 200 $FF pretrain --config demo_model/pretrain-config.yaml --data $W/data --out $W/pre$n $PRE model.depth=$d > $W/pre$n.log 2>&1 &
  PIDS+=($!)
done
wait "${PIDS[@]}"; tail -n 3 $W/preA.log $W/preB.log; ls $W/preA/model $W/preB/model || exit 1
t probe
FT="data.batch_size=128 data.eval_batch_size=512 data.num_workers=6 optim.lr=3e-3 run.amp=true run.log_every=20"
python3 benchmarks/gpu/step_rate.py "{\"A\": [\"data.batch_size=128\", \"run.amp=true\"], \"B\": [\"data.batch_size=128\", \"run.amp=true\", \"model.depth=12\"]}" ${PROBE_STEPS:-20} | tee $W/probe.txt
LEFT=$((END - SECONDS - 50))
read EA EB < <(python3 -c "
import json; r=json.loads(open('$W/probe.txt').read().splitlines()[-1]); n=${NTRAIN:-82944}; left=$LEFT
print(*[max(2, min(40, int(left / (n / (0.5 * r[k]) + 8)))) for k in 'AB'])")
PIDS=()
t "fine-tune: A $EA epochs, B $EB epochs, $LEFT s left"
for r in A:6:$EA B:12:$EB; do
  IFS=: read n d e <<< "$r"
  timeout $LEFT $FF train --config demo_model/train-config.yaml --data $W/data --init $W/pre$n/model --out $W/run$n $FT model.depth=$d schedule.epochs=$e > $W/run$n.log 2>&1 &
  PIDS+=($!)
done
wait "${PIDS[@]}"; t trained
for n in A B; do
  R=$W/run$n
  [ -d $R/model ] || cp -r $R/best $R/model
  $FF calibrate --model $R/model --results $R/val_results.csv --gamma 0 --target-fpr 0.05
  cat $R/epochs.csv; tail -2 $W/run$n.log
  tar cf - -C $R model epochs.csv log.csv val_results.csv config.yaml -C $W pre$n.log run$n.log 2>/dev/null | split -b 15m - $OUT/$n.tar.
done
cp $W/bench.log $W/probe.txt $OUT/ 2>/dev/null
ls -la $OUT; t done
