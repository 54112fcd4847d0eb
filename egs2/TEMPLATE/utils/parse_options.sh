#!/usr/bin/env bash
# Command-line option parser for the recipe scripts (sourced, not executed).
#
# Usage, inside a script that has already set its defaults:
#     stage=1
#     use_gpu=false
#     help_message="Usage: $0 [options] <arg>"
#     . utils/parse_options.sh
#
# Every "--some-name VALUE" or "--some_name=VALUE" sets the shell variable
# "some_name" (dashes become underscores), which must already exist: an unknown
# option is an error, so a typo cannot be silently ignored. When the default is
# "true" or "false", the new value must be "true" or "false" too. "--help" or
# "-h" prints $help_message and exits. Parsing stops at the first argument that
# does not start with "--" (or after a bare "--"); the remaining arguments are
# left in "$@" for the caller.

__po_die() {
  echo "$0: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --help | -h)
      if [ -n "${help_message:-}" ]; then
        printf '%s\n' "$help_message" >&2
      else
        echo "$0: no help message available" >&2
      fi
      exit 0
      ;;
    --)
      shift
      break
      ;;
    --*=*)
      __po_opt=${1%%=*}
      __po_val=${1#*=}
      shift
      ;;
    --*)
      __po_opt=$1
      [ $# -ge 2 ] || __po_die "option '$__po_opt' needs a value"
      __po_val=$2
      shift 2
      ;;
    *)
      break
      ;;
  esac
  __po_name=${__po_opt#--}
  __po_name=${__po_name//-/_}
  # A shell variable name: letters, digits and underscores, not starting with a digit.
  [[ $__po_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || __po_die "invalid option '$__po_opt'"
  # ${var+x} is empty only when var was never set: the script declared no such option.
  [ -n "${!__po_name+x}" ] || __po_die "unknown option '$__po_opt'"
  __po_old=${!__po_name}
  if [ "$__po_old" = true ] || [ "$__po_old" = false ]; then
    [ "$__po_val" = true ] || [ "$__po_val" = false ] ||
      __po_die "option '$__po_opt' takes true or false, got '$__po_val'"
  fi
  printf -v "$__po_name" '%s' "$__po_val"
done
unset __po_opt __po_val __po_name __po_old
true
