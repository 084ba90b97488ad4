"""``xueji-ops``: the operator's command line (synchronous; pika for the broker).

- ``xueji-ops dead-letters list|replay`` (:mod:`shared.ops.dead_letters`)
- ``xueji-ops outbox`` (:mod:`shared.ops.outbox`)

Defaults (broker URL, instances, data directory) come from ``var/federation.json``, written
by ``make run`` (:mod:`shared.ops.federation`). The transfer flow will add ``transfer show`` and
``overdue`` as modules of their own, registered in :mod:`shared.ops.cli`.
"""
