#!/usr/bin/env bash
# BSS-CFFMA on WHAMR! (16 kHz, single speaker): denoising, dereverberation and
# joint denoising + dereverberation, each through stages 1-7 of cffma.sh with its
# own data dirs, experiment dir and config; then one RESULTS.md over the tasks.
#
#   ./run.sh                                  all three tasks, all stages
#   ./run.sh --tasks joint --min_or_max max   one task, WHAMR!'s max version
#   ./run.sh --stage 5 --stop_stage 7 --ngpu 1
#   ./run.sh --ssl_ckpt /data/ckpt/WavLM-Large.pt    (offline: a local checkpoint)
#   ./run.sh --demo true                      a small demo corpus and a tiny model, on CPU
#
#   task      input                  target
#   denoise   mix_single_anechoic    s1_anechoic
#   dereverb  s1_reverb              s1_anechoic
#   joint     mix_single_reverb      s1_anechoic
#
# Set the corpus path in db.sh (WHAMR). Data dirs: data/<task>_<min|max>_{tr,cv,tt};
# experiments: <expdir>/<task>/enh_<config name>; summary: <expdir>/RESULTS.md.
# Options other than the ones below go to cffma.sh (./cffma.sh --help lists them)
# and apply to every task.
set -euo pipefail

tasks="denoise dereverb joint"
min_or_max=min
enh_config=      # one config for every task (default: conf/train_<task>.yaml)
enh_tag=         # experiment name suffix (default: the config's file name)
expdir=exp       # root of the experiments: <expdir>/<task>/...
results=         # the summary over the tasks (default: <expdir>/RESULTS.md)

# Demo mode: corpus built by espnet_cffma.demo.whamr, random-weight SSL upstream.
demo=false
demo_dir=demo_corpus/whamr  # where the demo corpus is written
demo_size=default           # minimal (12/4/4 mixtures) or default (200/50/50)
demo_speech=                # a folder of your own speech recordings (optional)
demo_noise=                 # a folder of your own noise recordings (optional)
demo_cache=                 # cache of the demo's downloaded sources

own_options="--tasks --min_or_max --enh_config --enh_tag --expdir --results --demo
  --demo_dir --demo_size --demo_speech --demo_noise --demo_cache"

# Take out this script's own options; everything else goes to cffma.sh.
args=()
while [ $# -gt 0 ]; do
  # --name=value is the same as --name value
  if [[ $1 == --*=* ]]; then
    set -- "${1%%=*}" "${1#*=}" "${@:2}"
  fi
  case "$1" in
    --help | -h)
      sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
      echo "Own options: ${own_options}"
      ./cffma.sh --help
      exit 0
      ;;
    --enh_exp)
      echo "$0: --enh_exp is not supported: each task gets <expdir>/<task>/enh_<tag> (use --expdir, --enh_tag)" >&2
      exit 1
      ;;
    --local_data_opts)
      # Kept for the user, appended after the recipe's own data options.
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      user_data_opts=$2
      shift 2
      ;;
    --*)
      name=${1#--}
      if [[ " ${own_options} " =~ [[:space:]]--${name}[[:space:]] ]]; then
        [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
        printf -v "${name}" '%s' "$2"
        shift 2
      else
        args+=("$1")
        shift
      fi
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done
case "${demo}" in true | false) ;; *) echo "$0: --demo takes true or false" >&2; exit 1 ;; esac
case "${min_or_max}" in min | max) ;; *) echo "$0: --min_or_max takes min or max" >&2; exit 1 ;; esac
for task in ${tasks}; do
  case "${task}" in
    denoise | dereverb | joint) ;;
    *) echo "$0: unknown task '${task}' in --tasks (denoise, dereverb, joint)" >&2; exit 1 ;;
  esac
done
[ -n "${tasks}" ] || { echo "$0: --tasks is empty" >&2; exit 1; }
results=${results:-${expdir}/RESULTS.md}

demo_args=()
demo_note=
if "${demo}"; then
  data_opts="--demo true --demo_dir ${demo_dir} --demo_size ${demo_size}"
  [ -n "${demo_speech}" ] && data_opts+=" --demo_speech ${demo_speech}"
  [ -n "${demo_noise}" ] && data_opts+=" --demo_noise ${demo_noise}"
  [ -n "${demo_cache}" ] && data_opts+=" --demo_cache ${demo_cache}"
  [ -n "${enh_config}" ] || enh_config=conf/tuning/train_demo.yaml
  # One random checkpoint for all tasks, at the root of the experiments.
  demo_args=(
    --ssl_ckpt "${expdir}/ssl/demo_wavlm_random.pt"
    --ssl_random_init true
    --ngpu 0
    --nj 2
    --inference_nj 2
  )
  demo_note="Demo run on the WHAMR!-style demo corpus (${demo_dir}, size ${demo_size}; see its SOURCES.md), not on WHAMR!. The SSL upstream had RANDOM weights (a tiny WavLM-shaped checkpoint built by stage 3) and the model is a tiny BSS-CFFMA: these numbers only show that the pipeline runs, not what BSS-CFFMA achieves."
else
  data_opts=
fi
data_opts+=" --min_or_max ${min_or_max} ${user_data_opts:-}"

input_of() {
  case $1 in
    denoise) echo mix_single_anechoic ;;
    dereverb) echo s1_reverb ;;
    joint) echo mix_single_reverb ;;
  esac
}

start=${SECONDS}
entries=()
for task in ${tasks}; do
  config=${enh_config:-conf/train_${task}.yaml}
  [ -f "${config}" ] || { echo "$0: config ${config} not found" >&2; exit 1; }
  tag=${enh_tag:-$(basename "${config}" .yaml)}
  task_exp=${expdir}/${task}
  prefix=${task}_${min_or_max}
  echo "$(date '+%Y-%m-%dT%H:%M:%S') (run.sh) WHAMR! task ${task}: $(input_of "${task}") -> s1_anechoic, config ${config}, experiments in ${task_exp}" >&2
  ./cffma.sh \
    --train_set "${prefix}_tr" \
    --valid_set "${prefix}_cv" \
    --test_sets "${prefix}_tt" \
    --enh_config "${config}" \
    --expdir "${task_exp}" \
    --enh_exp "${task_exp}/enh_${tag}" \
    --local_data_opts "--task ${task} ${data_opts}" \
    --fs 16k \
    --ref_num 1 \
    "${demo_args[@]}" \
    "${args[@]}"
  entries+=(--entry "${task}" "$(input_of "${task}")" "${task_exp}/enh_${tag}/results.json")
done

# The summary needs every task scored (stage 7); earlier stops leave it alone.
missing=0
for ((i = 3; i < ${#entries[@]}; i += 4)); do
  [ -f "${entries[i]}" ] || missing=1
done
if [ "${missing}" -eq 0 ]; then
  . ./path.sh
  ${CFFMA_PYTHON} -m espnet_cffma.recipe.results_summary \
    --title "WHAMR! (${min_or_max}, 16 kHz): $(echo ${tasks} | sed 's/ /, /g')" \
    --note "${demo_note}" "${entries[@]}" --output "${results}"
  cat "${results}"
else
  echo "$(date '+%Y-%m-%dT%H:%M:%S') (run.sh) Not every task is scored yet (stage 7): ${results} not written" >&2
fi
echo "$(date '+%Y-%m-%dT%H:%M:%S') (run.sh) Finished the WHAMR! tasks (${tasks}) in $((SECONDS - start)) s" >&2
