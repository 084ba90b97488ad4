"""School merger and closure (学校合并、撤销: N2013 art. 9 — "学校合并或撤销的，学生学籍档案转至
合并后学校或由县级教育行政部门指定的学校"; decisions 0043 and 0049).

The closing school's registry authority decides: a county for the schools it governs, a city
or a province for the schools it runs (N2013 art. 3). Its operator posts the merger at its own
route (``/api/v1/counties|cities|provinces/{code}/school-mergers``); the authority keeps one row
per merger (``school_merger``) and sends one ``school.merged`` to national, naming the operator
as the decider. National moves the registrations set-based and answers with one
``school.merged_applied`` per 2,000 students; the authority adds each batch to the merger's
report (students moved, students refused with their rule).

Wired by the county service (its counties) and the province service (the province and the
cities it hosts, decision 0034): :func:`.tables.define_merger_table`,
:func:`.http.build_router`, :func:`.reports.record_batch`.
"""
