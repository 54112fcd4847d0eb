#!/usr/bin/env bash
# Shared stage script of the espnet_cffma speech enhancement recipes.
#
# Modelled on ESPnet's egs2/TEMPLATE/enh1/enh.sh, with its own stage numbers
# (1-7 is the whole job, scoring included; 8 is opt-in, as ESPnet's packing and
# upload stages):
#   1 data prep      local/data.sh --datadir DATADIR ${local_data_opts}
#   2 format audio   resample once (soxr) to --fs into DUMPDIR/raw/<set>, checks, durations
#   3 SSL upstream   check that the config's S3PRL upstream loads (or can be fetched)
#   4 collect stats  ESPnet --collect_stats over nj jobs, aggregated
#   5 train          espnet_cffma.bin.enh_train (resumable, multi-GPU through espnet2.bin.launch)
#   6 enhance        espnet_cffma.bin.enh_inference on the valid and test sets
#   7 score          STOI, ESTOI, SI-SNR, SDR (espnet2.bin.enh_scoring), PESQ-WB,
#                    CSIG/CBAK/COVL (espnet_cffma.metrics, one PESQ per utterance)
#                    and DNSMOS SIG/BAK/OVRL/P.808 (speechmos)
#                    for the noisy input and the
#                    enhanced output; RESULTS.md; spectrogram pictures
#   8 pack           one archive of the model (SSL checkpoint bundled) for
#                    cffma-enhance --model; runs only with --skip_pack false
#
# Run from a recipe directory (egs2/<corpus>) that has path.sh, cmd.sh, db.sh,
# local/data.sh (accepting --datadir DIR) and the symlinks utils, scripts,
# cffma.sh. Every step writes atomically and leaves a .done marker holding its
# settings: rerunning a stage skips finished work and redoes unfinished or changed work.
set -euo pipefail

# ----- options (each can be given as --name VALUE) -----
# General
stage=1               # first stage to run
stop_stage=10000      # last stage to run
skip_data_prep=false  # skip stages 1-2: data prep and format audio (they exist)
skip_train=false      # skip stages 3-5: SSL check, stats, training (use an existing model)
skip_eval=false       # skip stages 6-7: enhancement and scoring
skip_pack=true        # skip stage 8: packing (false: pack the model into one archive)
ngpu=1                # GPUs for training (0: CPU); N>1: one node, N processes (DDP)
num_nodes=1           # only 1 is supported by utils/run_jobs.sh
nj=4                  # parallel jobs for formatting, stats and scoring
inference_nj=4        # parallel jobs for enhancement
gpu_inference=false   # enhance on GPU (one per job)
datadir=data          # Kaldi-style data dirs (stage 1)
dumpdir=dump          # formatted audio (stage 2)
expdir=exp            # experiments
logdir=               # stage logs (default: ${expdir}/logs)
python=python         # the project's python (path.sh puts its venv first on PATH)

# Data
local_data_opts=      # options for local/data.sh
train_set=            # name of the training set (data/${train_set})
valid_set=            # validation set
test_sets=            # test sets (space separated)
fs=16k                # sampling rate of the model (audio is resampled to it once)
min_wav_duration=0.1  # training/validation utterances shorter than this (s) are dropped
max_wav_duration=20   # ... and longer than this
audio_subtype=PCM_16  # sample format of the formatted audio (PCM_16, PCM_24, FLOAT)
skip_bad_audio=false  # drop utterances with bad audio instead of failing (stage 2)
ref_num=1             # number of reference signals (spk1.scp ...)
use_dereverb_ref=false  # train with dereverb1.scp ... as extra references
use_noise_ref=false   # train with noise1.scp ... as extra references

# Model
enh_config=           # training config (YAML)
enh_args=             # extra options for enh_train, e.g. "--max_epoch 1"
enh_tag=              # experiment name suffix (default: the config's file name)
enh_exp=              # experiment dir (default: ${expdir}/enh_${enh_tag})
ssl_ckpt=             # local SSL checkpoint overriding the config's upstream
ssl_random_init=false # build a tiny RANDOM-weight checkpoint at --ssl_ckpt (demo/tests)

