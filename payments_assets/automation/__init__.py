"""What runs by itself: ingest jobs, their schedules, the sensors (alerts, webhooks, freshness,
automation) and the declarative conditions of everything built from the raw layer."""
