"""Fleets past one machine: shards of an inventory, resumed runs, and case sets of several bundles.

``shard`` (which hosts a runner takes), ``resume`` (what a rerun must collect again, from the run
records beside earlier bundles) and ``caseset`` (``merge``: a signed top manifest over shard bundles,
read without decrypting them; ``open``/``report`` of a set).
"""
