#!/usr/bin/env bash
# CNUNet-TB-TS on VoiceBank-DEMAND: stage-1 model (causal nested U-Net + frozen
# SSL embeddings), then stage-2 model (same causal network without SSL, trained
# to reproduce the stage-1 bottleneck latents), each through ./run.sh (stages
# 1-7: data, training, enhancement, scoring; RESULTS.md per experiment with the
# noisy input's row).
#
#   local/run_cnunet_tb.sh                       paper sizes, WavLM Large
#   local/run_cnunet_tb.sh --ssl_ckpt /data/ckpt/WavLM-Large.pt --ngpu 1
#   local/run_cnunet_tb.sh --demo true           tiny models on the demo corpus (CPU)
#   local/run_cnunet_tb.sh --stage1_config conf/tuning/my_stage1.yaml \
#                          --stage2_config conf/tuning/my_stage2.yaml
#
# Options of this script: --stage1_config, --stage2_config, --teacher_model
# (the stage-1 checkpoint the teacher is loaded from), --from (1: both stages,
# 2: stage 2 only, with stage 1 trained already), --demo, --expdir. Every
# other option goes to both ./run.sh calls. The second call skips data
# preparation (it reuses the first call's data). Stage-2 options for
# enh_train go through --enh_args, which this script sets: do not pass one.
set -euo pipefail

stage1_config=
stage2_config=
teacher_model=valid.loss.best.pth
from=1
demo=false
expdir=exp

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stage1_config | --stage2_config | --teacher_model | --from | --demo | --expdir)
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "${1#--}" '%s' "$2"
      shift 2
      ;;
    --enh_args | --enh_config)
      echo "$0: $1 is set by this script (use --stage1_config/--stage2_config)" >&2
      exit 1
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done
case "${demo}" in true | false) ;; *) echo "$0: --demo takes true or false" >&2; exit 1 ;; esac
case "${from}" in 1 | 2) ;; *) echo "$0: --from takes 1 or 2" >&2; exit 1 ;; esac
if "${demo}"; then
  stage1_config=${stage1_config:-conf/tuning/train_cnunet_tb_demo_stage1.yaml}
  stage2_config=${stage2_config:-conf/tuning/train_cnunet_tb_demo_stage2.yaml}
else
  stage1_config=${stage1_config:-conf/tuning/train_cnunet_tb_stage1_wavlm_large.yaml}
  stage2_config=${stage2_config:-conf/tuning/train_cnunet_tb_stage2.yaml}
fi
for conf in "${stage1_config}" "${stage2_config}"; do
  [ -f "${conf}" ] || { echo "$0: config ${conf} not found" >&2; exit 1; }
done

stage1_exp=${expdir}/enh_$(basename "${stage1_config}" .yaml)
stage2_exp=${expdir}/enh_$(basename "${stage2_config}" .yaml)

if [ "${from}" = 1 ]; then
  echo "=== CNUNet-TB-TS stage 1: ${stage1_config} -> ${stage1_exp}"
  ./run.sh --demo "${demo}" --expdir "${expdir}" --enh_config "${stage1_config}" \
    "${args[@]}"
fi

for f in config.yaml "${teacher_model}"; do
  [ -f "${stage1_exp}/${f}" ] ||
    { echo "$0: ${stage1_exp}/${f} missing: train stage 1 first (--from 1)" >&2; exit 1; }
done
# Absolute paths: they are stored in the stage-2 config.yaml.
teacher_dir=$(cd "${stage1_exp}" && pwd)
echo "=== CNUNet-TB-TS stage 2: ${stage2_config} -> ${stage2_exp} (teacher ${teacher_dir})"
./run.sh --demo "${demo}" --expdir "${expdir}" --enh_config "${stage2_config}" \
  --skip_data_prep true \
  --enh_args "--separator_conf teacher_config=${teacher_dir}/config.yaml --separator_conf teacher_model_file=${teacher_dir}/${teacher_model}" \
  "${args[@]}"

echo "=== Stage 1 (${stage1_exp}/RESULTS.md)"
cat "${stage1_exp}/RESULTS.md"
echo "=== Stage 2, the deployed causal model (${stage2_exp}/RESULTS.md)"
cat "${stage2_exp}/RESULTS.md"
