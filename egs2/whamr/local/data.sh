#!/usr/bin/env bash
# Stage 1 of the WHAMR! recipe: Kaldi-style data dirs for one single-speaker task.
#
# From a generated WHAMR! corpus (16 kHz, wav16k/{min,max}/{tr,cv,tt}/...):
#   task      input (wav.scp)        target (spk1.scp)  noise1.scp  dereverb1.scp
#   denoise   mix_single_anechoic    s1_anechoic        noise       -
#   dereverb  s1_reverb              s1_anechoic        -           s1_anechoic
#   joint     mix_single_reverb      s1_anechoic        noise       s1_anechoic
# written to <datadir>/<task>_<min|max>_{tr,cv,tt} with utt2spk and spk2utt.
#
# spk1.scp is always the target the model learns and is scored against: the
# anechoic (direct-path) speech, as in BSS-CFFMA's WHAMR! experiments (ESPnet's
# own whamr recipe targets s1_reverb instead, i.e. denoising only).
# dereverb1.scp follows ESPnet's meaning, "the dereverberated reference of
# speaker 1": s1_anechoic, the same files as spk1.scp here; it is written only
# where the input is reverberant, for ESPnet models trained with
# --use_dereverb_ref true. noise1.scp (the noise added to the speech) is written
# where the input is noisy, for --use_noise_ref true. Utterance ids are the file
# names; the speaker is their first three characters (the WSJ0 speaker of s1).
#
# With --demo true it first builds a small demo corpus in the same layout
# (espnet_cffma.demo.whamr) and prepares that instead.
set -euo pipefail

datadir=data
corpus_dir=            # default: WHAMR from db.sh
task=joint             # denoise, dereverb or joint
min_or_max=min         # WHAMR!'s min (mixture cut to the shorter signal) or max version
demo=false
demo_dir=              # default: demo_corpus/whamr (small), else demo_corpus/whamr_<size>
demo_size=small        # the builder's preset: tiny (tests), small (README), large (~1.7 h of tr audio)
demo_voices=           # Debian speech: many (Asterisk + KDE, 33 people) or asterisk (4 people); default: the size's
demo_n_tr=             # demo sizes overriding the preset (optional)
demo_n_cv=
demo_n_tt=
demo_seed=0
demo_speech=           # folder of real speech recordings for the demo (optional)
demo_noise=            # folder of noise recordings for the demo (optional)
demo_cache=            # cache of the demo's downloaded sources (default: the builder's)

help_message="Usage: local/data.sh [--datadir data] [--corpus_dir DIR] [--task denoise|dereverb|joint]
                     [--min_or_max min|max]
                     [--demo true --demo_dir DIR --demo_size tiny|small|large --demo_voices many|asterisk
                      --demo_n_tr N --demo_n_cv N --demo_n_tt N --demo_speech DIR --demo_noise DIR]"

. utils/parse_options.sh
. scripts/utils/lib.sh
. ./db.sh

case "${task}" in
  denoise) input=mix_single_anechoic noise=noise dereverb= ;;
  dereverb) input=s1_reverb noise= dereverb=s1_anechoic ;;
  joint) input=mix_single_reverb noise=noise dereverb=s1_anechoic ;;
  *) die "--task ${task}: choose denoise, dereverb or joint" ;;
esac
target=s1_anechoic
case "${min_or_max}" in min | max) ;; *) die "--min_or_max ${min_or_max}: choose min or max" ;; esac

corpus_help="WHAMR! is not distributed as audio: it is generated from the WSJ0 corpus (LDC93S6A,
licensed from the LDC) and the WHAM! noise set (wham_noise), with the WHAMR! generation
scripts; the noise and the scripts come from the WHAM! website. Run the scripts' from-scratch
generation (create_wham_from_scratch.py, given the WSJ0 root, the WHAM! noise root and an
output folder) so that it writes the 16 kHz ${min_or_max} version (wav16k/${min_or_max}), then set
WHAMR=<output folder> in db.sh (or pass --local_data_opts '--corpus_dir <folder>').
To try the recipe without the corpus: ./run.sh --demo true"

if "${demo}"; then
  case "${demo_size}" in minimal) demo_size=tiny ;; default) demo_size=small ;; esac
  if [ -z "${demo_dir}" ]; then
    demo_dir=demo_corpus/whamr
    [ "${demo_size}" = small ] || demo_dir+="_${demo_size}"
  fi
  build_opts=(--out "${demo_dir}" --size "${demo_size}" --seed "${demo_seed}")
  [ -n "${demo_voices}" ] && build_opts+=(--voices "${demo_voices}")
  [ -n "${demo_n_tr}" ] && build_opts+=(--n_tr "${demo_n_tr}")
  [ -n "${demo_n_cv}" ] && build_opts+=(--n_cv "${demo_n_cv}")
  [ -n "${demo_n_tt}" ] && build_opts+=(--n_tt "${demo_n_tt}")
  [ -n "${demo_speech}" ] && build_opts+=(--speech_dir "${demo_speech}")
  [ -n "${demo_noise}" ] && build_opts+=(--noise_dir "${demo_noise}")
  [ -n "${demo_cache}" ] && build_opts+=(--cache_dir "${demo_cache}")
  # The builder returns at once when the corpus is already complete.
  log "Demo corpus: python -m espnet_cffma.demo.whamr ${build_opts[*]}"
  ${CFFMA_PYTHON:-python} -m espnet_cffma.demo.whamr "${build_opts[@]}"
  corpus_dir=${demo_dir}
