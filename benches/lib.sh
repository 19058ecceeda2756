# Shell helpers shared by the benchmark scripts (sourced, not run).
#
#   bench_init NAME        cd to the repository ($root), make a work directory
#                          ($work, removed at exit) and check for /usr/bin/time
#   bench_build ARGS...    cargo build --release ARGS (in the repository);
#                          sets $bin (the release directory, also under
#                          CARGO_TARGET_DIR) and $ms (the mailseal binary)
#   measure CMD...         runs CMD (output to /dev/null) RUNS times; sets
#                          $secs (best wall time, s) and $mib (peak RSS of
#                          that run, MiB, from /usr/bin/time). Stops the
#                          script if CMD fails.
#   text_message FILE FROM TO BYTES
#                          a text message of about BYTES bytes (CRLF lines
#                          of base64 text)

RUNS=${RUNS:-3}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# With RUST_BACKTRACE set, every error value sequoia creates internally
# captures a backtrace (about 5% of the agent's CPU); users do not run so.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

bench_init() {
  cd "$root"
  if [ ! -x /usr/bin/time ]; then
    echo "$0: needs GNU time for peak memory: apt-get install time" >&2
    exit 1
  fi
  work=$(mktemp -d "/tmp/mailseal-$1.XXXXXX")
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [ -d "$work/gpg" ]; then GNUPGHOME=$work/gpg gpgconf --kill all 2>/dev/null || true; fi
  rm -rf "$work"
}

bench_build() {
  (cd "$root" && cargo build --release --quiet "$@")
  bin=${CARGO_TARGET_DIR:-$root/target}/release
  ms=$bin/mailseal
}

measure() {
  local best="" kib="" start end s k
  for _ in $(seq "$RUNS"); do
    start=$EPOCHREALTIME
    if ! /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr"; then
      echo "failed: $*" >&2
      cat "$work/stderr" >&2
      exit 1
    fi
    end=$EPOCHREALTIME
    s=$(awk "BEGIN{printf \"%.3f\", $end - $start}")
    k=$(tail -n 1 "$work/time")
    if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; kib=$k; fi
  done
  secs=$best
  mib=$(awk "BEGIN{printf \"%.0f\", $kib/1024}")
}

text_message() {
  { printf 'From: %s\r\nTo: %s\r\nSubject: benchmark\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n' "$2" "$3"
    head -c $(($4 * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } >"$1"
}
