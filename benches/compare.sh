#!/usr/bin/env bash
# Side-by-side benchmarks against gpg (DESIGN.md §7), same inputs, same run.
#
#   benches/compare.sh            # 100 MB message, 4 KB message with 10,000 certs
#   SIZE_MB=20 CERTS=1000 benches/compare.sh   # quicker
#
# Prints wall time (s) and peak resident memory (MiB) of each command,
# measured with /usr/bin/time; the best of RUNS runs is reported.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-100}
CERTS=${CERTS:-10000}
RUNS=${RUNS:-3}
work=$(mktemp -d /tmp/mailseal-bench.XXXXXX)
trap 'GNUPGHOME=$work/gpg gpgconf --kill all 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release --quiet --bin mailseal --example gen_certs
ms=$PWD/target/release/mailseal
export GNUPGHOME=$work/gpg
mkdir -m 700 "$GNUPGHOME"
G=(gpg --batch --no-tty --quiet --trust-model always)
g() { "${G[@]}" "$@"; }

# measure LABEL CMD... : best wall time and the peak RSS of that run.
measure() {
  local label=$1; shift
  local best="" mem=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
    read -r secs kb <"$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; mem=$kb; fi
  done
  printf '%-58s %8.2f s %8.1f MiB\n' "$label" "$best" "$(awk "BEGIN{print $mem/1024}")"
}

# Recipients: a gpg-made v4 key (SEIPDv1) and a mailseal RFC 9580 key (SEIPDv2).
g --passphrase '' --quick-gen-key bob@example.net ed25519 sign 2y
fpr=$(g --with-colons --list-keys bob@example.net | awk -F: '/^fpr/{print $10; exit}')
g --passphrase '' --quick-add-key "$fpr" cv25519 encr 2y
v4=$work/v4; v6=$work/v6
g --export bob@example.net | "$ms" -q --home "$v4" cert import
"$ms" -q --home "$work/v6key" key generate carol@example.net --profile rfc9580 >/dev/null
"$ms" -q --home "$work/v6key" key export carol@example.net --public | "$ms" -q --home "$v6" cert import

msg_big=$work/big.eml
{ printf 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: big\r\n\r\n'
  head -c $((SIZE_MB * 1024 * 1024 * 3 / 4)) /dev/urandom | base64 -w 76; } >"$msg_big"
sed 's/bob@example.net/carol@example.net/' "$msg_big" >"$work/big6.eml"
echo "== ${SIZE_MB} MB-class message ($(du -m "$msg_big" | cut -f1) MiB), armored, no compression"
measure "gpg -a -z 0 -e (v4 recipient)" "${G[@]}" -a -z 0 -e -r bob@example.net -o - "$msg_big"
measure "mailseal encrypt --no-sign (v4 recipient, SEIPDv1)" "$ms" -q --home "$v4" encrypt --no-sign "$msg_big"
measure "mailseal encrypt --no-sign (RFC 9580 recipient, SEIPDv2)" "$ms" -q --home "$v6" encrypt --no-sign "$work/big6.eml"

echo "== 4 KB message, $CERTS certificates in each store"
target/release/examples/gen_certs "$CERTS" >"$work/certs.pgp"
g --import "$work/certs.pgp" 2>/dev/null || true
"$ms" -q --home "$v4" cert import "$work/certs.pgp"
msg_small=$work/small.eml
{ printf 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: small\r\n\r\n'
  head -c 3000 /dev/urandom | base64 -w 76; } >"$msg_small"
measure "gpg -a -e (4 KB, $CERTS certs)" "${G[@]}" -a -e -r bob@example.net -o - "$msg_small"
measure "mailseal encrypt --no-sign (4 KB, $CERTS certs)" "$ms" -q --home "$v4" encrypt --no-sign "$msg_small"
