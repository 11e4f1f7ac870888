"""Who may do what: users, roles backed by training records, authentication and API tokens."""
