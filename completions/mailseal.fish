# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mailseal_global_optspecs
    string join \n home= json passphrase-file= q/quiet h/help V/version
end

function __fish_mailseal_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mailseal_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mailseal_using_subcommand
    set -l cmd (__fish_mailseal_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mailseal -n "__fish_mailseal_needs_command" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_needs_command" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_needs_command" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_needs_command" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_needs_command" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_needs_command" -s V -l version -d 'Print version'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "encrypt" -d 'Encrypt a message for its recipients (PGP/MIME, RFC 3156, or S/MIME 4.0, RFC 8551).'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "sign" -d 'Sign a message (multipart/signed: PGP/MIME with micalg=pgp-sha256, or S/MIME with --smime: application/pkcs7-signature, micalg=sha-256).'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "decrypt" -d 'Decrypt a message; report its signatures on stderr (or with --json).'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "verify" -d 'Check the signatures of a message.'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "key" -d 'Manage your own secret keys (OpenPGP, and S/MIME keys with certificates)'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "cert" -d 'Manage others\' certificates (the keys you encrypt to and verify with)'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "send" -d 'Seal a message per policy and submit it to a relay over TLS.'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "sendmail" -d 'Read a message on stdin and send it, sendmail style (sysexits codes).'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "relay" -d 'Relays ([relay.NAME] in config.toml)'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "secret" -d 'Relay passwords in the OS keyring (service "mailseal", account = relay)'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "status" -d 'Show, per recipient, what protection a message would get and why.'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "agent" -d 'Run the local SMTP submission agent: point a mail client\'s outgoing server at it and every message is sealed per [policy], queued on disk and submitted through the relay with enforced TLS.'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "queue" -d 'The agent\'s queue (HOME/spool): messages accepted and not yet delivered, and those that failed for good'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "completions" -d 'Print the completion script for SHELL on stdout'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "man" -d 'Write the manual pages into DIR.'
complete -c mailseal -n "__fish_mailseal_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -s o -l output -d 'Write the sealed message to OUT (only when everything succeeded)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -s r -l recipient -d 'Encrypt to ADDR instead of the message\'s To, Cc and Bcc (repeatable)' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l from -d 'Sign as ADDR instead of the From address' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l bcc-copies -d 'S/MIME: write one separately encrypted copy per Bcc recipient to DIR (DIR/ADDRESS.eml); without it a message with Bcc is refused' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l content-cipher -d 'S/MIME content cipher: aes256-gcm (authEnveloped-data, default) or aes256-cbc (enveloped-data, for old clients) [default: smime.content_cipher]' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l key-transport -d 'S/MIME RSA key transport: rsa-pkcs1v15 (default) or rsa-oaep [default: smime.key_transport]' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l sign -d 'Require a signature (fail if the sender has no secret key)'
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l no-sign -d 'Do not sign'
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l openpgp -d 'Use OpenPGP (PGP/MIME)'
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l smime -d 'Use S/MIME (application/pkcs7-mime)'
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand encrypt" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -s o -l output -d 'Write the signed message to OUT (only when everything succeeded)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -l from -d 'Sign as ADDR instead of the From address' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -l openpgp -d 'Use OpenPGP (PGP/MIME) only'
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -l smime -d 'Use S/MIME (multipart/signed, application/pkcs7-signature) only'
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand sign" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -s o -l output -d 'Write the cleartext message to OUT (only when everything succeeded)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -l max-decompressed -d 'Refuse OpenPGP data that decompresses to more than SIZE bytes (K, M, G suffixes) [default: 100 times the input, at least 64M, at most 1G unless the input is larger]' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -l import-certs -d 'S/MIME: store the certificates of signatures that verified'
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -l allow-legacy -d 'Also read data encrypted with the legacy ciphers CAST5, 3DES and IDEA (old archives; mailseal never writes them)'
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -l allow-unauthenticated -d 'S/MIME: release the content of CBC enveloped-data that carries no good signature, although anyone on the way may have changed it'
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand decrypt" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -l max-decompressed -d 'Refuse OpenPGP data that decompresses to more than SIZE bytes (K, M, G suffixes) [default: 100 times the input, at least 64M, at most 1G unless the input is larger]' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -l import-certs -d 'S/MIME: store the certificates of signatures that verified'
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -l allow-legacy -d 'Also read data encrypted with the legacy ciphers CAST5, 3DES and IDEA (old archives; mailseal never writes them)'
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -f -a "generate" -d 'Generate a key for ADDR (Ed25519/X25519 unless --algo says otherwise).'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -f -a "import" -d 'Import secret keys from one or more files, e.g. from `gpg --export-secret-keys` (armored or binary), an S/MIME PKCS#12 file (password as for passphrases), a PEM private key with its certificate chain, or the certificate a CA issued for a key made with `key generate --smime`. Each file is reported on its own; when one fails the others are still imported and the exit code is that of the first failure.'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -f -a "list" -d 'List your secret keys'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -f -a "export" -d 'Export a secret key (or with --public its certificate), armored'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and not __fish_seen_subcommand_from generate import list export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l algo -d 'Key algorithm' -r -f -a "cv25519\t'Ed25519 signing, X25519 encryption'
rsa3072\t'RSA 3072 (slower; RSA has a timing advisory, see SECURITY.md)'"
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l profile -d 'OpenPGP version: rfc4880 (v4, announces SEIPDv1 only, so gpg 2.2 reads mail to it) or rfc9580 (v6, SEIPDv2; gpg 2.2, rnp 0.16 and sq 0.27 cannot use it)' -r -f -a "rfc4880\t''
rfc9580\t''"
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l name -d 'A display name for the user ID ("Alice <alice@example.org>")' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l csr -d 'With --smime: write the CSR to FILE instead of stdout' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l smime -d 'Make an S/MIME key (P-256), a CSR and a self-signed certificate'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from import" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from import" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from import" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from list" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from list" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from export" -s o -l output -d 'Write to OUT instead of stdout' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from export" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from export" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from export" -l public -d 'Export only the public certificate, to give to correspondents'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from export" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Generate a key for ADDR (Ed25519/X25519 unless --algo says otherwise).'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import secret keys from one or more files, e.g. from `gpg --export-secret-keys` (armored or binary), an S/MIME PKCS#12 file (password as for passphrases), a PEM private key with its certificate chain, or the certificate a CA issued for a key made with `key generate --smime`. Each file is reported on its own; when one fails the others are still imported and the exit code is that of the first failure.'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "list" -d 'List your secret keys'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export a secret key (or with --public its certificate), armored'
complete -c mailseal -n "__fish_mailseal_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -f -a "import" -d 'Import certificates from one or more files: OpenPGP (armored or binary, e.g. `gpg --export`) or X.509 for S/MIME (PEM, DER, PEM bundles). Each file is reported on its own; when one fails the others are still imported and the exit code is that of the first failure. With --json, one JSON array per file.'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -f -a "list" -d 'List the certificates in the store, with where discovered ones came from'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -f -a "export" -d 'Export the certificates for an address (or fingerprint), armored (OpenPGP) or PEM (X.509, when there is no OpenPGP certificate)'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -f -a "locate" -d 'Find certificates for addresses (store, WKD, DANE, keyservers), check that they are bound to the address and usable now, and import them with where they came from.'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -f -a "remove" -d 'Remove a certificate from the store'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and not __fish_seen_subcommand_from import list export locate remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from import" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from import" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from import" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from list" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from list" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from export" -s o -l output -d 'Write to OUT instead of stdout' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from export" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from export" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from export" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -l method -d 'Methods to try, in order (comma-separated: store, wkd, dane, keyserver) [default: [discovery] methods]' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -l accept -d 'Import a key from an unverifying keyserver, or one that replaces the stored key for the address'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -l refresh -d 'Ignore remembered lookups and ask again'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -s v -l verbose -d 'Show every HTTP request and DNS query, and what it returned, on stderr'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from locate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from remove" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from remove" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from remove" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import certificates from one or more files: OpenPGP (armored or binary, e.g. `gpg --export`) or X.509 for S/MIME (PEM, DER, PEM bundles). Each file is reported on its own; when one fails the others are still imported and the exit code is that of the first failure. With --json, one JSON array per file.'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the certificates in the store, with where discovered ones came from'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "export" -d 'Export the certificates for an address (or fingerprint), armored (OpenPGP) or PEM (X.509, when there is no OpenPGP certificate)'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "locate" -d 'Find certificates for addresses (store, WKD, DANE, keyservers), check that they are bound to the address and usable now, and import them with where they came from.'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a certificate from the store'
complete -c mailseal -n "__fish_mailseal_using_subcommand cert; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -l relay -d 'Submit through [relay.NAME]' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -s f -l from -d 'Envelope sender (MAIL FROM) instead of the From address' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -s r -l recipient -d 'Send to ADDR instead of To, Cc and Bcc (repeatable); an ADDR not in To or Cc is a Bcc recipient with a copy of its own' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -s v -l verbose -d 'Show the SMTP dialogue and key discovery\'s HTTP requests and DNS queries on stderr (AUTH lines are [redacted])'
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s o -d 'Sendmail option: -oi is -i; -oem, -oee, -oep, -oeq, -oew, -odi, -odb, -odq and -om are accepted and ignored' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s f -d 'Envelope sender (MAIL FROM); -r is the old name' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s F -d 'Full name of the sender, used when the message has no From header' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s B -d 'Body type (7BIT, 8BITMIME): accepted; the relay\'s capabilities decide' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s b -d 'Mode: m (deliver the message on stdin, the default), s (SMTP on stdin/stdout), p (list the queue)' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s N -d 'DSN: when to notify the sender: never, or some of success,failure,delay (passed on when the relay offers DSN)' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s R -d 'DSN: what a notification returns: full or hdrs' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s V -d 'DSN: an envelope id for notifications' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -l queue-run -d 'What -q becomes: deliver the agent\'s queue now' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -l relay -d 'Submit through [relay.NAME] [default: default; queued: [agent] relay]' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s t -d 'Take recipients from the To, Cc and Bcc headers'
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s i -d 'Do not treat a line with a single "." as the end of the message'
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s v -d 'Show the SMTP dialogue and key discovery on stderr (AUTH lines are [redacted])'
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand sendmail" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and not __fish_seen_subcommand_from check help" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and not __fish_seen_subcommand_from check help" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and not __fish_seen_subcommand_from check help" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Connect, verify TLS and log in (when a username is configured) without sending mail; report TLS version, cipher, the certificate\'s SPKI pin and the AUTH mechanisms offered inside TLS.'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from check" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from check" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Show the SMTP dialogue on stderr (AUTH lines are [redacted])'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from check" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "check" -d 'Connect, verify TLS and log in (when a username is configured) without sending mail; report TLS version, cipher, the certificate\'s SPKI pin and the AUTH mechanisms offered inside TLS.'
complete -c mailseal -n "__fish_mailseal_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and not __fish_seen_subcommand_from set help" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and not __fish_seen_subcommand_from set help" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and not __fish_seen_subcommand_from set help" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and not __fish_seen_subcommand_from set help" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and not __fish_seen_subcommand_from set help" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and not __fish_seen_subcommand_from set help" -f -a "set" -d 'Store the password of [relay.RELAY] in the OS keyring, from a prompt on a terminal or the first line of stdin. Use it with `password = "keyring"`. `secret set agent` stores the password mail clients log in to `mailseal agent` with.'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and not __fish_seen_subcommand_from set help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and __fish_seen_subcommand_from set" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and __fish_seen_subcommand_from set" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and __fish_seen_subcommand_from set" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "set" -d 'Store the password of [relay.RELAY] in the OS keyring, from a prompt on a terminal or the first line of stdin. Use it with `password = "keyring"`. `secret set agent` stores the password mail clients log in to `mailseal agent` with.'
complete -c mailseal -n "__fish_mailseal_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -l domain -d 'A mail domain whose DNS and HTTPS posture to check (repeatable)' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -l from -d 'The sender whose signing key decides "signed only" [default: any own key counts]; its domain\'s SPF, DMARC, DKIM and BIMI are checked too' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -s v -l verbose -d 'Show every DNS query and HTTP request of the domain checks, and what it returned, on stderr'
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -l listen -d 'Listen on ADDR (IP:PORT) instead of [agent] listen; port 0 picks a free port (the first log line and `agent info` show it)' -r
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -l log-file -d 'Append the log to FILE (created 0600; reopened for every line, so log rotation needs no signal) instead of writing it on stderr' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -s v -l verbose -d 'Also log the SMTP dialogue of every connection (passwords and message data are never logged)'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -f -a "info" -d 'What to type into a mail client, the certificate\'s fingerprint, and whether the agent is running (never the password itself).'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and not __fish_seen_subcommand_from info help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and __fish_seen_subcommand_from info" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and __fish_seen_subcommand_from info" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and __fish_seen_subcommand_from info" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and __fish_seen_subcommand_from info" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "info" -d 'What to type into a mail client, the certificate\'s fingerprint, and whether the agent is running (never the password itself).'
complete -c mailseal -n "__fish_mailseal_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -s h -l help -d 'Print help'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -f -a "list" -d 'List queued and failed messages: id, age, sender, recipients, how each copy is sealed, attempts, the next attempt and the last error.'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -f -a "flush" -d 'Retry every queued message now. A running agent is asked to do it; with no agent running, this command delivers them itself and reports (exit 75 when some are still queued afterwards).'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -f -a "retry" -d 'Retry message ID now; a failed message goes back into the queue (its maximum age counts from now).'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -f -a "drop" -d 'Remove message ID from the queue (or the failed list) without sending it. A message being delivered at that moment may still arrive.'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and not __fish_seen_subcommand_from list flush retry drop help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from list" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from list" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from flush" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from flush" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from flush" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from flush" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from flush" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from retry" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from retry" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from retry" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from retry" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from drop" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from drop" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from drop" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from drop" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from drop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "list" -d 'List queued and failed messages: id, age, sender, recipients, how each copy is sealed, attempts, the next attempt and the last error.'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "flush" -d 'Retry every queued message now. A running agent is asked to do it; with no agent running, this command delivers them itself and reports (exit 75 when some are still queued afterwards).'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "retry" -d 'Retry message ID now; a failed message goes back into the queue (its maximum age counts from now).'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "drop" -d 'Remove message ID from the queue (or the failed list) without sending it. A message being delivered at that moment may still arrive.'
complete -c mailseal -n "__fish_mailseal_using_subcommand queue; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand completions" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand completions" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand completions" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand completions" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand man" -l home -d 'Directory for configuration and state [default: XDG directories]' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand man" -l passphrase-file -d 'Read the passphrase of protected keys from the first line of FILE (the file must not be readable by others)' -r -F
complete -c mailseal -n "__fish_mailseal_using_subcommand man" -l json -d 'Machine-readable output on stdout, for commands that report'
complete -c mailseal -n "__fish_mailseal_using_subcommand man" -s q -l quiet -d 'Say less: only errors'
complete -c mailseal -n "__fish_mailseal_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "encrypt" -d 'Encrypt a message for its recipients (PGP/MIME, RFC 3156, or S/MIME 4.0, RFC 8551).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "sign" -d 'Sign a message (multipart/signed: PGP/MIME with micalg=pgp-sha256, or S/MIME with --smime: application/pkcs7-signature, micalg=sha-256).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "decrypt" -d 'Decrypt a message; report its signatures on stderr (or with --json).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "verify" -d 'Check the signatures of a message.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "key" -d 'Manage your own secret keys (OpenPGP, and S/MIME keys with certificates)'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "cert" -d 'Manage others\' certificates (the keys you encrypt to and verify with)'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "send" -d 'Seal a message per policy and submit it to a relay over TLS.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "sendmail" -d 'Read a message on stdin and send it, sendmail style (sysexits codes).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "relay" -d 'Relays ([relay.NAME] in config.toml)'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "secret" -d 'Relay passwords in the OS keyring (service "mailseal", account = relay)'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "status" -d 'Show, per recipient, what protection a message would get and why.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "agent" -d 'Run the local SMTP submission agent: point a mail client\'s outgoing server at it and every message is sealed per [policy], queued on disk and submitted through the relay with enforced TLS.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "queue" -d 'The agent\'s queue (HOME/spool): messages accepted and not yet delivered, and those that failed for good'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "completions" -d 'Print the completion script for SHELL on stdout'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "man" -d 'Write the manual pages into DIR.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and not __fish_seen_subcommand_from encrypt sign decrypt verify key cert send sendmail relay secret status agent queue completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "generate" -d 'Generate a key for ADDR (Ed25519/X25519 unless --algo says otherwise).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "import" -d 'Import secret keys from one or more files, e.g. from `gpg --export-secret-keys` (armored or binary), an S/MIME PKCS#12 file (password as for passphrases), a PEM private key with its certificate chain, or the certificate a CA issued for a key made with `key generate --smime`. Each file is reported on its own; when one fails the others are still imported and the exit code is that of the first failure.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "list" -d 'List your secret keys'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "export" -d 'Export a secret key (or with --public its certificate), armored'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "import" -d 'Import certificates from one or more files: OpenPGP (armored or binary, e.g. `gpg --export`) or X.509 for S/MIME (PEM, DER, PEM bundles). Each file is reported on its own; when one fails the others are still imported and the exit code is that of the first failure. With --json, one JSON array per file.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "list" -d 'List the certificates in the store, with where discovered ones came from'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "export" -d 'Export the certificates for an address (or fingerprint), armored (OpenPGP) or PEM (X.509, when there is no OpenPGP certificate)'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "locate" -d 'Find certificates for addresses (store, WKD, DANE, keyservers), check that they are bound to the address and usable now, and import them with where they came from.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from cert" -f -a "remove" -d 'Remove a certificate from the store'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from relay" -f -a "check" -d 'Connect, verify TLS and log in (when a username is configured) without sending mail; report TLS version, cipher, the certificate\'s SPKI pin and the AUTH mechanisms offered inside TLS.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "set" -d 'Store the password of [relay.RELAY] in the OS keyring, from a prompt on a terminal or the first line of stdin. Use it with `password = "keyring"`. `secret set agent` stores the password mail clients log in to `mailseal agent` with.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "info" -d 'What to type into a mail client, the certificate\'s fingerprint, and whether the agent is running (never the password itself).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from queue" -f -a "list" -d 'List queued and failed messages: id, age, sender, recipients, how each copy is sealed, attempts, the next attempt and the last error.'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from queue" -f -a "flush" -d 'Retry every queued message now. A running agent is asked to do it; with no agent running, this command delivers them itself and reports (exit 75 when some are still queued afterwards).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from queue" -f -a "retry" -d 'Retry message ID now; a failed message goes back into the queue (its maximum age counts from now).'
complete -c mailseal -n "__fish_mailseal_using_subcommand help; and __fish_seen_subcommand_from queue" -f -a "drop" -d 'Remove message ID from the queue (or the failed list) without sending it. A message being delivered at that moment may still arrive.'
