"""Every sensor of the code location: alerts, webhooks, freshness checks, automation."""
