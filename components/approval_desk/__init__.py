"""The registry authority (学籍主管部门): a role, not a tier.

A school's registry authority is its county, or its province for province-direct schools
(N2013 art. 3; HA art. 3; ``School.authority_unit`` in the federation configuration). The
county service and the province service therefore both play this role, and both plug in this
one package: it knows nothing about counties or provinces, only about "the authority unit
this instance hosts" (``ctx.unit`` of a message, the unit code in an HTTP path).

What the role does (N2013 arts. 4, 6, 10):

- every registration batch and key-field change a school submits becomes an **approval
  task** (a row, not a workflow engine): open → approved | rejected, with who decided, when
  and why; the officer reads the items' *basic* info (the authority never receives extended
  info) and, for a key-field change, the proofs the guardian supplied;
- a batch that passes the authority's own checks is approved by the system at once where the
  school's province rules say ``registration.auto_approve = true``;
- approving sends the approved items to national for dedup and numbering; rejecting (the
  whole task or some items) answers the school and its province;
- in a transfer (N2013 art. 14; HA art. 11) the authority is one of the deciding parties:
  national opens its step, a task with a due date waits for the officer (or the service's
  step policy decides it at once: the province's discipline check), and the decision goes
  back to national; as the superior of a late school (or a province of a late county) it gets
  an intervention task and may decide in the party's place (HA art. 11(三)).

Layout, as in a tier: :mod:`.domain` (rules, standard library only), :mod:`.tables` (table
definitions added to the hosting service's own MetaData), :mod:`.repository` (every query),
:mod:`.intake`, :mod:`.transfers` and :mod:`.decisions` (use cases), :mod:`.queries` (reads),
:mod:`.messages` and :mod:`.http` (entry points), :mod:`.metrics` (the task gauge). A service
wires it in its bootstrap::

    authority = RegistryAuthority(runtime, authority_tables, step_policy=None)
    messages.register(handlers, authority)
    metrics.register_task_gauge(authority)
    routers = [http.task_router(authority), ...]
"""
