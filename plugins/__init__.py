"""Built-in plugins shipped with GxPFlow; each registers itself under `gxpflow.plugins`."""
