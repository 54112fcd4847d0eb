#!/usr/bin/env bash
# BSS-CFFMA on VoiceBank-DEMAND (16 kHz): data prep, training, enhancement, scoring.
#
#   ./run.sh                          stages 1-7 with conf/train.yaml (8, pack: --skip_pack false)
#   ./run.sh --stage 5 --stop_stage 7 --ngpu 1
#   ./run.sh --enh_config conf/tuning/train_bss_cffma_wav2vec2_large_pf.yaml
#   ./run.sh --ssl_ckpt /data/ckpt/WavLM-Large.pt      (offline: a local checkpoint)
#   ./run.sh --demo true              a small demo corpus and a tiny model, on CPU
#       --demo_size tiny|small|large --demo_voices many|asterisk
#       --demo_dir DIR --demo_speech DIR --demo_noise DIR --demo_n_train N --demo_n_test N
#       --demo_reverb_share 0.3 --demo_cache DIR
#   ./run.sh --demo true --demo_size large --expdir exp_large \
#       --enh_config conf/tuning/train_demo_large.yaml   (~2 h of audio; ~80 min on 2 CPU cores)
#
# Set the corpus path in db.sh (VOICEBANK). Options other than the ones below
# go to cffma.sh (./run.sh --help lists them all).
set -euo pipefail

train_set=train
valid_set=valid
test_sets="test"
enh_config=      # default: conf/train.yaml (demo: conf/tuning/train_demo.yaml)
expdir=exp
local_data_opts= # options for local/data.sh
run_options="enh_config expdir local_data_opts"

# --demo*, the settings above; the other options are left in cffma_args.
. scripts/utils/run_options.sh "$@"

if "${demo}"; then
  # The demo's richest training people get the ids p226 and p287: validate on
  # p287 only, so that p226 (and, with Asterisk's voices alone, all of its
  # training speech) is left for training.
  local_data_opts="--valid_speakers p287 ${local_data_opts}"
fi

./cffma.sh \
  --train_set "${train_set}" \
  --valid_set "${valid_set}" \
  --test_sets "${test_sets}" \
  --enh_config "${enh_config:-conf/train.yaml}" \
  --expdir "${expdir}" \
  --local_data_opts "${local_demo_opts} ${local_data_opts}" \
  --fs 16k \
  --ref_num 1 \
  "${cffma_demo_args[@]}" \
  "${cffma_args[@]}"
