"""Tables of the county service's own database: its approval desk's (``desk_task``…), the
term transfer reports of the province-direct and city-run schools in it (N2013 art. 18) and
the schools it merged or closed (N2013 art. 9)."""

from sqlalchemy.orm import DeclarativeBase

from components.approval_desk.tables import define_desk_tables
from components.received_statistics.tables import define_received
from components.school_mergers.tables import define_merger_table
from services.county.transfer_reports import define_report_table


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# The county is the registry authority (学籍主管部门) of most schools: its desk's tasks.
desk_tables = define_desk_tables(metadata)

# N2013 art. 18: one row per (county, term, school), replaced by a re-sent report
transfer_term_report = define_report_table(metadata)

# N2013 art. 9: the schools the county merged or closed, with their reports (decisions 0043,
# 0049: the component shared with the province and its cities)
school_merger = define_merger_table(metadata)

# The figures national (basic) and the province (non-basic) send the county (decision 0047)
statistics_received = define_received(metadata)
