//! Hash, crypto and UUID functions: go-cty-funcs `crypto/md5.go`, `crypto/sha.go`
//! (hex digests of the string's bytes), `crypto/bcrypt.go`, `crypto/rsa.go`,
//! `uuid/uuid_v4.go` and `uuid/uuid_v5.go`.

use base64::Engine as _;
use md5::Digest as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;

use super::value::Val;
use super::{int_arg, s, Ctx, Fail, Res};

/// Go's `bcrypt.DefaultCost`, used when no cost (or one below 4) is given.
const BCRYPT_DEFAULT_COST: i64 = 10;
/// The highest bcrypt cost accepted. Go accepts up to 31, but every step doubles the time
/// (cost 15 takes seconds, 31 days): evaluation must stay bounded.
pub(super) const BCRYPT_MAX_COST: i64 = 15;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn md5(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(hex(&md5::Md5::digest(s(&args[0]).as_bytes()))))
}

pub(super) fn sha1(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(hex(&sha1::Sha1::digest(s(&args[0]).as_bytes()))))
}

pub(super) fn sha256(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(hex(&sha2::Sha256::digest(s(&args[0]).as_bytes()))))
}

pub(super) fn sha512(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(hex(&sha2::Sha512::digest(s(&args[0]).as_bytes()))))
}

/// `bcrypt(str, cost?)`: a `$2a$` hash with a random salt (Go's
/// `bcrypt.GenerateFromPassword`): a cost below 4 means 10, passwords over 72 bytes are
/// refused (golang.org/x/crypto v0.19, the version Nomad v1.6.9 uses).
pub(super) fn bcrypt(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let mut cost = BCRYPT_DEFAULT_COST;
    if args.len() > 1 {
        cost = int_arg(&args[1], 1)?;
    }
    if args.len() > 2 {
        return Err(Fail::msg("bcrypt() takes no more than two arguments"));
    }
    let password = s(&args[0]);
    if password.len() > 72 {
        return Err(Fail::msg(
            "error occured generating password bcrypt: password length exceeds 72 bytes",
        ));
    }
    if cost < 4 {
        cost = BCRYPT_DEFAULT_COST;
    }
    if cost > 31 {
        return Err(Fail::msg(format!(
            "error occured generating password crypto/bcrypt: cost {cost} is outside allowed range (4,31)"
        )));
    }
    if cost > BCRYPT_MAX_COST {
        return Err(Fail::Arg(
            1,
            format!("a cost above {BCRYPT_MAX_COST} takes too long to compute here (got {cost})"),
        ));
    }
    let cost = u32::try_from(cost).unwrap_or(10);
    let parts = ::bcrypt::hash_with_result(password, cost)
        .map_err(|e| Fail::msg(format!("error occured generating password {e}")))?;
    Ok(Val::str(parts.format_for_version(::bcrypt::Version::TwoA)))
}

/// `rsadecrypt(ciphertext_base64, pem_key)`: PKCS #1 v1.5 decryption with a PKCS #1 RSA
/// private key in PEM (any block type, as Go's `x509.ParsePKCS1PrivateKey` reads the first
/// PEM block); encrypted keys are refused. The plaintext must be UTF-8 here (cty would
/// carry invalid bytes in a string).
pub(super) fn rsadecrypt(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let (cipher_b64, key_pem) = (s(&args[0]), s(&args[1]));
    let cipher = base64::engine::general_purpose::STANDARD
        .decode(cipher_b64)
        .map_err(|_| {
            Fail::msg(format!(
                "failed to decode input {cipher_b64:?}: cipher text must be base64-encoded"
            ))
        })?;
    let block =
        pem_first_block(key_pem).ok_or_else(|| Fail::msg("failed to parse key: no key found"))?;
    if block.encrypted {
        return Err(Fail::msg(
            "failed to parse key: password protected keys are not supported. Please decrypt the key prior to use",
        ));
    }
    let key = rsa::RsaPrivateKey::from_pkcs1_der(&block.der)
        .map_err(|e| Fail::msg(format!("x509: failed to parse private key: {e}")))?;
    let plain = key
        .decrypt(rsa::Pkcs1v15Encrypt, &cipher)
        .map_err(|_| Fail::msg("crypto/rsa: decryption error"))?;
    String::from_utf8(plain)
        .map(Val::str)
        .map_err(|_| Fail::msg("the decrypted text is not valid UTF-8"))
}

struct PemBlock {
    der: Vec<u8>,
    encrypted: bool,
}

/// The first PEM block in `text` (Go's `pem.Decode`): headers up to a blank line, then
/// base64 with line breaks.
fn pem_first_block(text: &str) -> Option<PemBlock> {
    let begin = text.find("-----BEGIN ")?;
    let after = &text[begin + 11..];
    let label_end = after.find("-----")?;
    let label = &after[..label_end];
    let body_start = after[label_end + 5..].trim_start_matches(['\r', '\n', ' ', '\t']);
    let end_marker = format!("-----END {label}-----");
    let end = body_start.find(&end_marker)?;
    let body = &body_start[..end];
    let mut encrypted = false;
    let mut b64 = String::new();
    let has_headers = body.lines().next().is_some_and(|l| l.contains(':'));
    let mut in_headers = has_headers;
    for line in body.lines() {
        let line = line.trim();
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.trim() == "Proc-Type" && v.trim() == "4,ENCRYPTED" {
                    encrypted = true;
                }
            }
            continue;
        }
        b64.push_str(line);
    }
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(PemBlock { der, encrypted })
}

pub(super) fn uuidv4(_args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(uuid::Uuid::new_v4().hyphenated().to_string()))
}

/// `uuidv5(namespace, name)`: namespace `dns`, `url`, `oid`, `x500` or a UUID.
pub(super) fn uuidv5(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let ns_text = s(&args[0]);
    let ns = match ns_text {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other)
            .map_err(|e| Fail::msg(format!("uuidv5() doesn't support namespace {other} ({e})")))?,
    };
    Ok(Val::str(
        uuid::Uuid::new_v5(&ns, s(&args[1]).as_bytes())
            .hyphenated()
            .to_string(),
    ))
}
