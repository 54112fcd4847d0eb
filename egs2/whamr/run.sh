#!/usr/bin/env bash
# BSS-CFFMA on WHAMR! (16 kHz, single speaker): denoising, dereverberation and
# joint denoising + dereverberation, each through stages 1-7 of cffma.sh with its
# own data dirs, experiment dir and config; then one RESULTS.md over the tasks.
#
#   ./run.sh                                  all three tasks, stages 1-7
#   ./run.sh --tasks joint --min_or_max max   one task, WHAMR!'s max version
#   ./run.sh --stage 5 --stop_stage 7 --ngpu 1
#   ./run.sh --ssl_ckpt /data/ckpt/WavLM-Large.pt    (offline: a local checkpoint)
#   ./run.sh --demo true                      a small demo corpus and a tiny model, on CPU
#       --demo_dir DIR --demo_size tiny|small|large --demo_voices many|asterisk
#       --demo_speech DIR --demo_noise DIR
#
#   task      input                  target
#   denoise   mix_single_anechoic    s1_anechoic
#   dereverb  s1_reverb              s1_anechoic
#   joint     mix_single_reverb      s1_anechoic
#
# Set the corpus path in db.sh (WHAMR). Data dirs: data/<task>_<min|max>_{tr,cv,tt};
# experiments: <expdir>/<task>/enh_<config name>; summary: <expdir>/RESULTS.md.
# Options other than the ones below go to cffma.sh for every task (./run.sh --help).
set -euo pipefail

tasks="denoise dereverb joint"
min_or_max=min
enh_config=      # one config for every task (default: conf/train_<task>.yaml)
enh_tag=         # experiment name suffix (default: the config's file name)
expdir=exp       # root of the experiments: <expdir>/<task>/...
results=         # the summary over the tasks (default: <expdir>/RESULTS.md)
local_data_opts= # more options for local/data.sh
enh_exp=         # refused: each task gets <expdir>/<task>/enh_<tag>
run_options="tasks min_or_max enh_config enh_tag expdir results local_data_opts enh_exp"

# --demo*, the settings above; the other options are left in cffma_args.
. scripts/utils/run_options.sh "$@"
. scripts/utils/lib.sh

[ -z "${enh_exp}" ] || die "--enh_exp is not supported: each task gets <expdir>/<task>/enh_<tag> (use --expdir, --enh_tag)"
case "${min_or_max}" in min | max) ;; *) die "--min_or_max takes min or max, got '${min_or_max}'" ;; esac
[ -n "${tasks}" ] || die "--tasks is empty"
input_of() {
  case $1 in
    denoise) echo mix_single_anechoic ;;
    dereverb) echo s1_reverb ;;
    joint) echo mix_single_reverb ;;
    *) die "unknown task '$1' in --tasks (denoise, dereverb, joint)" ;;
  esac
}
for task in ${tasks}; do input_of "${task}" >/dev/null; done
results=${results:-${expdir}/RESULTS.md}
note=
if "${demo}"; then
  note="Demo run on the WHAMR!-style demo corpus (${demo_dir:-demo_corpus/whamr*}, size ${demo_size:-small}; see its SOURCES.md), not on WHAMR!. The SSL upstream had RANDOM weights (a tiny WavLM-shaped checkpoint built by stage 3) and the model is a tiny BSS-CFFMA: these numbers only show that the pipeline runs, not what BSS-CFFMA achieves."
fi

entries=()
for task in ${tasks}; do
  config=${enh_config:-conf/train_${task}.yaml}
  [ -f "${config}" ] || die "config ${config} not found"
  tag=${enh_tag:-$(basename "${config}" .yaml)}
  prefix=${task}_${min_or_max}
  log "WHAMR! task ${task}: $(input_of "${task}") -> s1_anechoic, config ${config}, experiments in ${expdir}/${task}"
  ./cffma.sh \
    --train_set "${prefix}_tr" \
    --valid_set "${prefix}_cv" \
    --test_sets "${prefix}_tt" \
    --enh_config "${config}" \
    --expdir "${expdir}/${task}" \
    --enh_exp "${expdir}/${task}/enh_${tag}" \
    --local_data_opts "--task ${task} --min_or_max ${min_or_max} ${local_demo_opts} ${local_data_opts}" \
    --fs 16k \
    --ref_num 1 \
    "${cffma_demo_args[@]}" \
    "${cffma_args[@]}"
  entries+=(--entry "${task}" "$(input_of "${task}")" "${expdir}/${task}/enh_${tag}/results.json")
done

# The summary needs every task scored (stage 7); earlier stops leave it alone.
for ((i = 3; i < ${#entries[@]}; i += 4)); do
  [ -f "${entries[i]}" ] || { log "Not every task is scored yet (stage 7): ${results} not written"; exit 0; }
done
. ./path.sh
${CFFMA_PYTHON} -m espnet_cffma.recipe.results_summary \
  --title "WHAMR! (${min_or_max}, 16 kHz): $(echo ${tasks} | sed 's/ /, /g')" \
  --note "${note}" "${entries[@]}" --output "${results}"
cat "${results}"
