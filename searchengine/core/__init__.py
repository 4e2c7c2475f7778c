"""The records and rules every layer shares: clusters and articles, text analysis,
the request contract, the filter rule, what a hit is. Imports nothing above it."""
