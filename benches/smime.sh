#!/usr/bin/env bash
# S/MIME side by side with `openssl cms -encrypt` and `-decrypt` (DESIGN.md
# §7): the same 4 KB and 100 MB messages to the same RSA-2048 and P-256
# certificates, and decrypted with the same RSA-2048 key.
#
#   benches/smime.sh              # 100 MB and 4 KB
#   SIZE_MB=20 benches/smime.sh   # quicker
#
# Prints wall time (s) and peak resident memory (MiB) of each command,
# measured with /usr/bin/time; the best of RUNS runs is reported.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-100}
RUNS=${RUNS:-3}
work=$(mktemp -d /tmp/mailseal-smime-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet --bin mailseal
ms=${CARGO_TARGET_DIR:-$PWD/target}/release/mailseal

measure() {
  local label=$1; shift
  local best="" mem=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
    read -r secs kb <"$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; mem=$kb; fi
  done
  printf '%-62s %8.2f s %8.1f MiB\n' "$label" "$best" "$(awk "BEGIN{print $mem/1024}")"
}

cd "$work"
o() { openssl "$@" 2>/dev/null; }
o req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=Bench-Root \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
for who in bob:rsa:2048:keyEncipherment dave:ec::keyAgreement; do
  IFS=: read -r name alg bits usage <<<"$who"
  if [ "$alg" = rsa ]; then newkey=(-newkey "rsa:$bits"); else newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
  o req -new -nodes "${newkey[@]}" -keyout "$name.key" -out "$name.csr" -subj "/CN=$name"
  printf 'subjectAltName=email:%s@example.net\nkeyUsage=critical,digitalSignature,%s\nextendedKeyUsage=emailProtection\n' "$name" "$usage" >"$name.ext"
  o x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile "$name.ext" -out "$name.pem"
done
home=$work/home
mkdir -m 700 "$home"
printf '[smime]\ntrust_anchors = ["%s/ca.pem"]\n[policy]\nencrypt_to_self = false\n' "$work" >"$home/config.toml"
"$ms" -q --home "$home" cert import bob.pem
"$ms" -q --home "$home" cert import dave.pem
cat bob.key bob.pem | "$ms" -q --home "$home" key import

mk() { # mk FILE TO BYTES
  { printf 'From: alice@example.org\r\nTo: %s\r\nSubject: bench\r\n\r\n' "$2"
    head -c $(($3 * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } >"$1"
}
for size in "$SIZE_MB MB:$((SIZE_MB * 1024 * 1024))" "4 KB:4096"; do
  IFS=: read -r label bytes <<<"$size"
  mk bob.eml bob@example.net "$bytes"
  mk dave.eml dave@example.net "$bytes"
  echo "== $label message ($(du -k bob.eml | cut -f1) KiB), to one recipient"
  measure "openssl cms -encrypt -aes-256-gcm (RSA-2048)" openssl cms -encrypt -aes-256-gcm -in bob.eml bob.pem
  measure "mailseal encrypt --smime (GCM, RSA-2048)" "$ms" -q --home "$home" encrypt --smime --no-sign bob.eml
  measure "openssl cms -encrypt -aes256 (CBC, RSA-2048)" openssl cms -encrypt -aes256 -in bob.eml bob.pem
  measure "mailseal encrypt --smime --content-cipher aes256-cbc (RSA-2048)" "$ms" -q --home "$home" encrypt --smime --no-sign --content-cipher aes256-cbc bob.eml
  measure "openssl cms -encrypt -aes-256-gcm (P-256 ECDH)" openssl cms -encrypt -aes-256-gcm -in dave.eml dave.pem
  measure "mailseal encrypt --smime (GCM, P-256 ECDH)" "$ms" -q --home "$home" encrypt --smime --no-sign dave.eml
  o cms -encrypt -aes-256-gcm -in bob.eml -out gcm-openssl.eml bob.pem
  "$ms" -q --home "$home" encrypt --smime --no-sign -o gcm-mailseal.eml bob.eml
  o cms -encrypt -aes256 -in bob.eml -out cbc-openssl.eml bob.pem
  for sealed in gcm-openssl gcm-mailseal cbc-openssl; do
    measure "openssl cms -decrypt ($sealed)" openssl cms -decrypt -recip bob.pem -inkey bob.key -in $sealed.eml
    measure "mailseal decrypt --allow-unauthenticated ($sealed)" "$ms" -q --home "$home" decrypt --allow-unauthenticated $sealed.eml
  done
done
