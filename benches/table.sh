#!/usr/bin/env bash
# mailseal side by side with gpg and openssl (issue 12, DESIGN.md §7): the
# same text messages (4 KB and 100 MB), the same keys, in one run; wall time
# (best of RUNS; best of SMALL_RUNS, default 15, for messages under 1 MiB,
# which take milliseconds), peak resident memory (/usr/bin/time) and the ratio
# peer/mailseal (above 1: mailseal is faster). Then 4 KB encryption with
# CERTS certificates in each store, and the agent's peak memory with 20
# concurrent 24 MB messages (examples/agent_bench.rs, sealed and queued).
# gpg's peak is that of the gpg process: its secret-key operations run in
# gpg-agent, which is not counted.
#
#   benches/table.sh                              # everything, best of 3
#   SIZES="4096 1048576" RUNS=1 CERTS=0 AGENT=0 benches/table.sh   # quick
#
# Needs gpg, openssl and GNU time (`apt-get install time`); builds the
# release binary itself. Keys: a gpg-made v4 key (Ed25519/Cv25519, so
# SEIPDv1), a mailseal RFC 9580 key (SEIPDv2; gpg 2.2 cannot read it, so
# its peer figure is gpg decrypting the SEIPDv1 message), an RSA-2048
# S/MIME certificate from a test CA.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init table
bench_build --bin mailseal --example agent_bench --example gen_certs

SIZES=${SIZES:-"4096 104857600"}
CERTS=${CERTS:-10000}
AGENT=${AGENT:-1}
# Best of 3 runs of a few milliseconds is noise on a busy machine.
SMALL_RUNS=${SMALL_RUNS:-15}
big_runs=$RUNS
small_runs=$((RUNS > SMALL_RUNS ? RUNS : SMALL_RUNS))
cd "$work"

# Keys. OpenPGP: Bob (gpg, v4) and Carol (mailseal, RFC 9580).
export GNUPGHOME=$work/gpg
mkdir -m 700 "$GNUPGHOME"
G=(gpg --batch --yes --no-tty --quiet --trust-model always)
"${G[@]}" --passphrase '' --quick-gen-key bob@example.net ed25519 sign 2y
fpr=$("${G[@]}" --with-colons --list-keys bob@example.net | awk -F: '/^fpr/{print $10; exit}')
"${G[@]}" --passphrase '' --quick-add-key "$fpr" cv25519 encr 2y
"${G[@]}" --export-secret-keys bob@example.net | "$ms" -q --home pgp4 key import
"$ms" -q --home pgp6 key generate carol@example.net --profile rfc9580 >/dev/null
# S/MIME: Bob's RSA-2048 certificate from a test CA.
o() { openssl "$@" 2>/dev/null; }
o req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj /CN=Bench-Root \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
o req -new -nodes -newkey rsa:2048 -keyout bob.key -out bob.csr -subj /CN=bob
printf 'subjectAltName=email:bob@example.net\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\n' >bob.ext
o x509 -req -in bob.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile bob.ext -out bob.pem
mkdir -m 700 smime
printf '[smime]\ntrust_anchors = ["%s/ca.pem"]\n[policy]\nencrypt_to_self = false\n' "$work" >smime/config.toml
cat bob.key bob.pem | "$ms" -q --home smime key import

# row OPERATION PEER: the last two measurements, mailseal's first.
mine() { my_secs=$secs my_mib=$mib; }
row() {
  local ratio
  ratio=$(awk -v p="$secs" -v m="$my_secs" 'BEGIN{
    if (m <= 0 || p <= 0) { print "—"; exit }
    r = p / m
    if (r >= 1) printf "%.2f (%.1f× faster)", r, r; else printf "%.2f (%.1f× slower)", r, 1 / r }')
  printf '| %s | %s s | %s %s s | %s | %s MiB | %s MiB |\n' "$1" "$my_secs" "$2" "$secs" "$ratio" "$my_mib" "$mib"
}

