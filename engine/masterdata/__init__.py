"""Master data: sites, locations, products, parties and their licences (audited, never deleted)."""
