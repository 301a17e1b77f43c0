//! The few X.509 fields libpq itself looks at, read straight from DER: the subject
//! alternative names and first common name (host name check), the signature algorithm (the
//! hash of `tls-server-end-point` channel binding) and the validity period. Chain building
//! and signatures are rustls-webpki's job; this reader only walks the structure.

/// A subject alternative name entry libpq considers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum San {
    /// `dNSName` (IA5String bytes, unchecked).
    Dns(Vec<u8>),
    /// `iPAddress` (4 or 16 bytes in a well-formed certificate).
    Ip(Vec<u8>),
}

/// Hash used for `tls-server-end-point` (RFC 5929 §4.1: the certificate's signature hash,
/// with MD5 and SHA-1 replaced by SHA-256), as PostgreSQL's `be_tls_get_certificate_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndPointHash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// DNS and IP entries of the subjectAltName extension, in certificate order.
    pub sans: Vec<San>,
    /// The value bytes of the subject's first commonName attribute.
    pub common_name: Option<Vec<u8>>,
    /// `None` for algorithms without a defined hash (Ed25519, Ed448, unknown).
    pub end_point_hash: Option<EndPointHash>,
    /// Validity period, in seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
}

const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const RSA_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
const ECDSA_SHA2_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
const NIST_HASH_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];

