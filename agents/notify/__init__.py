"""`backupwatch notify`: deliver alerts by email, signed webhooks and Apprise (chat and
paging services), once per recipient.

The pure parts — settings, rendering, signing, the retry schedule, delivery
planning, digest grouping, offset bookkeeping — have no I/O; `channels`, `store`,
`recipients`, `web` and `runner` do the talking.
"""

from agents.notify.settings import NotifySettings

__all__ = ["NotifySettings"]
