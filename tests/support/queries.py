"""Database connection wrappers for tests of concurrent transactions."""

import threading


def waiting_at_first_select_of(table, barrier, waited):
    """A connection wrapper (connection.execute_wrapper): once the connection has made its first SELECT from
    `table` (its transaction still open, the rows it took locked), wait there until the other connections have
    made theirs. One kept from its SELECT by another's locks never gets there in time: the barrier breaks, and
    `waited` says so."""
    selected = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not selected and sql.startswith("SELECT") and f'FROM "{table}"' in sql:
            selected.append(sql)
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                waited.append(sql)
        return result

    return wrapper