/// A DER tag-length-value.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn next(&mut self) -> Result<Tlv<'a>, String> {
        let [tag, first, rest @ ..] = self.rest else {
            return Err("truncated DER element".into());
        };
        if tag & 0x1f == 0x1f {
            return Err("unsupported multi-byte DER tag".into());
        }
        let (len, rest) = if first & 0x80 == 0 {
            (usize::from(*first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err("bad DER length".into());
            }
            let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err("DER element longer than its container".into());
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(Tlv { tag: *tag, value })
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        let tlv = self.next()?;
        if tlv.tag != tag {
            return Err(format!("expected {what} (tag {tag:#04x}), found tag {:#04x}", tlv.tag));
        }
        Ok(tlv.value)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;

/// Reads the fields above from a DER certificate.
pub(crate) fn parse(der: &[u8]) -> Result<CertInfo, String> {
    let mut outer = Reader::new(der);
    let cert = outer.expect(SEQUENCE, "Certificate")?;
    let mut cert = Reader::new(cert);
    let tbs = cert.expect(SEQUENCE, "TBSCertificate")?;
    let sig_alg = cert.expect(SEQUENCE, "signatureAlgorithm")?;

    let mut tbs = Reader::new(tbs);
    if tbs.peek_tag() == Some(0xa0) {
        tbs.next()?; // [0] version
    }
    tbs.expect(0x02, "serialNumber")?;
    tbs.expect(SEQUENCE, "signature")?;
    tbs.expect(SEQUENCE, "issuer")?;
    let validity = tbs.expect(SEQUENCE, "validity")?;
    let subject = tbs.expect(SEQUENCE, "subject")?;
    tbs.expect(SEQUENCE, "subjectPublicKeyInfo")?;
    let mut extensions = None;
    while !tbs.is_empty() {
        let tlv = tbs.next()?;
        if tlv.tag == 0xa3 {
            extensions = Some(Reader::new(tlv.value).expect(SEQUENCE, "extensions")?);
        }
    }

    let mut validity = Reader::new(validity);
    let not_before = parse_time(validity.next()?)?;
    let not_after = parse_time(validity.next()?)?;

    let mut sans = Vec::new();
    if let Some(exts) = extensions {
        let mut exts = Reader::new(exts);
        while !exts.is_empty() {
            let mut ext = Reader::new(exts.expect(SEQUENCE, "Extension")?);
            let oid = ext.expect(OID, "extnID")?;
            if ext.peek_tag() == Some(BOOLEAN) {
                ext.next()?;
            }
            let value = ext.expect(OCTET_STRING, "extnValue")?;
            if oid == OID_SAN {
                sans = parse_general_names(value)?;
            }
        }
    }

    Ok(CertInfo {
        sans,
        common_name: first_common_name(subject)?,
        end_point_hash: end_point_hash(sig_alg)?,
        not_before,
        not_after,
    })
}

fn parse_general_names(value: &[u8]) -> Result<Vec<San>, String> {
    let mut names = Reader::new(Reader::new(value).expect(SEQUENCE, "GeneralNames")?);
    let mut sans = Vec::new();
    while !names.is_empty() {
        let name = names.next()?;
        match name.tag {
            0x82 => sans.push(San::Dns(name.value.to_vec())),
            0x87 => sans.push(San::Ip(name.value.to_vec())),
            _ => {}
        }
    }
    Ok(sans)
}

/// The first commonName in the subject's RDN sequence, as OpenSSL's
/// `X509_NAME_get_index_by_NID(name, NID_commonName, -1)` finds it.
fn first_common_name(subject: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut rdns = Reader::new(subject);
    while !rdns.is_empty() {
        let mut set = Reader::new(rdns.expect(SET, "RelativeDistinguishedName")?);
        while !set.is_empty() {
            let mut atv = Reader::new(set.expect(SEQUENCE, "AttributeTypeAndValue")?);
            let oid = atv.expect(OID, "attribute type")?;
            let value = atv.next()?;
            if oid == OID_CN {
                return Ok(Some(value.value.to_vec()));
            }
        }
    }
    Ok(None)
}

fn end_point_hash(alg: &[u8]) -> Result<Option<EndPointHash>, String> {
    let mut alg = Reader::new(alg);
    let oid = alg.expect(OID, "algorithm")?;
    let hash = if let Some(rest) = oid.strip_prefix(RSA_PREFIX) {
        match rest {
            [4] | [5] | [11] => Some(EndPointHash::Sha256), // md5, sha1, sha256 WithRSA
            [12] => Some(EndPointHash::Sha384),
            [13] => Some(EndPointHash::Sha512),
            [14] => Some(EndPointHash::Sha224),
            [10] => Some(pss_hash(&mut alg)?), // RSASSA-PSS: hash in the parameters
            _ => None,
        }
    } else if oid == ECDSA_SHA1 {
        Some(EndPointHash::Sha256)
    } else if let Some(rest) = oid.strip_prefix(ECDSA_SHA2_PREFIX) {
        match rest {
            [1] => Some(EndPointHash::Sha224),
            [2] => Some(EndPointHash::Sha256),
            [3] => Some(EndPointHash::Sha384),
            [4] => Some(EndPointHash::Sha512),
            _ => None,
        }
    } else {
        None
    };
    Ok(hash)
}

/// `RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] ... DEFAULT sha1, ... }`.
fn pss_hash(alg: &mut Reader<'_>) -> Result<EndPointHash, String> {
    if alg.is_empty() {
        return Ok(EndPointHash::Sha256);
    }
    let mut params = Reader::new(alg.expect(SEQUENCE, "RSASSA-PSS-params")?);
    if params.peek_tag() != Some(0xa0) {
        return Ok(EndPointHash::Sha256);
    }
    let hash_alg = Reader::new(params.next()?.value).expect(SEQUENCE, "hashAlgorithm")?;
    let oid = Reader::new(hash_alg).expect(OID, "hash algorithm")?;
    Ok(match oid.strip_prefix(NIST_HASH_PREFIX) {
        Some([2]) => EndPointHash::Sha384,
        Some([3]) => EndPointHash::Sha512,
        Some([4]) => EndPointHash::Sha224,
        // SHA-256 itself, and SHA-1 (the default), which RFC 5929 replaces by SHA-256.
        _ => EndPointHash::Sha256,
    })
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tlv: Tlv<'_>) -> Result<i64, String> {
    let text = std::str::from_utf8(tlv.value).map_err(|_| "bad certificate time".to_string())?;
    let digits = text.strip_suffix('Z').ok_or("certificate time is not in UTC")?;
    let num = |s: &str| s.parse::<i64>().map_err(|_| format!("bad certificate time \"{text}\""));
    let (year, rest) = match (tlv.tag, digits.len()) {
        (0x17, 12) => {
            let yy = num(&digits[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (0x18, 14) => (num(&digits[..4])?, &digits[4..]),
        _ => return Err(format!("bad certificate time \"{text}\"")),
    };
    let (month, day) = (num(&rest[0..2])?, num(&rest[2..4])?);
    let (hour, minute, second) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn names_in_order_and_common_name() {
        let mut p = rcgen::CertificateParams::new(vec!["db.example".into(), "*.db.example".into()]).unwrap();
        p.subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.subject_alt_names
            .push(rcgen::SanType::IpAddress("::1".parse().unwrap()));
        p.subject_alt_names
            .push(rcgen::SanType::Rfc822Name("a@b.example".try_into().unwrap()));
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(rcgen::DnType::OrganizationName, "Org");
        p.distinguished_name.push(rcgen::DnType::CommonName, "cn.example");
        let info = parse(&cert(p)).unwrap();
        assert_eq!(
            info.sans,
            vec![
                San::Dns(b"db.example".to_vec()),
                San::Dns(b"*.db.example".to_vec()),
                San::Ip(vec![127, 0, 0, 1]),
                San::Ip([0u8; 15].iter().copied().chain([1]).collect()),
            ]
        );
        assert_eq!(info.common_name.as_deref(), Some(&b"cn.example"[..]));
        // rcgen signs with ECDSA P-256 / SHA-256 by default.
        assert_eq!(info.end_point_hash, Some(EndPointHash::Sha256));
    }

    #[test]
    fn no_extensions_and_validity() {
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.not_before = rcgen::date_time_ymd(2001, 2, 3);
        p.not_after = rcgen::date_time_ymd(2051, 12, 31);
        let info = parse(&cert(p)).unwrap();
        assert!(info.sans.is_empty());
        assert_eq!(info.common_name, None);
        assert_eq!(info.not_before, 981_158_400); // 2001-02-03T00:00:00Z
        assert_eq!(info.not_after, 2_587_593_600); // 2051-12-31T00:00:00Z (GeneralizedTime)
    }

    #[test]
    fn signature_hashes() {
        let with = |oid: &[u8], params: &[u8]| {
            let mut alg = vec![OID, oid.len() as u8];
            alg.extend_from_slice(oid);
            alg.extend_from_slice(params);
            end_point_hash(&alg).unwrap()
        };
        let rsa = |n: u8| [RSA_PREFIX, &[n]].concat();
        assert_eq!(with(&rsa(4), &[]), Some(EndPointHash::Sha256), "md5 becomes sha256");
        assert_eq!(with(&rsa(5), &[0x05, 0x00]), Some(EndPointHash::Sha256), "sha1 too");
        assert_eq!(with(&rsa(12), &[]), Some(EndPointHash::Sha384));
        assert_eq!(with(&rsa(13), &[]), Some(EndPointHash::Sha512));
        assert_eq!(with(&rsa(14), &[]), Some(EndPointHash::Sha224));
        assert_eq!(
            with(&[ECDSA_SHA2_PREFIX, &[3]].concat(), &[]),
            Some(EndPointHash::Sha384)
        );
        // RSASSA-PSS with SHA-512 in its parameters.
        let hash = [&[OID, 9][..], NIST_HASH_PREFIX, &[3]].concat();
        let hash_alg = [&[SEQUENCE, hash.len() as u8][..], &hash].concat();
        let tagged = [&[0xa0, hash_alg.len() as u8][..], &hash_alg].concat();
        let params = [&[SEQUENCE, tagged.len() as u8][..], &tagged].concat();
        assert_eq!(with(&rsa(10), &params), Some(EndPointHash::Sha512));
        assert_eq!(with(&rsa(10), &[]), Some(EndPointHash::Sha256));
        // Ed25519 (1.3.101.112) has no defined hash.
        assert_eq!(with(&[0x2b, 0x65, 0x70], &[]), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"").is_err());
        assert!(parse(&[0x30, 0x05, 0x01]).is_err());
        assert!(parse(&[0x30, 0x00]).is_err());
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }
}
