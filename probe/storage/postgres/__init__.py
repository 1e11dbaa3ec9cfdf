"""PostgreSQL as a collector's store (psycopg 3): ``open_postgres(url)``, imported only when a URI asks for it.

connection  a psycopg connection with sqlite3's small interface (``?``, ``with conn:``)
schema      numbered, transactional migrations; measurements partitioned by month
database    ``PgDatabase``: what the reading commands call (rows, verdicts)
"""