# Inference and scoring
inference_config=     # inference config (YAML), e.g. segment_size for long inputs
inference_args=       # extra options for enh_inference
inference_model=valid.loss.best.pth  # model file in the experiment dir
inference_tag=        # default: enhanced_<inference_model without .pth>
score_sets=           # sets to score (default: valid and test sets)
num_images=3          # spectrogram pictures per test set
results_note=         # extra note for RESULTS.md

# Packing (stage 8)
pack_bundle_ssl=true  # store the SSL checkpoint in the archive (else refer to it)

help_message=$(
  cat <<EOF
Usage: $0 --train_set <name> --valid_set <name> --test_sets "<names>" --enh_config <yaml> [options]

Stages: 1 data prep, 2 format audio, 3 SSL upstream check, 4 collect stats,
        5 train, 6 enhance, 7 score (RESULTS.md, spectrograms),
        8 pack the model into one archive (cffma-enhance --model / ESPnet unpack);
        8 is opt-in: it runs only with --skip_pack false.
Options (defaults in brackets; see the top of $0 for all):
  --stage N --stop_stage N [1 / 10000]   run the stages from N to M, less the skipped ones
  --skip_data_prep true|false [false]    skip stages 1-2 (data prep, format audio)
  --skip_train true|false [false]        skip stages 3-5 (SSL check, stats, training)
  --skip_eval true|false [false]         skip stages 6-7 (enhancement, scoring)
  --skip_pack true|false [true]          skip stage 8 (pack; false packs the model)
  --ngpu N [1]  --nj N [4]  --inference_nj N [4]  --gpu_inference true|false [false]
  --datadir [data] --dumpdir [dump] --expdir [exp] --logdir [\${expdir}/logs]
  --fs [16k] --min_wav_duration [0.1] --max_wav_duration [20] --skip_bad_audio [false]
  --ref_num [1] --use_dereverb_ref [false] --use_noise_ref [false]
  --enh_config YAML --enh_args "..." --enh_tag --enh_exp
  --ssl_ckpt PATH      local WavLM/wav2vec2/HuBERT checkpoint (no download needed)
  --inference_model [valid.loss.best.pth] --inference_config --inference_args
  --local_data_opts "..."   options for local/data.sh
  --pack_bundle_ssl true|false [true]   stage 8: SSL checkpoint inside the archive
EOF
)

# Keep the original command line for the logs.
cmdline="$0 $*"

[ -f ./path.sh ] || { echo "$0: run me from a recipe directory (egs2/<corpus>)" >&2; exit 1; }
. ./path.sh
. ./cmd.sh
. utils/parse_options.sh
. scripts/utils/lib.sh

[ $# -eq 0 ] || die "unexpected arguments: $* (see $0 --help)"
[ -n "${train_set}" ] || die "--train_set is required"
[ -n "${valid_set}" ] || die "--valid_set is required"
[ -n "${test_sets}" ] || die "--test_sets is required"
[ -n "${enh_config}" ] || die "--enh_config is required"
[ "${num_nodes}" -eq 1 ] || die "--num_nodes ${num_nodes}: only single-node training is supported"

fs_hz=$(awk -v f="${fs}" 'BEGIN { if (f ~ /k$/) printf "%d", substr(f, 1, length(f) - 1) * 1000; else printf "%d", f }')
[ "${fs_hz}" -gt 0 ] || die "cannot read --fs ${fs}"
logdir=${logdir:-${expdir}/logs}
mkdir -p "${logdir}"

enh_tag=${enh_tag:-$(basename "${enh_config}" .yaml)}
enh_exp=${enh_exp:-${expdir}/enh_${enh_tag}}
enh_stats_dir=${expdir}/enh_stats_${fs}
inference_tag=${inference_tag:-enhanced_$(basename "${inference_model}" .pth)}
score_sets=${score_sets:-${valid_set} ${test_sets}}
data_feats=${dumpdir}/raw

# The reference lists the model trains on (same order as ESPnet's enh.sh).
ref_scps=()
for n in $(seq "${ref_num}"); do ref_scps+=("spk${n}.scp"); done
if "${use_dereverb_ref}"; then
  for n in $(seq "${ref_num}"); do ref_scps+=("dereverb${n}.scp"); done
fi
if "${use_noise_ref}"; then
  for n in $(seq "${ref_num}"); do ref_scps+=("noise${n}.scp"); done
fi
# scp file -> ESPnet data name
data_name() {
  case $1 in
    wav.scp) echo speech_mix ;;
    spk*.scp) local n=${1#spk}; echo "speech_ref${n%.scp}" ;;
    dereverb*.scp) local n=${1#dereverb}; echo "dereverb_ref${n%.scp}" ;;
    noise*.scp) local n=${1#noise}; echo "noise_ref${n%.scp}" ;;
    *) die "unknown scp $1" ;;
  esac
}

