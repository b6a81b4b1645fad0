"""The read side: the report reader beside a worker and `backupwatch serve` apart from
the workers, their API and dashboard, the fleet view they build from the device-state
changelog, and who may read or write through them."""
