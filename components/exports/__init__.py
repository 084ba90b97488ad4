"""Exports as approval objects: nothing leaves in bulk without an approval (导出审批).

"非经学籍主管部门书面批准，学籍信息一律不得向外提供" (N2013 art. 25); 2025: only where law
requires or a government at county level or above approves (N2025 art. 24); whoever exports
is accountable (ZJ art. 30).

A registrar or operator of a unit asks for an export of a population (a school, a county, a
province — their own unit or one under it) with a purpose and a field scope taken from the
service's fixed list. The approving unit decides (:func:`.domain.approver_of`: the school's
registry authority, or for a county / province / national unit that unit itself, another
officer — or, by a province's rule ``[exports] approved_by = "province"``, the province).
Approval produces the CSV with exactly the approved fields, downloadable by the requester
alone until it expires (``[exports] download_hours``); every download is audited. Rejected,
pending, expired or someone else's: nothing is served.

Which service exports what: the school its roster (basic info), national the registry (basic
info), the province its archives (extended info, never at national: it has none). Each plugs
in an :class:`.source.ExportSource` (fields and one set-based query) and mounts
:func:`.http.export_router`.

Tables: ``kernel_export`` (:mod:`.tables`), in every tier's database.
"""
