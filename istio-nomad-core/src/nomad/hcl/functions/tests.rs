//! Exact-value tests for what the go-cty differential test cannot cover.
