#!/usr/bin/env bash
# Small shell helpers shared by cffma.sh and the recipes' local/ scripts (sourced).

# log MESSAGE...: timestamped message on stderr, with the calling script and line.
log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]:-main}) $*" >&2
}

# die MESSAGE...: log the message as an error and exit 1.
die() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}) ERROR: $*" >&2
  exit 1
}

# min N...: the smallest of the integers.
min() {
  local m=$1 x
  for x in "$@"; do [ "$x" -lt "$m" ] && m=$x; done
  echo "$m"
}

# write_sorted OUT: sorts stdin (C order, unique lines) into OUT atomically, so that
# an interrupted or repeated run never leaves a partial file or duplicated entries.
write_sorted() {
  local out=$1 tmp
  mkdir -p "$(dirname "$out")"
  tmp=$(mktemp "${out}.tmp.XXXXXX")
  LC_ALL=C sort -u >"$tmp"
  mv -f "$tmp" "$out"
}

# check_unique_keys FILE: fails when a key (first field) appears twice with
# different values (write_sorted only removes identical duplicate lines).
check_unique_keys() {
  local dup
  dup=$(cut -d' ' -f1 "$1" | LC_ALL=C uniq -d | head -n 3 | tr '\n' ' ')
  [ -z "$dup" ] || die "$1: utterance ids appear more than once: ${dup}"
}

# split_scp IN N PREFIX: splits IN into N contiguous pieces PREFIX.1.scp..PREFIX.N.scp
# (N must not exceed the number of lines). Old pieces of PREFIX are removed first.
split_scp() {
  local in=$1 n=$2 prefix=$3 total
  total=$(wc -l <"$in")
  [ "$n" -ge 1 ] && [ "$n" -le "$total" ] || die "cannot split $in ($total lines) into $n"
  mkdir -p "$(dirname "$prefix")"
  rm -f "${prefix}".*.scp
  awk -v n="$n" -v total="$total" -v prefix="$prefix" \
    '{ i = int((NR - 1) * n / total) + 1; print > (prefix "." i ".scp") }' "$in"
}

# Done markers: DIR/.done holds a signature (the settings and input checksums of
# the step). A step is skipped only when its marker matches; otherwise it is redone
# from scratch, so an interrupted step, or one whose settings changed, runs again.
is_done() { [ -f "$1/.done" ] && [ "$(cat "$1/.done")" = "$2" ]; }
mark_done() {
  mkdir -p "$1"
  printf '%s\n' "$2" >"$1/.done.tmp"
  mv -f "$1/.done.tmp" "$1/.done"
}
clear_done() { rm -f "$1/.done"; }

# file_sig FILE...: a short signature of files' contents (for done markers).
file_sig() { cat "$@" 2>/dev/null | md5sum | cut -c1-12; }
