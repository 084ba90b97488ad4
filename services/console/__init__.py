"""The console (工作台): the web UI of every tier's users, a client of the tiers' public APIs.

It keeps no database and holds no privilege: each request goes to the instance hosting the
user's unit with the user's own token (decision 0029).
"""
