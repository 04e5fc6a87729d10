"""Provider webhooks: signed events in, stored once, turned into partition runs by a sensor.

`signing` and `events` are plain Python (the sandbox signs with the same code it is checked
against), `store` owns the SQLite file, `receiver` and `cli` serve `payments-webhooks`, and
`resource` is the one Dagster door to the store. See docs/webhooks.md.
"""
