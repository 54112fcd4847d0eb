#!/usr/bin/env bash
# The command line of a recipe's run.sh, read in one place (sourced, not executed).
#
# Usage, in egs2/<corpus>/run.sh after its settings:
#     expdir=exp
#     enh_config=
#     run_options="expdir enh_config"     # settings the command line may change
#     . scripts/utils/run_options.sh "$@"
#
# Takes out of the command line
#   --demo true|false     a demo run (below)
#   --demo_<name> VALUE   an option of the demo corpus, passed on to local/data.sh,
#                         which checks it (local/data.sh --help lists them)
#   --<name> VALUE        a setting listed in run_options (it must exist already;
#                         a true/false one takes true or false)
# and leaves every other option, in order, in the array cffma_args (for cffma.sh,
# which checks them). --name=VALUE is the same as --name VALUE. --help prints
# run.sh's header comment, its own options, then cffma.sh --help.
#
# A demo run (--demo true): local/data.sh first builds a small demo corpus from
# real speech and noise found in Debian packages; stage 3 writes a tiny
# RANDOM-weight WavLM checkpoint at <expdir>/ssl/demo_wavlm_random.pt; training
# uses conf/tuning/train_demo.yaml unless --enh_config is given, on the CPU
# (--ngpu 0) with 2 parallel jobs. Options given on the command line win.
#
# Sets:
#   demo             true or false
#   demo_<name>      each --demo_<name> given (run.sh may read them)
#   local_demo_opts  "--demo true --demo_<name> VALUE ..." for local/data.sh
#                    (empty unless --demo true)
#   cffma_demo_args  the cffma.sh options of a demo run (empty unless --demo true);
#                    pass them before "${cffma_args[@]}"
#   enh_config       conf/tuning/train_demo.yaml for a demo run when it was empty
#   cffma_args       the options for cffma.sh

__ro_die() {
  echo "$0: $*" >&2
  exit 1
}

[ -n "${expdir+x}" ] || __ro_die "run_options.sh: set expdir before sourcing me (the demo checkpoint lives there)"
demo=false
local_demo_opts=
cffma_demo_args=()
cffma_args=()

while [ $# -gt 0 ]; do
  case "$1" in
    --help | -h)
      # The header comment of run.sh, without the shebang.
      awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
      echo
      echo "Options of $0: --demo true|false, --demo_<name> VALUE (local/data.sh --help lists them),"
      echo "  $(for o in ${run_options:-}; do printf -- '--%s ' "${o}"; done)"
      echo "Every other option goes to cffma.sh:"
      ./cffma.sh --help
      exit 0
      ;;
    --*=*)
      set -- "${1%%=*}" "${1#*=}" "${@:2}"
      continue
      ;;
    --*)
      __ro_name=${1#--}
      __ro_name=${__ro_name//-/_}
      if [ "${__ro_name}" = demo ] || [[ ${__ro_name} =~ ^demo_[A-Za-z0-9_]+$ ]] ||
        [[ " ${run_options:-} " == *" ${__ro_name} "* ]]; then
        [ $# -ge 2 ] || __ro_die "option '$1' needs a value"
        if [ "${__ro_name}" = demo ]; then
          case "$2" in true | false) ;; *) __ro_die "--demo takes true or false, got '$2'" ;; esac
        elif [[ ${__ro_name} == demo_* ]]; then
          local_demo_opts+=" --${__ro_name} $2"
        elif [ "${!__ro_name+x}" != x ]; then
          __ro_die "run_options.sh: run.sh lists '${__ro_name}' in run_options but does not set it"
        elif [ "${!__ro_name}" = true ] || [ "${!__ro_name}" = false ]; then
          case "$2" in true | false) ;; *) __ro_die "option '$1' takes true or false, got '$2'" ;; esac
        fi
        printf -v "${__ro_name}" '%s' "$2"
        shift 2
      elif [ $# -ge 2 ]; then
        # Every cffma.sh option takes a value: keep the pair together, so that a
        # value such as "--max_epoch 1" is never read as an option.
        cffma_args+=("$1" "$2")
        shift 2
      else
        cffma_args+=("$1")
        shift
      fi
      ;;
    *)
      cffma_args+=("$1")
      shift
      ;;
  esac
done
unset __ro_name

if "${demo}"; then
  local_demo_opts="--demo true${local_demo_opts}"
  enh_config=${enh_config:-conf/tuning/train_demo.yaml}
  cffma_demo_args=(
    --ssl_ckpt "${expdir}/ssl/demo_wavlm_random.pt"
    --ssl_random_init true
    --ngpu 0
    --nj 2
    --inference_nj 2
  )
elif [ -n "${local_demo_opts}" ]; then
  __ro_die "the options${local_demo_opts} need --demo true"
fi