uptime
echo "RUNS=$RUNS (under 1 MiB: $small_runs), $(nproc) CPUs; $(gpg --version | head -n 1), $(openssl version)"
for size in $SIZES; do
  if [ "$size" -lt 1048576 ]; then RUNS=$small_runs; else RUNS=$big_runs; fi
  label=$(awk -v b="$size" 'BEGIN{ if (b >= 1048576) printf "%d MB", b / 1048576; else printf "%d KB", b / 1024 }')
  text_message bob.eml bob@example.net bob@example.net "$size"
  sed 's/bob@example.net/carol@example.net/' bob.eml >carol.eml
  echo
  echo "## $label text message ($(wc -c <bob.eml) bytes)"
  echo
  echo "| operation | mailseal | peer | ratio | mailseal peak | peer peak |"
  echo "| --- | --- | --- | --- | --- | --- |"

  "$ms" -q --home pgp4 encrypt --no-sign bob.eml >enc4.eml
  "$ms" -q --home pgp6 encrypt --no-sign carol.eml >enc6.eml
  sed -n '/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p' enc4.eml >enc4.asc
  measure "$ms" -q --home pgp4 decrypt enc4.eml; mine
  measure "${G[@]}" --decrypt -o - enc4.asc
  row "PGP/MIME decrypt (SEIPDv1, v4 key)" "gpg --decrypt"
  gpg_secs=$secs gpg_mib=$mib
  measure "$ms" -q --home pgp6 decrypt enc6.eml; mine
  secs=$gpg_secs mib=$gpg_mib
  row "PGP/MIME decrypt (SEIPDv2, RFC 9580 key)" "gpg --decrypt (SEIPDv1)"

  measure "$ms" -q --home pgp4 sign bob.eml; mine
  measure "${G[@]}" -a --detach-sign -o - bob.eml
  row "PGP/MIME sign" "gpg -a --detach-sign"

  "$ms" -q --home pgp4 sign bob.eml >signed4.eml
  "${G[@]}" -a --detach-sign -o bob.eml.asc bob.eml
  measure "$ms" -q --home pgp4 verify signed4.eml; mine
  measure "${G[@]}" --verify bob.eml.asc bob.eml
  row "PGP/MIME verify" "gpg --verify"

  measure "$ms" -q --home pgp4 encrypt --no-sign bob.eml; mine
  measure "${G[@]}" -a -z 0 -e -r bob@example.net -o - bob.eml
  row "PGP/MIME encrypt" "gpg -a -z0 -e"

  # Inline PGP: the armored block as the whole body of a text/plain message.
  sed '1,/^\r$/d' bob.eml >body.txt
  "${G[@]}" -a -z 0 -e -r bob@example.net -o inline.asc body.txt
  { sed '/^\r$/q' bob.eml; cat inline.asc; } >inline.eml
  measure "$ms" -q --home pgp4 decrypt inline.eml; mine
  measure "${G[@]}" --decrypt -o - inline.asc
  row "inline PGP decrypt" "gpg --decrypt"
  "${G[@]}" -u bob@example.net --clearsign -o clear.asc body.txt
  { sed '/^\r$/q' bob.eml; cat clear.asc; } >clear.eml
  measure "$ms" -q --home pgp4 verify clear.eml; mine
  measure "${G[@]}" --verify clear.asc
  row "clear-signed verify" "gpg --verify"

  # CBC is not integrity-protected: mailseal opens it only when told to.
  for cipher in "AES-256-GCM:aes256-gcm:-aes-256-gcm:" "AES-256-CBC:aes256-cbc:-aes256:--allow-unauthenticated"; do
    IFS=: read -r name ours theirs open <<<"$cipher"
    measure "$ms" -q --home smime encrypt --smime --no-sign --content-cipher "$ours" bob.eml; mine
    measure openssl cms -encrypt "$theirs" -in bob.eml bob.pem
    row "S/MIME encrypt ($name)" "openssl cms -encrypt"
    "$ms" -q --home smime encrypt --smime --no-sign --content-cipher "$ours" bob.eml >senc.eml
    openssl cms -encrypt "$theirs" -in bob.eml -out oenc.eml bob.pem
    measure "$ms" -q --home smime decrypt $open senc.eml; mine
    measure openssl cms -decrypt -in oenc.eml -inkey bob.key -recip bob.pem
    row "S/MIME decrypt ($name)" "openssl cms -decrypt"
  done

  measure "$ms" -q --home smime sign --smime bob.eml; mine
  measure openssl cms -sign -in bob.eml -signer bob.pem -inkey bob.key
  row "S/MIME sign" "openssl cms -sign"
  "$ms" -q --home smime sign --smime bob.eml >ssigned.eml
  openssl cms -sign -in bob.eml -signer bob.pem -inkey bob.key -out osigned.eml
  measure "$ms" -q --home smime verify ssigned.eml; mine
  measure openssl cms -verify -in osigned.eml -CAfile ca.pem -out /dev/null
  row "S/MIME verify" "openssl cms -verify"
done

if [ "$CERTS" -gt 0 ]; then
  echo
  echo "## 4 KB message, $CERTS certificates in each store"
  echo
  echo "| operation | mailseal | peer | ratio | mailseal peak | peer peak |"
  echo "| --- | --- | --- | --- | --- | --- |"
  "$bin/examples/gen_certs" "$CERTS" >certs.pgp
  "${G[@]}" --import certs.pgp 2>/dev/null || true
  "$ms" -q --home pgp4 cert import certs.pgp
  text_message small.eml bob@example.net bob@example.net 4096
  RUNS=$small_runs
  measure "$ms" -q --home pgp4 encrypt --no-sign small.eml; mine
  measure "${G[@]}" -a -z 0 -e -r bob@example.net -o - small.eml
  row "PGP/MIME encrypt, $CERTS certificates" "gpg -a -z0 -e"
fi

if [ "$AGENT" = 1 ]; then
  echo
  echo "## mailseal agent, 20 concurrent 24 MB messages (encrypted+signed, sealed and queued)"
  echo
  CLIENTS=20 MESSAGES=1 SIZE=24000000 END_TO_END=0 MAILSEAL_BIN=$ms "$bin/examples/agent_bench"
fi
