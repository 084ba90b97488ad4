"""Tables of the county service's own database: its approval desk's (``desk_task``…)."""

from sqlalchemy.orm import DeclarativeBase

from components.approval_desk.tables import define_desk_tables


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# The county is the registry authority (学籍主管部门) of most schools: its desk's tasks.
desk_tables = define_desk_tables(metadata)
