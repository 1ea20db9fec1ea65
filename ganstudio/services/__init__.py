"""Business rules, one place each: plain functions with keyword-only arguments over a Session."""