# The SSL upstream override (--ssl_ckpt) as ESPnet options for training.
ssl_args=
if [ -n "${ssl_ckpt}" ]; then
  ssl_args=$(${python} -m espnet_cffma.recipe.ssl_check --config "${enh_config}" \
    --ssl_ckpt "${ssl_ckpt}" --print_args) || die "cannot apply --ssl_ckpt ${ssl_ckpt}"
fi

# skipped_by N: the --skip_* option that leaves out stage N, if one does.
skipped_by() {
  local n=$1
  if "${skip_data_prep}" && [ "${n}" -le 2 ]; then echo skip_data_prep; fi
  if "${skip_train}" && [ "${n}" -ge 3 ] && [ "${n}" -le 5 ]; then echo skip_train; fi
  if "${skip_eval}" && [ "${n}" -ge 6 ] && [ "${n}" -le 7 ]; then echo skip_eval; fi
  if "${skip_pack}" && [ "${n}" -eq 8 ]; then echo skip_pack; fi
  return 0
}

# run_stage N NAME: runs function stageN, logging its output to ${logdir}/stageN.log
# too, and reports its wall time.
run_stage() {
  local n=$1 name=$2 start=${SECONDS} skip
  if [ "${n}" -lt "${stage}" ] || [ "${n}" -gt "${stop_stage}" ]; then return 0; fi
  skip=$(skipped_by "${n}")
  if [ -n "${skip}" ]; then
    log "Stage ${n}: ${name} skipped (--${skip} true)"
    return 0
  fi
  local slog="${logdir}/stage${n}.log"
  {
    echo "# ${cmdline}"
    echo "# stage ${n}: ${name}, started $(date)"
  } >>"${slog}"
  log "Stage ${n}: ${name} (log: ${slog})"
  "stage${n}" 2>&1 | tee -a "${slog}"
  local elapsed=$((SECONDS - start))
  echo "# stage ${n} finished in ${elapsed} s" >>"${slog}"
  log "Stage ${n} finished in ${elapsed} s"
  echo "stage${n} ${elapsed}" >>"${logdir}/stage_times.txt"
}

# ----- stage 1: data preparation -----
stage1() {
  log "local/data.sh --datadir ${datadir} ${local_data_opts}"
  # shellcheck disable=SC2086
  local/data.sh --datadir "${datadir}" ${local_data_opts}
  local dset
  for dset in ${train_set} ${valid_set} ${test_sets}; do
    ${python} -m espnet_cffma.recipe.data_dir validate "${datadir}/${dset}" ||
      die "local/data.sh wrote a bad data dir: ${datadir}/${dset}"
  done
  log "Data dirs: $(for d in ${train_set} ${valid_set} ${test_sets}; do printf '%s ' "${datadir}/${d}"; done)"
}

