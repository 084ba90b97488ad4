"""The county tier service: the county's wiring of the approval desk (see docs/architecture.md).

A county is the registry authority (学籍主管部门) of most schools (N2013 art. 3) and a party
of their transfers; everything it decides is a task on its approval desk
(``components/approval_desk``). This package holds only what is the county's own: which
tables its database has (:mod:`.tables`), its officers' task list route (:mod:`.http`), and
the wiring (:mod:`.bootstrap`). It has no business logic of its own.
"""
