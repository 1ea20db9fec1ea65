"""Database: typed tables, engine/session set-up and migrations."""
