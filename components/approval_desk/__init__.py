"""The approval desk (审批台): where every deciding party finds what waits for it, and decides.

One component for every unit that decides something, whatever its tier:

- a **registry authority** (学籍主管部门: a school's county, or its province for
  province-direct schools, N2013 art. 3; HA art. 3) approves what its schools submit —
  registration batches, key-field changes, status changes, graduating lists — and answers
  national's requests (a term check's findings, a duplicate resolution);
- every **party of a transfer** (N2013 art. 14; HA art. 11) decides its step: the sending
  school (转出学校核办), the authorities, the provinces; a superior decides a late party's
  step in its place (强制干预, HA art. 11(三)).

Each of these is a **task** of a kind (:class:`.domain.TaskKind`), owned by the deciding unit,
in one table (``desk_task``, :mod:`.tables`, in the hosting service's own database), decided
once (open → approved | rejected, or void when the transfer ended elsewhere). One task list
(conditional, long-polled: decisions 0017, 0020), one decision and one bulk decision serve
every kind. A hosting tier has a say in a kind through a **policy** (:class:`.desk.KindPolicy`):
facts it adds when the task opens (the sending school: the student's status on its roster), a
decision the system takes at once (the province: its discipline check, HA art. 11(四)), what a
decision does where the desk is.

Layout, as in a tier: :mod:`.domain` (rules, standard library only), :mod:`.tables`,
:mod:`.repository` (every query), :mod:`.intake`, :mod:`.transfers`, :mod:`.graduation`,
:mod:`.verification`, :mod:`.duplicates` and :mod:`.decisions` (use cases; none commits),
:mod:`.queries` (reads), :mod:`.messages` and :mod:`.http` (entry points: the consumer and the
request commit), :mod:`.metrics` (the task gauge). A service wires it in its bootstrap::

    desk = ApprovalDesk(runtime, desk_tables, policies={TaskKind.TRANSFER_STEP: ...})
    messages.register(handlers, desk)          # an authority; a school: register_transfer_steps
    metrics.register_task_gauge(desk)
    routers = [http.task_router(desk), ...]

It knows nothing about counties, provinces or schools beyond "the units this instance hosts"
(``ctx.unit`` of a message, the unit in an HTTP path).
"""
