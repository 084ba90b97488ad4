"""Fixtures shared by the desk's tests."""

from tests.components.approval_desk.test_transfer_tasks import make_desk as make_desk
