"""The inventory ledger: lots, serials, append-only movements, balances, FEFO, trace, GS1 capture,
temperature records, stock counts and the scheduled expiry scans."""
