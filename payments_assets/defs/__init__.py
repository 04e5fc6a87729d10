"""Dagster objects of your own, the dg way: `dg scaffold defs dagster.asset probe.py` writes
`probe.py` here, and `definitions.py` merges everything below this folder (found by Dagster's
`load_from_defs_folder`) into the code location beside the YAML-built assets."""
