#!/usr/bin/env bash
# Stage 1 of the VoiceBank-DEMAND recipe: Kaldi-style data dirs.
#
# From the 28-speaker VoiceBank-DEMAND corpus (48 kHz; stage 2 resamples):
#   <datadir>/train  training speakers except the validation speakers
#   <datadir>/valid  validation speakers p226 and p287 (as ESPnet's vctk_noisy recipe)
#   <datadir>/test   the test set (p232, p257)
# each with wav.scp (noisy), spk1.scp (clean), utt2spk, spk2utt, and (with
# --noise_ref true, the default) noise1.scp: noisy - clean, the additive noise,
# written under <datadir>/noise_audio/ (progressive learning's targets and
# --use_noise_ref need it).
#
# With --demo true it first builds a small demo corpus in the same layout
# (espnet_cffma.demo.voicebank) and prepares that instead.
set -euo pipefail

datadir=data
corpus_dir=            # default: VOICEBANK from db.sh
valid_speakers="p226 p287"
demo=false
demo_dir=              # default: demo_corpus/voicebank (small), else demo_corpus/voicebank_<size>[_reverb<share>]
demo_size=small        # the builder's preset: tiny (tests), small (README), large (~2 h of audio, CPU training)
demo_voices=           # Debian speech: many (Asterisk + KDE, 33 people) or asterisk (4 people); default: the size's
demo_speech=           # folder of real speech recordings for the demo (optional)
demo_noise=            # folder of noise recordings for the demo (optional)
demo_reverb_share=     # share (0-1) of demo utterances spoken in a simulated room (default 0)
demo_n_train=          # demo size overrides (default: the preset's)
demo_n_test=
demo_seed=0
demo_cache=            # cache of the demo's downloaded sources (default: the builder's)
noise_ref=true         # write noise1.scp (noisy - clean)

help_message="Usage: local/data.sh [--datadir data] [--corpus_dir DIR] [--valid_speakers 'p226 p287'] [--noise_ref true]
                     [--demo true --demo_dir DIR --demo_size tiny|small|large --demo_voices many|asterisk
                      --demo_speech DIR --demo_noise DIR --demo_reverb_share 0.3 --demo_n_train N --demo_n_test N]"

. utils/parse_options.sh
. scripts/utils/lib.sh
. ./db.sh

corpus_help="VoiceBank-DEMAND (Valentini-Botinhao et al.) is at https://doi.org/10.7488/ds/2117:
download clean_trainset_28spk_wav.zip, noisy_trainset_28spk_wav.zip, clean_testset_wav.zip
and noisy_testset_wav.zip, unzip them into one folder and set VOICEBANK=<that folder> in
db.sh (or pass --local_data_opts '--corpus_dir <folder>'). To try the recipe without the
corpus: ./run.sh --demo true"

if "${demo}"; then
  case "${demo_size}" in minimal) demo_size=tiny ;; default) demo_size=small ;; esac
  if [ -z "${demo_dir}" ]; then
    demo_dir=demo_corpus/voicebank
    [ "${demo_size}" = small ] || demo_dir+="_${demo_size}"
    [ -z "${demo_reverb_share}" ] || demo_dir+="_reverb${demo_reverb_share}"
  fi
  build_opts=(--out "${demo_dir}" --size "${demo_size}" --seed "${demo_seed}")
  [ -n "${demo_voices}" ] && build_opts+=(--voices "${demo_voices}")
  [ -n "${demo_n_train}" ] && build_opts+=(--n_train "${demo_n_train}")
  [ -n "${demo_n_test}" ] && build_opts+=(--n_test "${demo_n_test}")
  [ -n "${demo_speech}" ] && build_opts+=(--speech_dir "${demo_speech}")
  [ -n "${demo_noise}" ] && build_opts+=(--noise_dir "${demo_noise}")
  [ -n "${demo_reverb_share}" ] && build_opts+=(--reverb_share "${demo_reverb_share}")
  [ -n "${demo_cache}" ] && build_opts+=(--cache_dir "${demo_cache}")
  # The builder returns at once when the corpus is already complete.
  log "Demo corpus: python -m espnet_cffma.demo.voicebank ${build_opts[*]}"
  ${CFFMA_PYTHON:-python} -m espnet_cffma.demo.voicebank "${build_opts[@]}"
  corpus_dir=${demo_dir}
fi

corpus_dir=${corpus_dir:-${VOICEBANK}}
[ -n "${corpus_dir}" ] || die "VOICEBANK is not set.\n${corpus_help}"
[ -d "${corpus_dir}" ] || die "VoiceBank-DEMAND folder not found: ${corpus_dir}\n${corpus_help}"

missing=()
for sub in clean_trainset_28spk_wav noisy_trainset_28spk_wav clean_testset_wav noisy_testset_wav; do
  [ -d "${corpus_dir}/${sub}" ] || missing+=("${corpus_dir}/${sub}")
