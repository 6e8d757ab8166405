"""Plain-Python domain rules: no Flask, no database. Tested directly."""