# ----- stage 2: format audio -----
stage2() {
  local dset scps
  for dset in ${train_set} ${valid_set} ${test_sets}; do
    local in_dir=${datadir}/${dset} out_dir=${data_feats}/${dset}
    [ -f "${in_dir}/wav.scp" ] || die "${in_dir}/wav.scp is missing: run stage 1 first"
    scps=(wav.scp)
    local f
    for f in "${in_dir}"/spk*.scp "${in_dir}"/dereverb*.scp "${in_dir}"/noise*.scp; do
      [ -f "$f" ] && scps+=("$(basename "$f")")
    done
    local min_dur=none max_dur=none
    if [ "${dset}" = "${train_set}" ] || [ "${dset}" = "${valid_set}" ]; then
      # Test sets are never filtered: every test utterance is scored.
      min_dur=${min_wav_duration}
      max_dur=${max_wav_duration}
    fi
    local sig
    sig="format fs=${fs_hz} subtype=${audio_subtype} min=${min_dur} max=${max_dur} skip_bad=${skip_bad_audio} scps=${scps[*]} input=$(cd "${in_dir}" && file_sig "${scps[@]}" utt2spk)"
    if is_done "${out_dir}" "${sig}"; then
      log "${out_dir}: already formatted (delete ${out_dir}/.done to redo)"
      continue
    fi
    clear_done "${out_dir}"
    ${python} -m espnet_cffma.recipe.format_audio --in_dir "${in_dir}" --out_dir "${out_dir}" \
      --fs "${fs_hz}" --scps "${scps[@]}" --nj "${nj}" --min_duration "${min_dur}" \
      --max_duration "${max_dur}" --skip_bad "${skip_bad_audio}" --subtype "${audio_subtype}"
    mark_done "${out_dir}" "${sig}"
  done
  log "Formatted ${fs} audio and lists: ${data_feats}/{$(echo ${train_set} ${valid_set} ${test_sets} | tr ' ' ',')}"
}

# ----- stage 3: SSL upstream -----
stage3() {
  local opts=()
  if [ -n "${ssl_ckpt}" ]; then
    opts+=(--ssl_ckpt "${ssl_ckpt}" --build_random "${ssl_random_init}")
  elif "${ssl_random_init}"; then
    die "--ssl_random_init true needs --ssl_ckpt PATH (where to write the checkpoint)"
  fi
  ${python} -m espnet_cffma.recipe.ssl_check --config "${enh_config}" "${opts[@]}"
}

# ESPnet data options for a formatted set: --<mode>_data_path_and_name_and_type ...
data_params() {
  local mode=$1 dir=$2 f
  for f in wav.scp "${ref_scps[@]}"; do
    [ -f "${dir}/${f}" ] || die "${dir}/${f} is missing (needed by --ref_num/--use_*_ref)"
    printf -- '--%s_data_path_and_name_and_type %s,%s,sound ' "${mode}" "${dir}/${f}" "$(data_name "$f")"
  done
}

# ----- stage 4: collect stats -----
stage4() {
  local train_dir=${data_feats}/${train_set} valid_dir=${data_feats}/${valid_set}
  local sdir=${enh_stats_dir} ldir=${enh_stats_dir}/logdir
  [ -f "${train_dir}/.done" ] && [ -f "${valid_dir}/.done" ] || die "run stage 2 first"
  local sig
  sig="stats $(file_sig "${train_dir}/wav.scp" "${valid_dir}/wav.scp" "${enh_config}") refs=${ref_scps[*]} args=${enh_args} ${ssl_args}"
  if is_done "${sdir}" "${sig}"; then
    log "${sdir}: stats already collected (delete ${sdir}/.done to redo)"
    return 0
  fi
  clear_done "${sdir}"
  rm -rf "${ldir}"
  mkdir -p "${ldir}"
  local _nj
  _nj=$(min "${nj}" "$(wc -l <"${train_dir}/wav.scp")" "$(wc -l <"${valid_dir}/wav.scp")")
  split_scp "${train_dir}/wav.scp" "${_nj}" "${ldir}/train"
  split_scp "${valid_dir}/wav.scp" "${_nj}" "${ldir}/valid"
  log "Collecting stats with ${_nj} job(s): ${ldir}/stats.*.log"
  # shellcheck disable=SC2046,SC2086
  ${train_cmd} JOB=1:"${_nj}" "${ldir}"/stats.JOB.log \
    ${python} -m espnet_cffma.bin.enh_train \
    --collect_stats true \
    $(data_params train "${train_dir}") \
    $(data_params valid "${valid_dir}") \
    --train_shape_file "${ldir}/train.JOB.scp" \
    --valid_shape_file "${ldir}/valid.JOB.scp" \
    --output_dir "${ldir}/stats.JOB" \
    --config "${enh_config}" \
    ${ssl_args} ${enh_args} ||
    { tail -n 30 "${ldir}"/stats.1.log >&2; die "collect stats failed: see ${ldir}/stats.*.log"; }
  local inputs=()
  local n
  for n in $(seq "${_nj}"); do inputs+=(--input_dir "${ldir}/stats.${n}"); done
  ${python} -m espnet2.bin.aggregate_stats_dirs "${inputs[@]}" --output_dir "${sdir}"
  mark_done "${sdir}" "${sig}"
  log "Stats: ${sdir}"
}

