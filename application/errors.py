"""Errors the use cases raise; adapters map them to 404/409/422 and CLI messages."""


class ContextStoreError(Exception):
    """Base of ctxstore's own errors: the message is meant for the user."""


class AgentNotFound(ContextStoreError):
    def __init__(self, agent_id: str):
        self.agent_id = agent_id
        super().__init__(f"agent {agent_id!r} has no recorded events")


class PointNotFound(ContextStoreError):
    """A version past the agent's history, or a time before its first event."""


class WriteConflict(ContextStoreError):
    """Concurrent writers kept colliding on the same agents; nothing of the batch was written."""
