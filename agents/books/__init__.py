"""Books: compacted topics every process reads whole and then follows — org policies,
user facts and notification targets — each kept as the newest record per key."""

# A policy is valid when the notifier's channels can deliver to its recipients: loading
# the channel registry with the books makes every reader of policies (worker, report,
# notifier) agree on which records those are.
import agents.notify.channels  # noqa: F401 - registers the channels