# ----- stage 5: training -----
stage5() {
  local train_dir=${data_feats}/${train_set} valid_dir=${data_feats}/${valid_set}
  [ -f "${enh_stats_dir}/.done" ] || die "run stage 4 first (${enh_stats_dir})"
  local opts=() f
  for f in wav.scp "${ref_scps[@]}"; do
    local name
    name=$(data_name "$f")
    opts+=(--train_shape_file "${enh_stats_dir}/train/${name}_shape")
    opts+=(--valid_shape_file "${enh_stats_dir}/valid/${name}_shape")
    opts+=(--fold_length 80000)
  done
  local sig
  sig="train $(file_sig "${enh_stats_dir}/.done" "${enh_config}") args=${enh_args} ${ssl_args} ngpu=${ngpu}"
  if is_done "${enh_exp}" "${sig}" && [ -e "${enh_exp}/${inference_model}" ]; then
    log "${enh_exp}: already trained (delete ${enh_exp}/.done to continue or redo)"
    return 0
  fi
  clear_done "${enh_exp}"
  mkdir -p "${enh_exp}"
  log "Training: ${enh_exp}/train.log (resumes from ${enh_exp}/checkpoint.pth if present)"
  # shellcheck disable=SC2046,SC2086
  ${python} -m espnet2.bin.launch \
    --cmd "${cuda_cmd} --name $(basename "${enh_exp}")" \
    --log "${enh_exp}/train.log" \
    --ngpu "${ngpu}" \
    --num_nodes "${num_nodes}" \
    --init_file_prefix "${enh_exp}/.dist_init_" \
    --multiprocessing_distributed true -- \
    ${python} -m espnet_cffma.bin.enh_train \
    --resume true \
    $(data_params train "${train_dir}") \
    $(data_params valid "${valid_dir}") \
    "${opts[@]}" \
    --output_dir "${enh_exp}" \
    --config "${enh_config}" \
    ${ssl_args} ${enh_args} ||
    { tail -n 30 "${enh_exp}/train.log" >&2; die "training failed: see ${enh_exp}/train.log"; }
  [ -e "${enh_exp}/${inference_model}" ] ||
    die "training ended without ${enh_exp}/${inference_model} (see ${enh_exp}/train.log)"
  mark_done "${enh_exp}" "${sig}"
  log "Model: ${enh_exp}/${inference_model} (config ${enh_exp}/config.yaml, log ${enh_exp}/train.log)"
}

