"""Figures another tier sent a unit, kept in the receiving tier's own database (分级汇总,
ZJ art. 5; decision 0047).

National sends each county its schools' basic headcount and movements of a day
(``statistics.county_figures``) and each province its counties' (``…province_figures``); each
province sends each of its counties the non-basic breakdowns of its schools
(``…county_extended``). The receiving tier keeps one row per (unit, period, kind), replaced by a
re-delivery or a re-run (a later computation wins), and serves them at
``GET /api/v1/statistics/received`` — so a county reads its own figures from its own service,
nobody reading another tier's database.

Layout: :mod:`.tables` (the received rows and the publishers' marks), :mod:`.receiving` (the
message handlers), :mod:`.http` (the read), :mod:`.published` (a publisher's "period sent"
mark). A service wires it in its bootstrap::

    receiving.register(handlers, runtime, tables)
    routers = [http.build_router(runtime, tables), ...]
"""