fi

corpus_dir=${corpus_dir:-${WHAMR}}
[ -n "${corpus_dir}" ] || die "WHAMR is not set.\n${corpus_help}"
[ -d "${corpus_dir}" ] || die "WHAMR! folder not found: ${corpus_dir}\n${corpus_help}"
root=${corpus_dir}/wav16k/${min_or_max}
if [ ! -d "${corpus_dir}/wav16k" ] && [ -d "${corpus_dir}/wav8k" ]; then
  die "${corpus_dir} has only the 8 kHz version (wav8k/); BSS-CFFMA works at 16 kHz: generate wav16k/ as well.\n${corpus_help}"
fi

# Every folder the task reads, in every split; all missing ones are named at once.
kinds="${input} ${target} ${noise}"
missing=()
for split in tr cv tt; do
  for kind in ${kinds}; do
    [ -d "${root}/${split}/${kind}" ] || missing+=("${root}/${split}/${kind}")
  done
done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing WHAMR! folder(s) for the ${task} task (${input} -> ${target}):$(printf '\n  %s' "${missing[@]}")\n${corpus_help}"
fi
corpus_dir=$(cd "${corpus_dir}" && pwd)
root=${corpus_dir}/wav16k/${min_or_max}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/whamr_data.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT

# wav_names DIR: sorted file names of the .wav files in DIR (symlinks followed).
wav_names() { find -L "$1" -maxdepth 1 -type f -name '*.wav' | sed 's|.*/||' | LC_ALL=C sort; }

# same_names DIR_A DIR_B: fails unless both folders hold the same .wav names.
same_names() {
  local a=$1 b=$2 only_a only_b
  wav_names "${b}" >"${tmp}/b.names"
  only_a=$(LC_ALL=C comm -23 "${tmp}/names" "${tmp}/b.names" | wc -l)
  only_b=$(LC_ALL=C comm -13 "${tmp}/names" "${tmp}/b.names" | wc -l)
  if [ "${only_a}" -gt 0 ] || [ "${only_b}" -gt 0 ]; then
    die "${a} and ${b} do not hold the same files: ${only_a} only in the first (e.g. $(LC_ALL=C comm -23 "${tmp}/names" "${tmp}/b.names" | head -n 3 | tr '\n' ' ')), ${only_b} only in the second (e.g. $(LC_ALL=C comm -13 "${tmp}/names" "${tmp}/b.names" | head -n 3 | tr '\n' ' ')). Did the WHAMR! generation finish?"
  fi
}

# write_list DIR OUT: "utt DIR/utt.wav" for every listed name, sorted, atomically.
write_list() { awk -v d="$1" '{ print substr($0, 1, length($0) - 4), d "/" $0 }' "${tmp}/names" | write_sorted "$2"; }

mkdir -p "${datadir}"
for split in tr cv tt; do
  name=${task}_${min_or_max}_${split}
  dir=${datadir}/${name}
  new=${datadir}/.${name}.new.$$
  wav_names "${root}/${split}/${input}" >"${tmp}/names"
  [ -s "${tmp}/names" ] || die "no .wav files in ${root}/${split}/${input}\n${corpus_help}"
  if grep -q '[[:space:]]' "${tmp}/names"; then
    die "${root}/${split}/${input}: file names with spaces cannot be utterance ids (e.g. $(grep '[[:space:]]' "${tmp}/names" | head -n 1))"
  fi
  for kind in ${target} ${noise}; do
    same_names "${root}/${split}/${input}" "${root}/${split}/${kind}"
  done
  rm -rf "${new}"
  mkdir -p "${new}"
  write_list "${root}/${split}/${input}" "${new}/wav.scp"
  write_list "${root}/${split}/${target}" "${new}/spk1.scp"
  [ -n "${noise}" ] && write_list "${root}/${split}/${noise}" "${new}/noise1.scp"
  [ -n "${dereverb}" ] && write_list "${root}/${split}/${dereverb}" "${new}/dereverb1.scp"
  awk '{ print $1, substr($1, 1, 3) }' "${new}/wav.scp" | write_sorted "${new}/utt2spk"
  awk '{ u[$2] = u[$2] " " $1 } END { for (s in u) print s u[s] }' "${new}/utt2spk" |
    write_sorted "${new}/spk2utt"
  check_unique_keys "${new}/wav.scp"
  rm -rf "${dir}"
  mv "${new}" "${dir}"
  log "${dir}: $(wc -l <"${dir}/wav.scp") utterances, $(wc -l <"${dir}/spk2utt") speakers (${input} -> ${target})"
done
log "Data dirs ready: ${datadir}/${task}_${min_or_max}_{tr,cv,tt}"