# ----- stage 6: enhancement -----
stage6() {
  local model=${enh_exp}/${inference_model}
  [ -e "${model}" ] || die "${model} does not exist: train first (stage 5) or set --inference_model"
  local _cmd=${decode_cmd} _ngpu=0
  if "${gpu_inference}"; then _cmd=${cuda_cmd}; _ngpu=1; fi
  local dset
  for dset in ${score_sets}; do
    local data=${data_feats}/${dset} dir=${enh_exp}/${inference_tag}/${dset}
    local ldir=${dir}/logdir
    [ -f "${data}/.done" ] || die "${data} is not formatted: run stage 2 first"
    local sig
    sig="enhance $(file_sig "${data}/wav.scp" "${enh_exp}/config.yaml" ${inference_config:+"${inference_config}"}) model=$(stat -L -c '%s %Y' "${model}") args=${inference_args}"
    if is_done "${dir}" "${sig}"; then
      log "${dir}: already enhanced (delete ${dir}/.done to redo)"
      continue
    fi
    clear_done "${dir}"
    rm -rf "${ldir}"
    mkdir -p "${ldir}"
    local _nj
    _nj=$(min "${inference_nj}" "$(wc -l <"${data}/wav.scp")")
    split_scp "${data}/wav.scp" "${_nj}" "${ldir}/keys"
    log "Enhancing ${data} with ${_nj} job(s): ${ldir}/enh_inference.*.log"
    # shellcheck disable=SC2086
    ${_cmd} --gpu "${_ngpu}" JOB=1:"${_nj}" "${ldir}"/enh_inference.JOB.log \
      ${python} -m espnet_cffma.bin.enh_inference \
      --ngpu "${_ngpu}" \
      --fs "${fs_hz}" \
      --data_path_and_name_and_type "${data}/wav.scp,speech_mix,sound" \
      --key_file "${ldir}/keys.JOB.scp" \
      --train_config "${enh_exp}/config.yaml" \
      ${inference_config:+--inference_config "${inference_config}"} \
      --model_file "${model}" \
      --output_dir "${ldir}/output.JOB" \
      ${inference_args} ||
      { tail -n 30 "${ldir}/enh_inference.1.log" >&2; die "enhancement failed: see ${ldir}/enh_inference.*.log"; }
    local n i
    for n in $(seq "${ref_num}"); do
      for i in $(seq "${_nj}"); do cat "${ldir}/output.${i}/spk${n}.scp"; done | write_sorted "${dir}/spk${n}.scp"
      check_unique_keys "${dir}/spk${n}.scp"
      [ "$(wc -l <"${dir}/spk${n}.scp")" -eq "$(wc -l <"${data}/wav.scp")" ] ||
        die "${dir}/spk${n}.scp has $(wc -l <"${dir}/spk${n}.scp") entries, ${data}/wav.scp $(wc -l <"${data}/wav.scp")"
    done
    mark_done "${dir}" "${sig}"
    log "Enhanced ${dset}: ${dir}/spk1.scp"
  done
}

# score_dir REF_DATA INF_SCP OUT_DIR: all metrics of one system on one set into OUT_DIR.
score_dir() {
  local data=$1 inf_scp=$2 out=$3
  local ldir=${out}/logdir
  local sig
  sig="score $(file_sig "${data}/spk1.scp" "${inf_scp}")"
  if is_done "${out}" "${sig}"; then
    log "${out}: already scored (delete ${out}/.done to redo)"
    return 0
  fi
  clear_done "${out}"
  rm -rf "${ldir}"
  mkdir -p "${ldir}"
  local _nj
  _nj=$(min "${nj}" "$(wc -l <"${inf_scp}")")
  split_scp "${inf_scp}" "${_nj}" "${ldir}/keys"
  local ref_opts=() inf_opts=() n
  for n in $(seq "${ref_num}"); do
    ref_opts+=(--ref_scp "${data}/spk${n}.scp")
    inf_opts+=(--inf_scp "$(dirname "${inf_scp}")/$(basename "${inf_scp}" | sed "s/spk1/spk${n}/")")
  done
  log "Scoring ${inf_scp} with ${_nj} job(s): ${ldir}/*.log"
  # ESPnet's scorer writes STOI, ESTOI, SI-SNR, SDR; PESQ comes from the
  # plugin's scorer below, computed once per utterance for PESQ_WB and the
  # composite measures (the same pesq() call as ESPnet's --use_pesq true).
  # shellcheck disable=SC2086
  ${decode_cmd} JOB=1:"${_nj}" "${ldir}"/enh_scoring.JOB.log \
    ${python} -m espnet2.bin.enh_scoring \
    --key_file "${ldir}/keys.JOB.scp" \
    --output_dir "${ldir}/output.JOB" \
    "${ref_opts[@]}" "${inf_opts[@]}" \
    --ref_channel 0 \
    --use_pesq false ||
    { tail -n 30 "${ldir}/enh_scoring.1.log" >&2; die "scoring failed: see ${ldir}/enh_scoring.*.log"; }
  # shellcheck disable=SC2086
  ${decode_cmd} JOB=1:"${_nj}" "${ldir}"/composite.JOB.log \
    ${python} -m espnet_cffma.metrics.scoring \
    --key_file "${ldir}/keys.JOB.scp" \
    --ref_scp "${data}/spk1.scp" \
    --inf_scp "${inf_scp}" \
    --output_dir "${ldir}/output.JOB" \
    --metrics pesq_composite \
    --nj 1 ||
    { tail -n 30 "${ldir}/composite.1.log" >&2; die "PESQ/composite scoring failed: see ${ldir}/composite.*.log"; }
  # DNSMOS P.835/P.808 (non-intrusive); the key lists are slices of ${inf_scp}.
  # shellcheck disable=SC2086
  ${decode_cmd} JOB=1:"${_nj}" "${ldir}"/dnsmos.JOB.log \
    ${python} -m espnet_cffma.metrics.dnsmos \
    --wav_scp "${ldir}/keys.JOB.scp" --output_dir "${ldir}/output.JOB" ||
    { tail -n 30 "${ldir}/dnsmos.1.log" >&2; die "DNSMOS scoring failed: see ${ldir}/dnsmos.*.log"; }
  ${python} -m espnet_cffma.recipe.results merge --logdir "${ldir}" --nj "${_nj}" --output_dir "${out}"
  mark_done "${out}" "${sig}"
}

