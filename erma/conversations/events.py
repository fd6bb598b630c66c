"""What happens in a gateway conversation, published by erma/conversations/service.py (who listens is
decided by erma/wiring.py)."""
from __future__ import annotations

from dataclasses import dataclass

from erma.conversations.models import Conversation, TranscriptEntry


@dataclass(frozen=True)
class OwnerChanged:
    """A person took, handed back or ended the conversation; `entry` is the system transcript entry
    that says so (the words the web page shows the resident)."""
    conversation: Conversation
    entry: TranscriptEntry


@dataclass(frozen=True)
class AgentReplied:
    """The agent holding the conversation wrote `entry` to the resident."""
    conversation: Conversation
    entry: TranscriptEntry