done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing VoiceBank-DEMAND folder(s):\n  $(printf '%s\n  ' "${missing[@]}")\n${corpus_help}"
fi
corpus_dir=$(cd "${corpus_dir}" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/voicebank_data.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT

# wav_names DIR: sorted file names of the .wav files in DIR.
wav_names() { find "$1" -maxdepth 1 -type f -name '*.wav' | sed 's|.*/||' | LC_ALL=C sort; }

# list_pairs NOISY_DIR CLEAN_DIR OUT: "utt noisy_path clean_path speaker" lines; every
# noisy file needs its clean counterpart of the same name and vice versa.
list_pairs() {
  local noisy=$1 clean=$2 out=$3
  wav_names "${noisy}" >"${tmp}/noisy.names"
  wav_names "${clean}" >"${tmp}/clean.names"
  [ -s "${tmp}/noisy.names" ] || die "no .wav files in ${noisy}\n${corpus_help}"
  local only_noisy only_clean
  only_noisy=$(LC_ALL=C comm -23 "${tmp}/noisy.names" "${tmp}/clean.names" | wc -l)
  only_clean=$(LC_ALL=C comm -13 "${tmp}/noisy.names" "${tmp}/clean.names" | wc -l)
  if [ "${only_noisy}" -gt 0 ] || [ "${only_clean}" -gt 0 ]; then
    die "${noisy} and ${clean} do not hold the same files: ${only_noisy} noisy file(s) without clean counterpart (e.g. $(LC_ALL=C comm -23 "${tmp}/noisy.names" "${tmp}/clean.names" | head -n 3 | tr '\n' ' ')), ${only_clean} clean file(s) without noisy counterpart (e.g. $(LC_ALL=C comm -13 "${tmp}/noisy.names" "${tmp}/clean.names" | head -n 3 | tr '\n' ' ')). Is the download complete?"
  fi
  awk -v nd="${noisy}" -v cd="${clean}" '{
      utt = substr($0, 1, length($0) - 4); spk = utt; sub(/_.*/, "", spk)
      print utt, nd "/" $0, cd "/" $0, spk
    }' "${tmp}/noisy.names" >"${out}"
}

# write_set LIST NAME: data dir NAME from "utt noisy clean spk" lines, replaced atomically.
write_set() {
  local list=$1 name=$2
  local dir=${datadir}/${name}
  local new=${datadir}/.${name}.new.$$
  [ -s "${list}" ] || die "no utterances for ${datadir}/${name}"
  rm -rf "${new}"
  mkdir -p "${new}"
  awk '{ print $1, $2 }' "${list}" | write_sorted "${new}/wav.scp"
  awk '{ print $1, $3 }' "${list}" | write_sorted "${new}/spk1.scp"
  awk '{ print $1, $4 }' "${list}" | write_sorted "${new}/utt2spk"
  awk '{ u[$2] = u[$2] " " $1 } END { for (s in u) print s u[s] }' "${new}/utt2spk" |
    write_sorted "${new}/spk2utt"
  check_unique_keys "${new}/wav.scp"
  rm -rf "${dir}"
  mv "${new}" "${dir}"
  log "${dir}: $(wc -l <"${dir}/wav.scp") utterances, $(wc -l <"${dir}/spk2utt") speakers"
}

mkdir -p "${datadir}"
list_pairs "${corpus_dir}/noisy_trainset_28spk_wav" "${corpus_dir}/clean_trainset_28spk_wav" "${tmp}/trainset"
list_pairs "${corpus_dir}/noisy_testset_wav" "${corpus_dir}/clean_testset_wav" "${tmp}/testset"

awk -v v="${valid_speakers}" 'BEGIN { n = split(v, a, " "); for (i = 1; i <= n; i++) keep[a[i]] = 1 }
  ($4 in keep)' "${tmp}/trainset" >"${tmp}/valid"
awk -v v="${valid_speakers}" 'BEGIN { n = split(v, a, " "); for (i = 1; i <= n; i++) keep[a[i]] = 1 }
  !($4 in keep)' "${tmp}/trainset" >"${tmp}/train"
[ -s "${tmp}/valid" ] ||
  die "no utterance of the validation speakers (${valid_speakers}) in ${corpus_dir}/noisy_trainset_28spk_wav: choose others with --valid_speakers"
[ -s "${tmp}/train" ] ||
  die "no training utterance left in ${corpus_dir}/noisy_trainset_28spk_wav after taking out the validation speakers (${valid_speakers})"

write_set "${tmp}/train" train
write_set "${tmp}/valid" valid
write_set "${tmp}/testset" test
if "${noise_ref}"; then
  for name in train valid test; do
    ${CFFMA_PYTHON:-python} -m espnet_cffma.recipe.noise_reference \
      --data_dir "${datadir}/${name}" --audio_dir "${datadir}/noise_audio/${name}"
  done
fi
log "Data dirs ready: ${datadir}/{train,valid,test}"