# ----- stage 7: scoring, RESULTS.md, pictures -----
stage7() {
  local dset sets_args=()
  for dset in ${score_sets}; do
    local data=${data_feats}/${dset} dir=${enh_exp}/${inference_tag}/${dset}
    [ -f "${dir}/.done" ] || die "${dir} is not enhanced: run stage 6 first"
    # The noisy input's scores do not depend on the model: computed once per set.
    score_dir "${data}" "${data}/wav.scp" "${expdir}/scores_noisy/${dset}"
    score_dir "${data}" "${dir}/spk1.scp" "${dir}/scoring"
    sets_args+=(--set "${dset}" "${expdir}/scores_noisy/${dset}" "${dir}/scoring")
  done
  local note=${results_note}
  # Only models that read an SSL upstream get the random-weights warning.
  if "${ssl_random_init}" && grep -q "ssl_path_or_url" "${enh_exp}/config.yaml"; then
    note="The SSL upstream had RANDOM weights (a tiny checkpoint built by stage 3 for the demo): these numbers only show that the pipeline runs, not what the model achieves with a pretrained upstream. For real results, download a pretrained WavLM/wav2vec2 checkpoint and pass --ssl_ckpt PATH (see the recipe README). ${note}"
  fi
  ${python} -m espnet_cffma.recipe.results write \
    --exp_dir "${enh_exp}" --config "${enh_config}" --resolved_config "${enh_exp}/config.yaml" \
    --model "${enh_exp}/${inference_model}" --note "${note}" \
    "${sets_args[@]}" --output "${enh_exp}/RESULTS.md"
  for dset in ${test_sets}; do
    local data=${data_feats}/${dset} dir=${enh_exp}/${inference_tag}/${dset}
    ${python} -m espnet_cffma.recipe.spectrogram --noisy_scp "${data}/wav.scp" \
      --enhanced_scp "${dir}/spk1.scp" --clean_scp "${data}/spk1.scp" \
      --num "${num_images}" --output_dir "${enh_exp}/images/${dset}"
  done
  log "Results: ${enh_exp}/RESULTS.md; per-utterance scores: ${enh_exp}/${inference_tag}/<set>/scoring, ${expdir}/scores_noisy/<set>; pictures: ${enh_exp}/images/"
  cat "${enh_exp}/RESULTS.md"
}

# ----- stage 8: pack the model -----
stage8() {
  local archive=${enh_exp}/packed/$(basename "${enh_exp}").zip
  local bundle=()
  "${pack_bundle_ssl}" && bundle=(--bundle_ssl)
  [ -f "${enh_exp}/${inference_model}" ] || die "no ${enh_exp}/${inference_model}: run stage 5 first"
  mkdir -p "$(dirname "${archive}")"
  ${python} -m espnet_cffma.bin.pack --exp_dir "${enh_exp}" \
    --checkpoint "${inference_model}" --output "${archive}" "${bundle[@]}"
  log "Packed model: ${archive} (enhance your audio: cffma-enhance --model ${archive} IN... -o OUT)"
}

log "$cmdline"
run_stage 1 "data preparation"
run_stage 2 "format audio (${fs})"
run_stage 3 "SSL upstream check"
run_stage 4 "collect stats"
run_stage 5 "training"
run_stage 6 "enhancement"
run_stage 7 "scoring"
run_stage 8 "pack"
log "Successfully finished. [elapsed=${SECONDS}s]"
