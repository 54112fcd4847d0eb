#!/usr/bin/env bash
# Train and score several configs on the same data, one experiment each, and put
# them side by side in one RESULTS.md (the noisy input beside every enhanced row).
# Run from egs2/voicebank:
#
#   local/compare.sh --demo true --expdir exp/tfgridnet_dl_vs_pl \
#     --configs "direct=conf/tuning/train_demo_tfgridnet_dl.yaml progressive=conf/tuning/train_demo_tfgridnet_pl.yaml"
#   local/compare.sh --demo true --expdir exp/bss_cffma_loss \
#     --configs "waveform_loss=conf/tuning/train_demo_waveform_loss.yaml paper_loss=conf/tuning/train_demo.yaml"
#
# Every config goes through ./run.sh (stages 1-7) with --enh_tag NAME, so the
# experiments are ${expdir}/enh_NAME; data prep runs once (the later configs
# skip it). Other options go to ./run.sh for every config (e.g. --ngpu 1,
# --enh_args "--max_epoch 3"). Results: ${expdir}/RESULTS.md.
set -euo pipefail

configs=
expdir=
title=
demo=false
scored_set=test

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --configs | --expdir | --title | --demo | --scored_set)
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "${1#--}" '%s' "$2"
      shift 2
      ;;
    --enh_config | --enh_tag | --enh_exp)
      echo "$0: $1 is set per config by this script (use --configs NAME=YAML ...)" >&2
      exit 1
      ;;
    -h | --help)
      awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
      exit 0
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done
[ -n "${configs}" ] || { echo "$0: give --configs 'NAME=YAML NAME=YAML ...'" >&2; exit 1; }
[ -n "${expdir}" ] || { echo "$0: give --expdir DIR (one folder for the compared experiments)" >&2; exit 1; }
case "${demo}" in true | false) ;; *) echo "$0: --demo takes true or false" >&2; exit 1 ;; esac

names=()
for item in ${configs}; do
  name=${item%%=*}
  conf=${item#*=}
  [[ "${item}" == *=* && -n "${name}" && "${name}" =~ ^[A-Za-z0-9_.-]+$ ]] ||
    { echo "$0: '${item}' is not NAME=YAML (NAME: letters, digits, _ . -)" >&2; exit 1; }
  [ -f "${conf}" ] || { echo "$0: config ${conf} (for ${name}) not found" >&2; exit 1; }
  for seen in "${names[@]}"; do
    [ "${seen}" != "${name}" ] || { echo "$0: name ${name} given twice" >&2; exit 1; }
  done
  names+=("${name}")
done
title=${title:-"$(printf '%s vs ' "${names[@]}" | sed 's/ vs $//'), VoiceBank-DEMAND ${scored_set}"}

python=${CFFMA_PYTHON:-$(. ./path.sh >/dev/null 2>&1; command -v python)}
entries=()
prep=()
for item in ${configs}; do
  name=${item%%=*}
  conf=${item#*=}
  echo "=== ${name}: ${conf} -> ${expdir}/enh_${name}"
  ./run.sh --demo "${demo}" --expdir "${expdir}" --enh_config "${conf}" --enh_tag "${name}" \
    "${prep[@]}" "${args[@]}"
  prep=(--skip_data_prep true)
  entries+=(--entry "${name}" noisy "${expdir}/enh_${name}/results.json")
done

note="Same data, epochs and scoring for every row; configs: ${configs}."
if "${demo}"; then
  note+=" Demo corpus and tiny models on a CPU: the numbers show what these settings do at this size, not what the papers report."
fi
${python} -m espnet_cffma.recipe.results_summary --title "${title}" "${entries[@]}" \
  --output "${expdir}/RESULTS.md" --note "${note}"
cat "${expdir}/RESULTS.md"
