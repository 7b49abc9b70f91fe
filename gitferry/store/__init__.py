"""The state store: one SQLite file under the data directory, written in transactions."""
