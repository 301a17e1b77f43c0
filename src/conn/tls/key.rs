//! Client private keys in the forms OpenSSL's `SSL_use_PrivateKey_file` accepts for libpq:
//! PEM (PKCS#8, PKCS#1 RSA, SEC1 EC), PEM encrypted with a passphrase (`sslpassword`) either
//! as PKCS#8 `ENCRYPTED PRIVATE KEY` (PBES2: PBKDF2 or scrypt with AES or 3DES) or as the
//! legacy OpenSSL `Proc-Type: 4,ENCRYPTED` form (AES-128/192/256-CBC, DES-EDE3-CBC), and,
//! as libpq's fallback, DER.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyInit, KeyIvInit};
use md5::{Digest, Md5};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

use super::pem;

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The key is encrypted and no `sslpassword` was given.
    NeedsPassword,
    /// The passphrase did not decrypt it.
    WrongPassword,
    /// Anything else, with a description.
    Invalid(String),
}

impl KeyError {
    /// The message for key file `path`, in libpq's wording where libpq has one.
    pub fn describe(&self, path: &str) -> String {
        match self {
            KeyError::NeedsPassword => {
                format!("could not load private key file \"{path}\": the key is encrypted and no sslpassword was given")
            }
            KeyError::WrongPassword => {
                format!("could not load private key file \"{path}\": bad decrypt (wrong sslpassword?)")
            }
            KeyError::Invalid(why) => format!("could not load private key file \"{path}\": {why}"),
        }
    }
}

/// Decodes the first private key in `bytes` (PEM, else DER).
pub(crate) fn decode(bytes: &[u8], password: Option<&str>) -> Result<PrivateKeyDer<'static>, KeyError> {
    if !pem::looks_like_pem(bytes) {
        return PrivateKeyDer::try_from(bytes.to_vec())
            .map_err(|_| KeyError::Invalid("neither a PEM file nor a DER private key".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| KeyError::Invalid("PEM file is not text".into()))?;
    let blocks = pem::parse(text).map_err(KeyError::Invalid)?;
    let block = blocks
        .into_iter()
        .find(|b| {
            matches!(
                b.label.as_str(),
                "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY"
            )
        })
        .ok_or_else(|| KeyError::Invalid("no private key found in the file".into()))?;
    let legacy_encrypted = block
        .header("Proc-Type")
        .is_some_and(|p| p.replace(' ', "").eq_ignore_ascii_case("4,ENCRYPTED"));
    let der = if block.label == "ENCRYPTED PRIVATE KEY" {
        return decrypt_pkcs8(&block.der, password);
    } else if legacy_encrypted {
        let dek = block
            .header("DEK-Info")
            .ok_or_else(|| KeyError::Invalid("encrypted PEM key without a DEK-Info header".into()))?;
        decrypt_legacy(&block.der, dek, password.ok_or(KeyError::NeedsPassword)?)?
    } else {
        block.der
    };
    Ok(match block.label.as_str() {
        "RSA PRIVATE KEY" => PrivatePkcs1KeyDer::from(der).into(),
        "EC PRIVATE KEY" => PrivateSec1KeyDer::from(der).into(),
        _ => PrivatePkcs8KeyDer::from(der).into(),
    })
}

fn decrypt_pkcs8(der: &[u8], password: Option<&str>) -> Result<PrivateKeyDer<'static>, KeyError> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der)
        .map_err(|e| KeyError::Invalid(format!("malformed encrypted PKCS#8 key: {e}")))?;
    let password = password.ok_or(KeyError::NeedsPassword)?;
    match info.decrypt(password) {
        Ok(doc) => Ok(PrivatePkcs8KeyDer::from(doc.as_bytes().to_vec()).into()),
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm { oid })) => {
            Err(KeyError::Invalid(format!("unsupported key encryption algorithm {oid}")))
        }
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::NoPbes1CryptSupport)) => Err(KeyError::Invalid(
            "keys encrypted with the old PKCS#5 v1.5 scheme are not supported; re-encrypt it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
                .into(),
        )),
        // A wrong passphrase shows as bad padding or as garbage that does not decode.
        Err(_) => Err(KeyError::WrongPassword),
    }
}

/// OpenSSL's traditional PEM encryption: `DEK-Info: <cipher>,<hex IV>`, key from
/// `EVP_BytesToKey(MD5, salt = IV[..8], passphrase, 1 round)`.
fn decrypt_legacy(data: &[u8], dek_info: &str, password: &str) -> Result<Vec<u8>, KeyError> {
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| KeyError::Invalid(format!("bad DEK-Info header \"{dek_info}\"")))?;
    let iv = decode_hex(iv_hex.trim()).ok_or_else(|| KeyError::Invalid(format!("bad DEK-Info IV \"{iv_hex}\"")))?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let (key_len, iv_len) = match cipher.as_str() {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        other => {
            return Err(KeyError::Invalid(format!(
                "unsupported PEM encryption \"{other}\" (use AES-128/192/256-CBC or DES-EDE3-CBC)"
            )));
        }
    };
    if iv.len() != iv_len {
        return Err(KeyError::Invalid(format!("bad DEK-Info IV length for {cipher}")));
    }
    let key = bytes_to_key(password.as_bytes(), &iv[..8], key_len);
    let mut buf = data.to_vec();
    let plain = match cipher.as_str() {
        "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(&key, &iv, &mut buf),
        "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(&key, &iv, &mut buf),
        "AES-256-CBC" => cbc_decrypt::<aes::Aes256>(&key, &iv, &mut buf),
        _ => cbc_decrypt::<des::TdesEde3>(&key, &iv, &mut buf),
    }?;
    // Bad padding is caught above; the rare garbage that pads correctly is not a DER SEQUENCE.
    if plain.first() != Some(&0x30) {
        return Err(KeyError::WrongPassword);
    }
    Ok(plain)
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<Vec<u8>, KeyError>
where
    C: BlockCipherDecrypt + KeyInit,
{
    let dec =
        cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| KeyError::Invalid("bad key or IV length".into()))?;
    dec.decrypt_padded::<Pkcs7>(buf)
        .map(<[u8]>::to_vec)
        .map_err(|_| KeyError::WrongPassword)
}

