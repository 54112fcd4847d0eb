#!/usr/bin/env bash
# MIA-SE on VoiceBank-DEMAND: train a denoiser from the NOISY training files and a
# pool of noise-only recordings (IDDP, no clean training speech read), compared with
# supervised and Noise2Noise training of the same network, loss, data and epochs;
# all scored on the clean test set. Run from egs2/voicebank:
#
#   local/run_mia_se.sh --noise_dir /data/noise_only          a real run (set db.sh)
#   local/run_mia_se.sh --demo true                           demo corpus, tiny models, CPU
#   local/run_mia_se.sh --demo true --demo_size large --datadir data_large \
#       --dumpdir dump_large --expdir exp_large/mia_se        large demo corpus, ~1 h per method
#   local/run_mia_se.sh --methods iddp                        only the noisy-only model
#
# The IDDP experiment's data dirs (data/{train,valid}_noisy_only) hold wav.scp and
# speaker maps only, so stages 2-5 never open a clean training file; its validation
# loss is the self-supervised one. Noise2Noise needs the clean speech to synthesise a
# second noisy copy (data/{train,valid}_n2n; spk1.scp = that copy). Results:
# ${expdir}/RESULTS.md (noisy input, IDDP, supervised, Noise2Noise on the test set).
set -euo pipefail

demo=false
demo_size=small          # demo corpus preset: tiny, small or large (local/data.sh)
demo_dir=                # default: demo_corpus/voicebank (small), else demo_corpus/voicebank_<size>
demo_cache=              # cache of the demo's downloaded sources
demo_n_train=            # demo corpus size (default: the builder's)
demo_n_test=
noise_dir=               # folder of noise-only recordings (real runs)
noise_pool=              # or: an existing noise_pool.scp
methods="iddp supervised noise2noise"
datadir=data
dumpdir=dump
expdir=exp/mia_se
conf_prefix=             # default: conf/tuning/train_mia_se_ (demo: ..._demo_, large demo: ..._demo_large_)
enh_args=                # extra enh_train options for every method, e.g. "--max_epoch 3"
ngpu=1
nj=4

help_message="Usage: local/run_mia_se.sh [--demo true --demo_size tiny|small|large --demo_n_train N --demo_n_test N] [--noise_dir DIR | --noise_pool SCP]
    [--methods 'iddp supervised noise2noise'] [--expdir exp/mia_se] [--enh_args '...']
    [--ngpu 1] [--nj 4]"
. utils/parse_options.sh
. ./path.sh
. scripts/utils/lib.sh
python=${CFFMA_PYTHON:-python}

data_opts=
if "${demo}"; then
  case "${demo_size}" in
    minimal) demo_size=tiny ;;
    default) demo_size=small ;;
    tiny | small | large) ;;
    *) die "--demo_size takes tiny, small or large, got '${demo_size}'" ;;
  esac
  if [ -z "${demo_dir}" ]; then
    demo_dir=demo_corpus/voicebank
    [ "${demo_size}" = small ] || demo_dir+="_${demo_size}"
  fi
  data_opts="--demo true --demo_size ${demo_size} --demo_dir ${demo_dir} --valid_speakers p287"
  [ -n "${demo_cache}" ] && data_opts+=" --demo_cache ${demo_cache}"
  [ -n "${demo_n_train}" ] && data_opts+=" --demo_n_train ${demo_n_train}"
  [ -n "${demo_n_test}" ] && data_opts+=" --demo_n_test ${demo_n_test}"
  if [ "${demo_size}" = large ]; then
    conf_prefix=${conf_prefix:-conf/tuning/train_mia_se_demo_large_}
  else
    conf_prefix=${conf_prefix:-conf/tuning/train_mia_se_demo_}
  fi
  ngpu=0
  nj=2
fi
conf_prefix=${conf_prefix:-conf/tuning/train_mia_se_}

common=(--datadir "${datadir}" --dumpdir "${dumpdir}" --expdir "${expdir}" --fs 16k
  --test_sets test --score_sets test --ngpu "${ngpu}" --nj "${nj}" --inference_nj "${nj}")

# 1. Data dirs (lists only: local/data.sh opens no audio of the real corpus).
./cffma.sh "${common[@]}" --stage 1 --stop_stage 1 --train_set train --valid_set valid \
  --enh_config "${conf_prefix}iddp.yaml" --local_data_opts "${data_opts}"

# 2. The noise pool (noise-only recordings of the target noise type).
if [ -z "${noise_pool}" ]; then
  pool_opts=(--out "${datadir}/noise_pool" --fs 16000)
  if "${demo}"; then
    # The training share of the demo's noise sources (the test noises stay held out).
    pool_opts+=(--demo)
    [ -n "${demo_cache}" ] && pool_opts+=(--cache_dir "${demo_cache}")
  else
    [ -n "${noise_dir}" ] || die "give --noise_dir DIR (noise-only recordings) or --noise_pool SCP"
    pool_opts+=(--noise_dir "${noise_dir}")
  fi
  noise_pool=$(${python} -m espnet_cffma.recipe.mia_se_data noise_pool "${pool_opts[@]}")
fi
[ -f "${noise_pool}" ] || die "noise pool list not found: ${noise_pool}"
log "Noise pool: ${noise_pool} ($(wc -l <"${noise_pool}") recordings)"

entries=()
for method in ${methods}; do
  case "${method}" in
    iddp)
      for dset in train valid; do
        ${python} -m espnet_cffma.recipe.mia_se_data noisy_only \
          --src "${datadir}/${dset}" --dst "${datadir}/${dset}_noisy_only"
      done
      sets=(--train_set train_noisy_only --valid_set valid_noisy_only --ref_num 0)
      args="--enh_model_conf noise_pool=$(cd "$(dirname "${noise_pool}")" && pwd)/$(basename "${noise_pool}") ${enh_args}"
      ;;
    supervised)
      sets=(--train_set train --valid_set valid --ref_num 1)
      args=${enh_args}
      ;;
    noise2noise)
      for dset in train valid; do
        ${python} -m espnet_cffma.recipe.mia_se_data noise2noise --src "${datadir}/${dset}" \
          --dst "${datadir}/${dset}_n2n" --noise_pool "${noise_pool}"
      done
      sets=(--train_set train_n2n --valid_set valid_n2n --ref_num 1)
      args=${enh_args}
      ;;
    *) die "unknown method '${method}' (iddp, supervised, noise2noise)" ;;
  esac
  run_opts=(--enh_config "${conf_prefix}${method}.yaml" --enh_tag "${method}" --enh_args "${args}")
  ./cffma.sh "${common[@]}" --stage 2 --stop_stage 5 "${sets[@]}" "${run_opts[@]}"
  # cffma.sh's --ref_num also counts the enhanced outputs (stage 6) and the
  # references scored (stage 7): one each, against the clean TEST speech.
  ./cffma.sh "${common[@]}" --stage 6 --stop_stage 7 "${sets[@]:0:4}" --ref_num 1 "${run_opts[@]}"
  entries+=(--entry "${method}" noisy "${expdir}/enh_${method}/results.json")
done

${python} -m espnet_cffma.recipe.results_summary \
  --title "MIA-SE: noisy-only (IDDP) vs supervised vs Noise2Noise, VoiceBank-DEMAND test" \
  "${entries[@]}" --output "${expdir}/RESULTS.md" \
  --note "Same network, loss, data and epochs for every method (${conf_prefix}<method>.yaml). iddp never read the clean training speech. $("${demo}" && echo "Demo corpus and tiny models: the numbers only show that the pipeline runs.")"
cat "${expdir}/RESULTS.md"
