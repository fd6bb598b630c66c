"""County admins: editing catalog items, staff and agents, towns' aliases — each change audited."""
