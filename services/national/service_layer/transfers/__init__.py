"""The transfer saga at national (转学, N2013 art. 14; N2025 art. 15; HA art. 11; LS 2(一);
ZJ art. 13): one state machine per transfer, its state and deadlines in this database.

- ``rulebook``   province rules, calendars and units: who decides which step, until when
- ``requests``   ``transfer.requested``: check, refuse or open the first step
- ``decisions``  ``transfer.step_decided`` and national's own interventions: next step,
                 completion (the registry moves), rejection
- ``closing``    cancellation by the receiving school, stop on a status change
- ``deadlines``  the sweep: reminders before due, overdue reports to the superior
- ``notices``    the messages the saga sends
- ``queries``    what the HTTP API and the metrics read
"""
