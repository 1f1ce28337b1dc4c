"""The service: the webhook, its request gate, the engine that owns the database."""
