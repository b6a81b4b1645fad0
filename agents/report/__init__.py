"""The read side: the report reader process, its API and dashboard, the fleet view
it builds from the device-state changelog, and who may read or write through it."""
