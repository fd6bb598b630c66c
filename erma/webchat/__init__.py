"""The residents' mobile web chat (`/chat`): a page served by the platform, a per-conversation
credential, messages in through the gateway, and transcript entries pushed out by Server-Sent Events."""