/// `EVP_BytesToKey` with MD5 and one iteration: D_i = MD5(D_{i-1} || password || salt).
fn bytes_to_key(password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < len {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(password);
        h.update(salt);
        prev = h.finalize().to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    out
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixtures made once with the OpenSSL 3.0 command line (test keys, nothing else):
    //   openssl ecparam -name prime256v1 -genkey -noout -out ec.pem          (SEC1, plain)
    //   openssl ec -in ec.pem -aes256 -passout pass:s3cret                   (legacy AES-256)
    //   openssl pkcs8 -topk8 -in ec.pem -v2 aes-256-cbc -passout pass:s3cret (PBES2/PBKDF2)
    //   openssl pkcs8 -topk8 -in ec.pem -v2 des3 -passout pass:s3cret        (PBES2/3DES)
    //   openssl pkcs8 -topk8 -in ec.pem -nocrypt                             (PKCS#8, plain)
    //   openssl ec -in ec.pem -des3 -passout pass:s3cret                     (legacy 3DES)
    include!("key_fixtures.rs");

    fn sec1_der() -> Vec<u8> {
        match decode(EC_SEC1.as_bytes(), None).unwrap() {
            PrivateKeyDer::Sec1(k) => k.secret_sec1_der().to_vec(),
            other => panic!("not SEC1: {other:?}"),
        }
    }

    fn pkcs8_der() -> Vec<u8> {
        match decode(EC_PKCS8.as_bytes(), None).unwrap() {
            PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
            other => panic!("not PKCS#8: {other:?}"),
        }
    }

    #[test]
    fn legacy_encrypted_pem() {
        for fixture in [EC_LEGACY_AES256, EC_LEGACY_DES3] {
            match decode(fixture.as_bytes(), Some("s3cret")).unwrap() {
                PrivateKeyDer::Sec1(k) => assert_eq!(k.secret_sec1_der(), &sec1_der()[..]),
                other => panic!("not SEC1: {other:?}"),
            }
            assert_eq!(decode(fixture.as_bytes(), None).unwrap_err(), KeyError::NeedsPassword);
            assert_eq!(
                decode(fixture.as_bytes(), Some("wrong")).unwrap_err(),
                KeyError::WrongPassword
            );
        }
    }

    #[test]
    fn encrypted_pkcs8() {
        for fixture in [EC_PKCS8_AES256, EC_PKCS8_DES3] {
            match decode(fixture.as_bytes(), Some("s3cret")).unwrap() {
                PrivateKeyDer::Pkcs8(k) => assert_eq!(k.secret_pkcs8_der(), &pkcs8_der()[..]),
                other => panic!("not PKCS#8: {other:?}"),
            }
            assert_eq!(decode(fixture.as_bytes(), None).unwrap_err(), KeyError::NeedsPassword);
            assert_eq!(
                decode(fixture.as_bytes(), Some("wrong")).unwrap_err(),
                KeyError::WrongPassword
            );
        }
    }

    #[test]
    fn plain_forms_and_der() {
        assert!(matches!(
            decode(EC_PKCS8.as_bytes(), None).unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        // DER, as libpq's fallback reads it.
        assert!(matches!(decode(&pkcs8_der(), None).unwrap(), PrivateKeyDer::Pkcs8(_)));
        assert!(matches!(decode(&sec1_der(), None).unwrap(), PrivateKeyDer::Sec1(_)));
        // A password for an unencrypted key is ignored, as in libpq.
        assert!(decode(EC_SEC1.as_bytes(), Some("unused")).is_ok());
    }

    #[test]
    fn not_keys() {
        let cert_only = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        assert_eq!(
            decode(cert_only.as_bytes(), None).unwrap_err(),
            KeyError::Invalid("no private key found in the file".into())
        );
        assert!(matches!(decode(b"hello", None).unwrap_err(), KeyError::Invalid(_)));
        let bad_dek = EC_LEGACY_AES256.replace("AES-256-CBC", "BF-CBC");
        assert!(matches!(
            decode(bad_dek.as_bytes(), Some("s3cret")).unwrap_err(),
            KeyError::Invalid(m) if m.contains("unsupported PEM encryption \"BF-CBC\"")
        ));
        assert_eq!(
            KeyError::WrongPassword.describe("/k"),
            "could not load private key file \"/k\": bad decrypt (wrong sslpassword?)"
        );
    }

    #[test]
    fn key_derivation_lengths_and_hex() {
        // The derivation itself is checked against OpenSSL by the legacy fixtures above.
        assert_eq!(bytes_to_key(b"p", &[0; 8], 24).len(), 24);
        assert_eq!(
            bytes_to_key(b"p", &[0; 8], 32)[..16],
            bytes_to_key(b"p", &[0; 8], 16)[..]
        );
        assert_eq!(decode_hex("00fF10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
