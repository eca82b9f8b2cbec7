M=/work/wt/llamabench/build-llamacpp/model/SmolLM2-135M-Instruct.Q4_1-f32
D=/work/wt/llamabench/build-llamacpp/data/SmolLM2-135M-Instruct.Q4_1-kjv.h5
for r in 1 2 3; do
 for b in base new; do
  if [ $b = base ]; then BIN=/work/wt/cpugemv-base/build/indexcache; else BIN=/work/main/build/indexcache; fi
  rm -rf /tmp/abt_$b
  env -u OPENBLAS_CORETYPE OMP_NUM_THREADS=2 $BIN --cpu train --model $M --data $D --pattern uniform:4 --stage dense --loss multi --steps 8 --seq-len 512 --batch 1 --lr 3e-3 --topk 64 --eval-batches 0 --seed 0 --out /tmp/abt_$b 2>&1 | grep -E "mean|step +8/" | sed "s/^/$b r$r: /"
  uptime | sed "s/^/  load /"
 done
done
