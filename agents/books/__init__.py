"""Books: compacted topics every process reads whole and then follows — org policies,
user facts and notification targets — each kept as the newest record per key."""
