//! Procedural macros behind `prompts::prompt!("id")`.
//!
//! Not used directly: a generated prompts crate exports `macro_rules! prompt`, which calls
//! [`prompt_impl!`] with the crate's table of ids. The decisions (does the id exist, what is the
//! closest one, is it a draft left out of a production build) are made by
//! `promptops_build::references`; this crate only parses tokens and places errors at the user's
//! string literal.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use promptops_build::references::{resolve, ReferenceTable};
use quote::quote_spanned;

/// Expands to `$crate::path::to::handle()` for a known id (`$crate::ALL.def(n)`, the prompt's
/// `&'static PromptDef`, when the crate was generated without handles, `handles = false`), or
/// to a `compile_error!` located at the id's string literal. `prompts` lists the compiled-in
/// prompts in `ALL`'s order. Input (written by generated code):
/// `krate = $crate; dir = "…"; hash = "…"; env = "…"; [handles = false;]
/// prompts = ["id" (path), …]; excluded = ["id" "draft", …]; id = "…"`.
#[proc_macro]
pub fn prompt_impl(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    match expand(input.into()) {
        Ok(tokens) | Err(tokens) => tokens.into(),
    }
}

struct Input {
    krate: TokenTree,
    dir: String,
    env: String,
    handles: bool,
    compiled: Vec<(String, TokenStream)>,
    excluded: Vec<(String, String)>,
    id: Option<(String, Span)>,
    id_span: Span,
}

fn expand(input: TokenStream) -> Result<TokenStream, TokenStream> {
    let input = parse(input)?;
    let (id, span) = match input.id {
        Some(id) => id,
        None => {
            return Err(error(
                input.id_span,
                "expected the prompt id as a string literal, e.g. `prompt!(\"domain.name\")`",
            ))
        }
    };
    let table = ReferenceTable {
        compiled: input
            .compiled
            .iter()
            .map(|(id, _)| (id.as_str(), ""))
            .collect(),
        excluded: input
            .excluded
            .iter()
            .map(|(id, status)| (id.as_str(), status.as_str()))
            .collect(),
        prompts_dir: &input.dir,
        environment: &input.env,
    };
    match resolve(&table, &id) {
        Ok(_) => {
            // `compiled` is in `ALL`'s order, so the position is the prompt's slot there.
            let (slot, path) = input
                .compiled
                .iter()
                .enumerate()
                .find(|(_, (known, _))| *known == id)
                .map(|(slot, (_, path))| (slot, respan(path.clone(), span)))
                .unwrap_or_default();
            let krate = input.krate;
            if input.handles {
                Ok(quote_spanned!(span=> #krate::#path()))
            } else {
                let slot = proc_macro2::Literal::usize_unsuffixed(slot);
                Ok(quote_spanned!(span=> #krate::ALL.def(#slot)))
            }
        }
        Err(err) => Err(error(span, &err.render())),
    }
}

fn error(span: Span, message: &str) -> TokenStream {
    quote_spanned!(span=> ::core::compile_error!(#message))
}

fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            tree.set_span(span);
            tree
        })
        .collect()
}

/// Captured `macro_rules!` fragments arrive wrapped in invisible groups.
fn unwrap_none_groups(tree: TokenTree) -> TokenTree {
    match tree {
        TokenTree::Group(group) if group.delimiter() == Delimiter::None => {
            let mut inner = group.stream().into_iter();
            match (inner.next(), inner.next()) {
                (Some(only), None) => unwrap_none_groups(only),
                _ => TokenTree::Group(group),
            }
        }
        other => other,
    }
}

fn string_literal(tree: &TokenTree) -> Option<String> {
    let TokenTree::Literal(literal) = tree else {
        return None;
    };
    let text = literal.to_string();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then(|| inner.to_owned())
}

fn parse(input: TokenStream) -> Result<Input, TokenStream> {
    let malformed = || {
        error(
            Span::call_site(),
            "promptops: malformed `prompt_impl!` input; regenerate the prompts crate",
        )
    };
    let mut parsed = Input {
        krate: TokenTree::Ident(proc_macro2::Ident::new("crate", Span::call_site())),
        dir: String::new(),
        env: String::new(),
        handles: true,
        compiled: Vec::new(),
        excluded: Vec::new(),
        id: None,
        id_span: Span::call_site(),
    };
    let mut tokens = input.into_iter().map(unwrap_none_groups).peekable();
    while let Some(key) = tokens.next() {
        let TokenTree::Ident(key) = key else {
            return Err(malformed());
        };
        match tokens.next() {
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
            _ => return Err(malformed()),
        }
        let value = tokens.next().ok_or_else(malformed)?;
        match key.to_string().as_str() {
            "krate" => parsed.krate = value,
            "dir" => parsed.dir = string_literal(&value).ok_or_else(malformed)?,
            "hash" => {}
            "env" => parsed.env = string_literal(&value).ok_or_else(malformed)?,
            "handles" => {
                parsed.handles = match &value {
                    TokenTree::Ident(flag) if flag == "true" => true,
                    TokenTree::Ident(flag) if flag == "false" => false,
                    _ => return Err(malformed()),
                }
            }
            "prompts" | "excluded" => {
                let TokenTree::Group(group) = value else {
                    return Err(malformed());
                };
                let mut entries = group.stream().into_iter().peekable();
                while let Some(id) = entries.next() {
                    let id = string_literal(&id).ok_or_else(malformed)?;
                    match entries.next() {
                        Some(TokenTree::Group(path)) if key == "prompts" => {
                            parsed.compiled.push((id, path.stream()))
                        }
                        Some(status) if key == "excluded" => parsed
                            .excluded
                            .push((id, string_literal(&status).ok_or_else(malformed)?)),
                        _ => return Err(malformed()),
                    }
                    if matches!(entries.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
                        entries.next();
                    }
                }
            }
            "id" => {
                parsed.id_span = value.span();
                parsed.id = string_literal(&value).map(|id| (id, value.span()));
            }
            _ => return Err(malformed()),
        }
        if matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
            tokens.next();
        }
    }
    Ok(parsed)
}
