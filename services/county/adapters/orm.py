"""Tables of the county service's own database."""

from sqlalchemy.orm import DeclarativeBase

from components.approval_desk.tables import define_authority_tables


class Base(DeclarativeBase):
    pass


metadata = Base.metadata

# The county is the registry authority (学籍主管部门) of most schools: its approval tasks.
authority_tables = define_authority_tables(metadata)
