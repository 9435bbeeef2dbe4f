"""Alembic environment: runs on the connection that digest.store hands over."""

from alembic import context

from digest.store.tables import Base

config = context.config
target_metadata = Base.metadata
connection = config.attributes.get("connection")

if connection is None:  # pragma: no cover - the project always passes a connection
    raise RuntimeError("digest migrations run through digest.store.Store.open(), not the alembic CLI")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
