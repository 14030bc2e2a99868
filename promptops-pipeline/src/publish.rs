//! The publish stage's pure half: the output document and its metadata.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use crate::config::OutputFormat;

/// What the `source-key` metadata escapes: everything but letters, digits and `-_./~`.
const KEY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'/')
    .remove(b'~');
use crate::env::Env;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A complete HTML5 document whose body is `text` as text: the model's output is escaped, so
/// `<script>` from a model shows as `<script>` and never runs. Blank lines separate paragraphs
/// (`<p>`), single line breaks become `<br>`; the Content-Security-Policy allows nothing to
/// load or run, as a second line of defence.
pub fn html_document(title: &str, text: &str) -> String {
    let mut body = String::new();
    let normalised = text.replace("\r\n", "\n");
    for paragraph in normalised
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let lines: Vec<String> = paragraph.lines().map(escape_html).collect();
        body.push_str("<p>");
        body.push_str(&lines.join("<br>\n"));
        body.push_str("</p>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">\n\
         <title>{}</title>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape_html(title),
    )
}

/// The output object's body for `format`.
pub fn document(format: OutputFormat, title: &str, text: &str) -> String {
    match format {
        OutputFormat::Html => html_document(title, text),
        OutputFormat::Md => {
            let mut body = text.to_owned();
            if !body.ends_with('\n') {
                body.push('\n');
            }
            body
        }
    }
}

/// What every output object carries as metadata (S3 user metadata, or the local sidecar file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputMeta {
    /// The prompt id (`prompt_templates/<name>` for S3 templates).
    pub prompt_id: String,
    /// The prompt version.
    pub prompt_version: String,
    /// SHA-256 of the output body.
    pub content_hash: String,
    /// The model that answered (`local` for the offline model).
    pub model_id: String,
    /// The input's key.
    pub source_key: String,
    /// The environment.
    pub env: Env,
}

impl OutputMeta {
    /// The metadata as S3 user-metadata pairs (lowercase keys, ASCII-safe values: the source
    /// key is percent-encoded because S3 metadata must be ASCII).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("prompt-id".to_owned(), self.prompt_id.clone()),
            ("prompt-version".to_owned(), self.prompt_version.clone()),
            ("content-hash".to_owned(), self.content_hash.clone()),
            ("model-id".to_owned(), self.model_id.clone()),
            (
                "source-key".to_owned(),
                percent_encoding::utf8_percent_encode(&self.source_key, KEY_ESCAPES).to_string(),
            ),
            ("env".to_owned(), self.env.as_str().to_owned()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_output_is_text_in_a_complete_document() {
        let hostile = "<script>alert('x')</script> & \"<img src=x onerror=y>\"";
        let html = html_document("<b>title</b>", hostile);
        assert!(html.starts_with("<!DOCTYPE html>\n<html"));
        assert!(html.trim_end().ends_with("</html>"));
        assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"));
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;&lt;img")
        );
    }

    #[test]
    fn markdown_is_verbatim_with_a_final_newline() {
        assert_eq!(document(OutputFormat::Md, "t", "# Hi"), "# Hi\n");
    }

    #[test]
    fn metadata_is_ascii() {
        let meta = OutputMeta {
            prompt_id: "marketing.welcome-email".into(),
            prompt_version: "1".into(),
            content_hash: promptops_core::hash::sha256_hex(b"x"),
            model_id: "local".into(),
            source_key: "prompt_inputs/café au lait.json".into(),
            env: Env::Beta,
        };
        let map = meta.to_map();
        assert!(map.values().all(|value| value.is_ascii()));
        assert_eq!(
            map["source-key"],
            "prompt_inputs/caf%C3%A9%20au%20lait.json"
        );
    }
}
