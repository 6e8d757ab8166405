"""Fault checks: a database that goes away, a killed scheduler, several SQLite writers."""
