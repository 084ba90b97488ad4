"""Status checks for registered client systems (学籍状态核验, N2025 art. 24).

Other government systems (a civil-affairs aid system, a health insurer) ask whether a student
is enrolled, at a school of county C, in grade G — without an officer's account and without
getting more than they need. A national operator registers each client system with the
purposes it declared and, per purpose, the claims it may ask (the vocabulary of the status
credential, :data:`components.documents.credentials.SELECTABLE`); the client gets an id and a
secret, shown once. The client then asks ``POST /api/v1/status-checks`` with HTTP Basic
credentials, a declared purpose, a subject and the claims it asserts; the answer is yes / no
per claim, nothing else (least privilege). Every call is audited: the client, the purpose,
the subject and the answer.

Tables: ``status_client`` (:mod:`.tables`), on the hosting service's metadata (national).
"""
