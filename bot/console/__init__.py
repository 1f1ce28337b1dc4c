"""The investigator console: a web application over the same database, for signed-in users."""
