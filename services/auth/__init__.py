"""Who is calling: users, passwords, tokens, roles, scopes, and the audit log."""
