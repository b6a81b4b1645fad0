"""`backupwatch notify`: deliver alerts on the channels of `agents/notify/channels/`
(email, signed webhooks, Apprise's chat and paging services), once per recipient.

The pure parts — settings, rendering, signing, the retry schedule, delivery
planning, digest grouping, offset bookkeeping — have no I/O; `channels`, `store`,
`recipients`, `web` and `runner` do the talking.
"""

# The channel registry first: it tells the wire contract which recipients policies may
# name, which everything here decodes.
import agents.notify.channels  # noqa: F401 - registers the channels
from agents.notify.settings import NotifySettings

__all__ = ["NotifySettings"]
