# Shell helpers shared by the benchmark scripts (sourced, not run).
#
#   bench_init NAME        cd to the repository ($root), make a work directory
#                          ($work, removed at exit) and check for /usr/bin/time
#   bench_build ARGS...    cargo build --release ARGS (in the repository);
#                          sets $bin (the release directory, also under
#                          CARGO_TARGET_DIR) and $ms (the mailseal binary)
#   measure CMD...         runs CMD (output to /dev/null) RUNS times; sets
#                          $secs (best wall time, s, to 0.1 ms) and $mib
#                          (peak RSS, MiB, from one more run under
#                          /usr/bin/time). Stops the script if CMD fails.
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
  local best="" start end s
  for _ in $(seq "$RUNS"); do
    start=$EPOCHREALTIME
    if ! "$@" >/dev/null 2>"$work/stderr" </dev/null; then
      echo "failed: $*" >&2
      cat "$work/stderr" >&2
      exit 1
    fi
    end=$EPOCHREALTIME
    s=$(awk "BEGIN{printf \"%.4f\", $end - $start}")
    if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
  done
  # Peak memory from one more run: under /usr/bin/time, which adds a
  # millisecond or two that is not the command's (more for a larger
  # binary), so the times above are taken without it.
  /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>/dev/null </dev/null
  secs=$best
  mib=$(awk "BEGIN{printf \"%.0f\", $(tail -n 1 "$work/time")/1024}")
}

text_message() {
  { printf 'From: %s\r\nTo: %s\r\nSubject: benchmark\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n' "$2" "$3"
    head -c $(($4 * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } >"$1"
}
