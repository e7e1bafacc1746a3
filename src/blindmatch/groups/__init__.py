"""Groups of labs: forum policy, rounds and over-threshold matching (docs/groups.md)."""
