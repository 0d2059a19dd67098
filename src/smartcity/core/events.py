"""Topics the foundation publishes, each with its payload's shape."""

from __future__ import annotations

# A signed checkpoint of the audit trail and the exchange message log was written; the payload
# is the checkpoint line exactly as the file holds it ({"checkpoint": ..., "signature": ...}),
# so a subscriber off the platform (a NATS stream, another city system) keeps a copy that a
# rollback of this database and of its checkpoint directory cannot reach.
CHAIN_CHECKPOINTED = "core.chain.checkpointed"

# A backup was written: {"path", "manifest", "at", "database", "checkpoint"}.
BACKUP_WRITTEN = "core.backup.written"
