"""PGPy as an interop peer for tests/interop_openpgp.rs.

gen KIND ADDR PASS SECRET PUBLIC | decrypt KEY PASS SIGNER | verify CERT SIG DATA
encrypt KEY PASS COMPRESSION|default FORMAT CERT... | sign KEY PASS FORM
Data on stdin and stdout; exit 0 only on success, 3 when a signature does not verify.
"""
import contextlib
import sys
import warnings

warnings.filterwarnings("ignore")
import pgpy
from pgpy.constants import (CompressionAlgorithm, EllipticCurveOID, HashAlgorithm,
                            KeyFlags, PubKeyAlgorithm, SymmetricKeyAlgorithm)

KINDS = {
    "cv25519": ((PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519),
                (PubKeyAlgorithm.ECDH, EllipticCurveOID.Curve25519)),
    "rsa3072": ((PubKeyAlgorithm.RSAEncryptOrSign, 3072),) * 2,
    "rsa4096": ((PubKeyAlgorithm.RSAEncryptOrSign, 4096),) * 2,
    "p256": ((PubKeyAlgorithm.ECDSA, EllipticCurveOID.NIST_P256),
             (PubKeyAlgorithm.ECDH, EllipticCurveOID.NIST_P256)),
    "p384": ((PubKeyAlgorithm.ECDSA, EllipticCurveOID.NIST_P384),
             (PubKeyAlgorithm.ECDH, EllipticCurveOID.NIST_P384)),
    "brainpool": ((PubKeyAlgorithm.ECDSA, EllipticCurveOID.Brainpool_P256),
                  (PubKeyAlgorithm.ECDH, EllipticCurveOID.Brainpool_P256)),
}


def unlocked(key, password):
    """The key unlocked with PASSWORD, or as it is when unprotected."""
    return key.unlock(password) if key.is_protected else contextlib.nullcontext(key)


def load(path):
    key, _ = pgpy.PGPKey.from_file(path)
    return key


def main(op, *args):
    data = sys.stdin.buffer.read()
    if op == "gen":
        kind, addr, password, secret, public = args
        primary, sub = KINDS[kind]
        key = pgpy.PGPKey.new(*primary)
        key.add_uid(pgpy.PGPUID.new("PGPy " + kind, email=addr),
                    usage={KeyFlags.Sign, KeyFlags.Certify},
                    hashes=[HashAlgorithm.SHA256, HashAlgorithm.SHA512],
                    ciphers=[SymmetricKeyAlgorithm.AES256, SymmetricKeyAlgorithm.AES128],
                    compression=[CompressionAlgorithm.ZLIB, CompressionAlgorithm.ZIP,
                                 CompressionAlgorithm.Uncompressed])
        key.add_subkey(pgpy.PGPKey.new(*sub),
                       usage={KeyFlags.EncryptCommunications, KeyFlags.EncryptStorage})
        key.protect(password, SymmetricKeyAlgorithm.AES256, HashAlgorithm.SHA256)
        open(secret, "w").write(str(key))
        open(public, "w").write(str(key.pubkey))
    elif op == "decrypt":
        path, password, signer = args
        key = load(path)
        message = pgpy.PGPMessage.from_blob(data)
        with unlocked(key, password):
            clear = key.decrypt(message)
        if not clear.signatures or not load(signer).verify(clear):
            sys.exit(3)
        body = clear.message
        sys.stdout.buffer.write(body if isinstance(body, (bytes, bytearray)) else body.encode())
        print("VERIFIED", load(signer).fingerprint.replace(" ", ""), file=sys.stderr)
    elif op == "verify":
        cert, sig, path = args
        signature = pgpy.PGPSignature.from_file(sig)
        if not load(cert).verify(open(path, "rb").read(), signature):
            sys.exit(3)
        print("VERIFIED", load(cert).fingerprint.replace(" ", ""), file=sys.stderr)
    elif op == "encrypt":
        path, password, compression, form, *certs = args
        options = {} if compression == "default" else {
            "compression": getattr(CompressionAlgorithm, compression)}
        message = pgpy.PGPMessage.new(data.decode() if form == "t" else data,
                                      format=form, **options)
        key = load(path)
        with unlocked(key, password):
            message |= key.sign(message)
        if len(certs) == 1:
            message = load(certs[0]).encrypt(message)
        else:
            # Several recipients share one session key (PGPy's documented way).
            cipher = SymmetricKeyAlgorithm.AES256
            session_key = cipher.gen_key()
            for cert in certs:
                message = load(cert).encrypt(message, cipher=cipher, sessionkey=session_key)
        sys.stdout.write(str(message))
    elif op == "sign":
        path, password, form = args
        key = load(path)
        with unlocked(key, password):
            if form == "detached":
                sys.stdout.write(str(key.sign(data)))
            else:
                message = pgpy.PGPMessage.new(data.decode(), cleartext=form == "cleartext")
                message |= key.sign(message)
                sys.stdout.write(str(message))
    else:
        sys.exit(64)


main(*sys.argv[1:])
