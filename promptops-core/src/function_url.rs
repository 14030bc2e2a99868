//! Recognising a Lambda Function URL, `https://<url-id>.lambda-url.<region>.on.aws/...`.
//!
//! Kept here, once, because two crates need it: promptops-aws signs for the URL's region, and
//! the runtime must recognise a Function URL even in a build without AWS support (to say that
//! it cannot sign for one). Plain string work, no I/O.

/// The region of a Lambda Function URL, `https://<url-id>.lambda-url.<region>.on.aws/...`, or
/// `None` for any other URL.
pub fn region(url: &str) -> Option<String> {
    let rest = url.trim();
    let scheme_end = rest.find("://")?;
    if !rest[..scheme_end].eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = &rest[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, "443")) => host,
        Some(_) => return None,
        None => authority,
    };
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let [id, "lambda-url", region, "on", "aws"] = labels.as_slice() else {
        return None;
    };
    let label = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (label(id) && label(region)).then(|| (*region).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_url_regions() {
        for (url, expected) in [
            (
                "https://abc123def.lambda-url.eu-west-1.on.aws/",
                Some("eu-west-1"),
            ),
            (
                "https://abc123def.lambda-url.us-east-1.on.aws",
                Some("us-east-1"),
            ),
            (
                "HTTPS://ABC.Lambda-Url.AP-SOUTHEAST-2.on.aws:443/prompts/x?mode=dev",
                Some("ap-southeast-2"),
            ),
            (
                " https://x.lambda-url.eu-central-1.on.aws/ ",
                Some("eu-central-1"),
            ),
            ("http://abc.lambda-url.eu-west-1.on.aws/", None),
            ("https://abc.lambda-url.eu-west-1.on.aws:8443/", None),
            ("https://lambda-url.eu-west-1.on.aws/", None),
            ("https://abc.lambda-url..on.aws/", None),
            ("https://a.b.lambda-url.eu-west-1.on.aws/", None),
            ("https://abc.lambda-url.eu-west-1.on.aws.example.com/", None),
            ("https://example.com/abc.lambda-url.eu-west-1.on.aws", None),
            ("https://abc.execute-api.eu-west-1.amazonaws.com/", None),
            ("http://127.0.0.1:8080", None),
            ("abc.lambda-url.eu-west-1.on.aws", None),
        ] {
            assert_eq!(region(url).as_deref(), expected, "{url}");
        }
    }
}
