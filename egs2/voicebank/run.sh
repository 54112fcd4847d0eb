#!/usr/bin/env bash
# BSS-CFFMA on VoiceBank-DEMAND (16 kHz): data prep, training, enhancement, scoring.
#
#   ./run.sh                          all stages (1-7) with conf/train.yaml
#   ./run.sh --stage 5 --stop_stage 7 --ngpu 1
#   ./run.sh --enh_config conf/tuning/train_bss_cffma_wav2vec2_large_pf.yaml
#   ./run.sh --ssl_ckpt /data/ckpt/WavLM-Large.pt      (offline: a local checkpoint)
#   ./run.sh --demo true              a small demo corpus and a tiny model, on CPU
#
# Set the corpus path in db.sh (VOICEBANK). Options other than the --demo* ones
# below go to cffma.sh (./cffma.sh --help lists them).
set -euo pipefail

train_set=train
valid_set=valid
test_sets="test"
enh_config=conf/train.yaml

# Demo mode: corpus built by espnet_cffma.demo.voicebank, random-weight SSL upstream.
demo=false
demo_dir=demo_corpus/voicebank  # where the demo corpus is written
demo_speech=                    # a folder of your own speech recordings (optional)
demo_n_train=                   # demo corpus size (default: the builder's)
demo_n_test=
demo_cache=                     # cache of the demo's downloaded sources

# Take out this script's own options; everything else goes to cffma.sh.
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --demo | --demo_dir | --demo_speech | --demo_n_train | --demo_n_test | --demo_cache)
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "${1#--}" '%s' "$2"
      shift 2
      ;;
    --enh_config)
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      enh_config=$2
      shift 2
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done
case "${demo}" in true | false) ;; *) echo "$0: --demo takes true or false" >&2; exit 1 ;; esac

demo_args=()
if "${demo}"; then
  # Find --expdir among the passed options: the demo checkpoint lives there.
  expdir=exp
  for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[i]}" = --expdir ] && expdir=${args[i + 1]}
  done
  # The demo's default speech has two training voices, which get the ids p226 and
  # p287: validate on p287 only, so that p226 is left for training.
  data_opts="--demo true --demo_dir ${demo_dir} --valid_speakers p287"
  [ -n "${demo_speech}" ] && data_opts+=" --demo_speech ${demo_speech}"
  [ -n "${demo_n_train}" ] && data_opts+=" --demo_n_train ${demo_n_train}"
  [ -n "${demo_n_test}" ] && data_opts+=" --demo_n_test ${demo_n_test}"
  [ -n "${demo_cache}" ] && data_opts+=" --demo_cache ${demo_cache}"
  if [ "${enh_config}" = conf/train.yaml ]; then
    enh_config=conf/tuning/train_demo.yaml
  fi
  demo_args=(
    --local_data_opts "${data_opts}"
    --ssl_ckpt "${expdir}/ssl/demo_wavlm_random.pt"
    --ssl_random_init true
    --ngpu 0
    --nj 2
    --inference_nj 2
  )
fi

./cffma.sh \
  --train_set "${train_set}" \
  --valid_set "${valid_set}" \
  --test_sets "${test_sets}" \
  --enh_config "${enh_config}" \
  --fs 16k \
  --ref_num 1 \
  "${demo_args[@]}" \
  "${args[@]}"
