//! On-demand Bedrock prices for common models, used for the `cost_usd` event field.
//!
//! Prices are US-region on-demand list prices in USD per 1,000 tokens as published by AWS
//! (snapshot; check the Bedrock pricing page before relying on them for billing). When a model
//! is not in the table, the prompt's `metrics.cost_per_call_usd` is reported instead.

/// Price of one model, USD per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Per 1,000 input tokens.
    pub input_per_1k: f64,
    /// Per 1,000 output tokens.
    pub output_per_1k: f64,
}

impl Price {
    /// A model that costs nothing (the local model).
    pub const FREE: Price = Price {
        input_per_1k: 0.0,
        output_per_1k: 0.0,
    };

    /// The cost of one call.
    pub fn cost(&self, input_tokens: u32, output_tokens: u32) -> f64 {
        (f64::from(input_tokens) * self.input_per_1k
            + f64::from(output_tokens) * self.output_per_1k)
            / 1000.0
    }
}

/// Model id (without version suffix) → (input, output) USD per 1k tokens.
const PRICES: &[(&str, f64, f64)] = &[
    ("amazon.nova-lite", 0.00006, 0.00024),
    ("amazon.nova-micro", 0.000035, 0.00014),
    ("amazon.nova-pro", 0.0008, 0.0032),
    ("amazon.titan-text-express", 0.0002, 0.0006),
    ("amazon.titan-text-lite", 0.00015, 0.0002),
    ("amazon.titan-text-premier", 0.0005, 0.0015),
    ("anthropic.claude-3-5-haiku", 0.0008, 0.004),
    ("anthropic.claude-3-5-sonnet", 0.003, 0.015),
    ("anthropic.claude-3-7-sonnet", 0.003, 0.015),
    ("anthropic.claude-3-haiku", 0.00025, 0.00125),
    ("anthropic.claude-3-opus", 0.015, 0.075),
    ("anthropic.claude-3-sonnet", 0.003, 0.015),
    ("anthropic.claude-instant", 0.0008, 0.0024),
    ("anthropic.claude-opus-4", 0.015, 0.075),
    ("anthropic.claude-sonnet-4", 0.003, 0.015),
    ("anthropic.claude-v2", 0.008, 0.024),
    ("meta.llama3-1-70b-instruct", 0.00072, 0.00072),
    ("meta.llama3-1-8b-instruct", 0.00022, 0.00022),
    ("meta.llama3-70b-instruct", 0.00265, 0.0035),
    ("meta.llama3-8b-instruct", 0.0003, 0.0006),
    ("mistral.mistral-7b-instruct", 0.00015, 0.0002),
    ("mistral.mistral-large", 0.004, 0.012),
    ("mistral.mixtral-8x7b-instruct", 0.00045, 0.0007),
];

/// Geography prefixes of cross-region inference profiles (`us.anthropic...`).
const PROFILE_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca.",
];

/// A Bedrock model id without its cross-region inference profile prefix
/// (`us.anthropic.claude-…` → `anthropic.claude-…`).
pub fn without_profile_prefix(model_id: &str) -> &str {
    PROFILE_PREFIXES
        .iter()
        .find_map(|prefix| model_id.strip_prefix(prefix))
        .unwrap_or(model_id)
}

/// The price of a Bedrock model id (`anthropic.claude-3-haiku-20240307-v1:0`, with or without
/// an inference-profile prefix), if known.
pub fn price_for(model_id: &str) -> Option<Price> {
    let id = without_profile_prefix(model_id);
    // The longest matching family wins (`claude-3-5-sonnet` before `claude-3-sonnet` is not an
    // issue since neither is a prefix of the other, but `claude-3` vs `claude-3-5` would be).
    PRICES
        .iter()
        .filter(|(family, _, _)| {
            id.strip_prefix(family)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', ':']))
        })
        .max_by_key(|(family, _, _)| family.len())
        .map(|&(_, input, output)| Price {
            input_per_1k: input,
            output_per_1k: output,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_and_profile_ids_resolve() {
        let sonnet = price_for("anthropic.claude-3-5-sonnet-20240620-v1:0").unwrap();
        assert_eq!(sonnet.input_per_1k, 0.003);
        assert_eq!(
            price_for("us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
            Some(sonnet)
        );
        assert!(price_for("amazon.titan-text-express-v1").is_some());
        assert_eq!(price_for("anthropic.claude-3-5"), None);
        assert_eq!(price_for("unknown.model"), None);
        let cost = sonnet.cost(1000, 100);
        assert!((cost - 0.0045).abs() < 1e-12);
    }
}
