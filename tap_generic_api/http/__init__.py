"""HTTP for the tap: sending (deadline, proxies, redirects, the 429 pause), retries, rate limits, responses."""
