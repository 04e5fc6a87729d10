"""Assets by layer: ingest (raw, from the APIs), staging, marts, exports."""
