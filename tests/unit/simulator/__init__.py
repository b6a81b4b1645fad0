"""Tests of the fleet simulator (pure: no Kafka)."""
