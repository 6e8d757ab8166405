"""The demo roster: loading seed_data/*.csv (streets, buildings, firms, metrics, initial tiers)."""
