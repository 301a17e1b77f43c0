//! PEM blocks as OpenSSL's PEM reader accepts them: text outside `-----BEGIN`/`-----END`
//! lines is ignored, and a block may start with RFC 1421 headers (`Proc-Type`, `DEK-Info`,
//! used by legacy encrypted keys) before its base64 body.

use base64ct::{Base64, Encoding};

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PemBlock {
    /// The text after `-----BEGIN ` (e.g. `CERTIFICATE`, `RSA PRIVATE KEY`).
    pub label: String,
    /// `Name: value` header lines, in order.
    pub headers: Vec<(String, String)>,
    pub der: Vec<u8>,
}

impl PemBlock {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// True when `bytes` holds at least one PEM `BEGIN` line (otherwise the file may be DER).
pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every PEM block in `text`, in order. A block that is not terminated, whose END label
/// differs, or whose body is not base64 is an error (the message says which).
pub(crate) fn parse(text: &str) -> Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim_end);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim_start()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut headers = Vec::new();
        let mut body = String::new();
        let mut in_headers = true;
        let mut closed = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                closed = true;
                break;
            }
            if line.starts_with("-----END ") {
                return Err(format!("PEM block \"{label}\" ends with \"{line}\""));
            }
            if in_headers {
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim().to_string(), value.trim().to_string()));
                    continue;
                }
                in_headers = false;
                if line.is_empty() {
                    continue;
                }
            }
            body.push_str(line);
        }
        if !closed {
            return Err(format!("PEM block \"{label}\" has no END line"));
        }
        let der = Base64::decode_vec(&body).map_err(|_| format!("PEM block \"{label}\" is not valid base64"))?;
        blocks.push(PemBlock {
            label: label.to_string(),
            headers,
            der,
        });
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_with_surrounding_text_and_headers() {
        let text = "subject=CN = x\nissuer=...\n-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n\
                    junk\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00FF\n\n\
                    BQY=\n-----END RSA PRIVATE KEY-----\n";
        let blocks = parse(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(blocks[0].der, vec![1, 2, 3, 4]);
        assert!(blocks[0].headers.is_empty());
        assert_eq!(blocks[1].label, "RSA PRIVATE KEY");
        assert_eq!(blocks[1].header("dek-info"), Some("AES-256-CBC,00FF"));
        assert_eq!(blocks[1].header("Proc-Type"), Some("4,ENCRYPTED"));
        assert_eq!(blocks[1].der, vec![5, 6]);
        assert!(looks_like_pem(text.as_bytes()));
        assert!(!looks_like_pem(&[0x30, 0x82, 1, 2]));
    }

    #[test]
    fn crlf_and_indentation() {
        let text = "  -----BEGIN X509 CRL-----\r\n  AQID\r\n  -----END X509 CRL-----\r\n";
        let blocks = parse(text).unwrap();
        assert_eq!(blocks[0].label, "X509 CRL");
        assert_eq!(blocks[0].der, vec![1, 2, 3]);
    }

    #[test]
    fn broken_blocks() {
        assert!(
            parse("-----BEGIN CERTIFICATE-----\nAQID\n")
                .unwrap_err()
                .contains("no END line")
        );
        assert!(
            parse("-----BEGIN CERTIFICATE-----\nAQID\n-----END X509 CRL-----\n")
                .unwrap_err()
                .contains("ends with")
        );
        assert!(
            parse("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
                .unwrap_err()
                .contains("base64")
        );
        assert_eq!(parse("no pem here").unwrap(), vec![]);
    }
}
