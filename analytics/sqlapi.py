"""SQL against the store: read-only connections, safe ad hoc SQL and the named queries.

The public contract is the documented views in the store's ``main`` schema
(``analytics/store/migrations/0008_public_schema.sql``, documented in ``docs/sql.md``): bare names
resolve as in a plain DuckDB client, so ``select * from transcripts`` means the public view and
internal tables are ``internal.<name>``. :func:`open_sql` opens the store read-only;
:func:`run_sql` runs one read statement with a row cap (``truncated`` says when rows were left
out) and a time limit that interrupts the query; :func:`run_query` runs a named query from
``queries/*.sql`` with bound parameters.

>>> from cotwatch.analytics.sqlapi import open_sql, run_sql, run_query
>>> with open_sql("runs.duckdb") as store:
...     df, truncated = run_sql(store, "select run, count(*) as n from transcripts group by run")
...     rates, _ = run_query(store, "term_rate_by_step", {"term": "grader"})

Writes are refused twice over: the connection is read-only, and every statement is checked
first with DuckDB's own parser (statement types, and the parsed tree of SELECTs for data-changing
CTEs), so a refused statement never reaches the store.

SQL stays local: :func:`open_sql` starts DuckDB with extension auto-install and auto-load off and
external access off, so no URL (``https://``, ``s3://``, ``hf://`` ...) is fetched, no extension
is downloaded and nothing is written under ``$HOME``; local files are readable only below the
directories given as ``allow_read`` (``cotwatch sql --allow-read DIR``), none by default.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

import duckdb
from cotwatch.analytics.errors import InputError, QueryTimeout, StoreLocked
from cotwatch.analytics.store.database import PUBLIC_SEARCH_PATH, Store

#: DuckDB start-up settings of every SQL connection: no extension is installed or loaded behind
#: the user's back (the four cotwatch needs are built in: core_functions, icu, json, parquet).
SQL_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
#: DuckDB types that polars cannot hold faithfully: run_sql returns their DuckDB text instead.
_AS_TEXT = frozenset({"bit", "bignum", "varint", "variant", "time with time zone", "interval", "union"})

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT = 60.0
_BATCH_ROWS = 2048

#: PRAGMAs that only read (anything else, e.g. ``import database`` or ``enable_profiling``, is refused).
READ_PRAGMAS = frozenset({
    "table_info", "show_tables", "show_tables_expanded", "show_databases", "database_list",
    "database_size", "storage_info", "table_storage_info", "metadata_info", "version", "platform",
    "show", "functions", "collations", "user_agent",
})
#: Statement types that could change the store or the session, with the reason given to the user.
_WHY_REFUSED = {
    "INSERT": "INSERT statements can change the store",
    "UPDATE": "UPDATE statements can change the store",
    "DELETE": "DELETE statements can change the store",
    "MERGE_INTO": "MERGE statements can change the store",
    "DROP": "DROP statements can change the store",
    "CREATE": "CREATE statements can change the store",
    "ALTER": "ALTER (and COMMENT ON) statements can change the store",
    "ATTACH": "ATTACH statements can change the store (or open another one)",
    "DETACH": "DETACH statements can change the store's session",
    "COPY": "COPY statements can change the store or write files",
    "EXPORT": "EXPORT statements write files",
    "LOAD": "INSTALL/LOAD statements can change the store's engine",
    "SET": "SET/RESET/USE statements can change the session",
    "VARIABLE_SET": "SET VARIABLE statements can change the session",
    "CALL": "CALL statements can change the store (use SELECT * FROM fn(...) for table functions)",
    "PRAGMA": "PRAGMA statements can change the store or the session",
    "VACUUM": "VACUUM/ANALYZE statements can change the store",
    "TRANSACTION": "transaction statements can change the store",
    "PREPARE": "PREPARE statements can change the session",
    "EXECUTE": "EXECUTE statements can run anything prepared",
    "MULTI": "statements that expand to several (e.g. PIVOT outside SELECT) can change the store",
    "RELATION": "relation statements can change the store",
    "LOGICAL_PLAN": "logical-plan statements can change the store",
    "EXTENSION": "extension statements can change the store",
    "UPDATE_EXTENSIONS": "UPDATE EXTENSIONS statements change the engine",
    "UNKNOWN": "statements of a kind cotwatch does not know (e.g. UPDATE EXTENSIONS) are not run",
}
_DML_NODE_RE = re.compile(r'"type"\s*:\s*"((?:INSERT|UPDATE|DELETE|MERGE)\w*)"')
#: Table functions that act on the database rather than read it.
_ACTING_FUNCTION_RE = re.compile(r'"function_name"\s*:\s*"((?:force_)?checkpoint)"', re.I)
_EXPLAIN_RE = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+)?(?:\([^)]*\)\s*)?(?P<inner>.*)$", re.I | re.S)
_PRAGMA_RE = re.compile(r"^\s*pragma\s+(?P<name>\w+)\s*(?P<rest>.*)$", re.I | re.S)
_PARAM_RE = re.compile(r"\$([A-Za-z_]\w*)")
_DENIED_RE = re.compile(r'Permission Error: Cannot access (?:file|directory) "(.*?)" - file system operations are disabled')


class SqlResult(NamedTuple):
    """A query's rows (polars) and whether the row cap left some out."""

    frame: Any
    truncated: bool


# --------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------
def open_sql(
    path: str | os.PathLike[str] | None = None,
    *,
    wait: float = 0.0,
    allow_read: Sequence[str | os.PathLike[str]] = (),
) -> Store:
    """Open the store read-only for SQL: bare names are the documented views, as in a plain
    DuckDB client (``store.frame("select * from transcripts")`` is the public view too).

    The connection stays local (:data:`SQL_CONFIG`, then ``enable_external_access = false``): no
    network, no extension install or load, no file outside the store — except local files below
    the existing directories in ``allow_read``. Waits up to ``wait`` seconds while another
    process holds the write lock, then raises
    :class:`~cotwatch.analytics.errors.StoreLocked` saying why.
    """
    directories = _readable_directories(allow_read)
    store = Store.open(path, read_only=True, wait=wait, config=SQL_CONFIG, search_path=PUBLIC_SEARCH_PATH)
    try:
        _stay_local(store, directories)
    except BaseException:
        store.close()
        raise
    return store


def _readable_directories(allow_read: Sequence[str | os.PathLike[str]]) -> list[str]:
    """``allow_read`` as absolute directory prefixes (ending in ``/``); InputError for anything
    that is not an existing local directory."""
    directories = []
    for entry in allow_read:
        text = os.fspath(entry)
        if "://" in text:
            raise InputError(f"--allow-read {text}: only local directories can be allowed (SQL never reads URLs)")
        folder = os.path.realpath(text)
        if not os.path.isdir(folder):
            raise InputError(f"--allow-read {text}: no such directory")
        directories.append(folder.rstrip(os.sep) + os.sep)
    return sorted(set(directories))


def _stay_local(store: Store, directories: list[str]) -> None:
    """Turn external access off on the store's DuckDB instance (it cannot be turned on again
    while the instance lives), allowing reads below ``directories`` only."""
    con = store.con
    on = con.execute("select current_setting('enable_external_access')").fetchall()[0][0]
    if on:
        con.execute("set allowed_directories = $dirs", {"dirs": directories})
        con.execute("set enable_external_access = false")
        return
    allowed, spill = con.execute(
        "select current_setting('allowed_directories'), current_setting('temp_directory')").fetchall()[0]
    spill = (spill or "").rstrip(os.sep) + os.sep  # DuckDB allows its own spill directory itself
    current = sorted(d for d in (allowed or []) if d.rstrip(os.sep) + os.sep != spill)
    if current != directories:  # the instance is shared by another open_sql of the same file
        raise StoreLocked(
            f"{store.path}: already open for SQL in this process with other --allow-read directories "
            f"({', '.join(current) or 'none'}); close that store first"
        )


def _require_local(store: Store) -> None:
    on = store.con.execute("select current_setting('enable_external_access')").fetchall()[0][0]
    if on:
        raise InputError("ad hoc SQL needs a store opened with open_sql() (external access off); "
                         "this one was opened with Store.open()")


# --------------------------------------------------------------------------------------------
# Statement checks
# --------------------------------------------------------------------------------------------
def _type_name(statement: Any) -> str:
    try:
        return str(statement.type).rsplit(".", 1)[-1]
    except ValueError:  # a statement type this duckdb build's Python API cannot name (UPDATE EXTENSIONS)
        return "UNKNOWN"


def _refuse(kind: str, why: str | None = None) -> InputError:
    reason = why or _WHY_REFUSED.get(kind) or f"{kind} statements can change the store"
    label = "statement" if kind == "UNKNOWN" else kind.replace("_", " ")
    return InputError(f"{label} refused: {reason}; cotwatch sql is read-only")


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    try:
        return con.extract_statements(sql)
    except duckdb.Error as exc:
        raise InputError(f"SQL syntax error: {_describe(exc)}") from exc
    except ValueError as exc:  # a statement type this duckdb build cannot name
        raise InputError(f"statement refused: unknown statement type ({exc}); cotwatch sql is read-only") from exc


def _check_statement(con: duckdb.DuckDBPyConnection, statement: Any, depth: int = 0) -> None:
    kind = _type_name(statement)
    if kind == "SELECT":
        tree = con.execute("select json_serialize_sql($q)", {"q": statement.query}).fetchall()[0][0]
        found = _DML_NODE_RE.search(tree)
        if found:
            verb = found.group(1).split("_")[0]
            raise _refuse(verb, f"a {verb} inside a SELECT (data-changing CTE) can change the store")
        acting = _ACTING_FUNCTION_RE.search(tree)
        if acting:
            raise _refuse("CHECKPOINT", f"{acting.group(1)}() acts on the store file")
        return
    if kind == "EXPLAIN":
        match = _EXPLAIN_RE.match(statement.query)
        inner = _parse(con, match.group("inner")) if match and depth < 3 else []
        if len(inner) != 1:
            raise _refuse("EXPLAIN", "cannot tell what this EXPLAIN would run")
        _check_statement(con, inner[0], depth + 1)
        return
    if kind == "PRAGMA":
        match = _PRAGMA_RE.match(statement.query)
        if match and match.group("name").lower() in READ_PRAGMAS and "=" not in match.group("rest"):
            return
        raise _refuse("PRAGMA", "this PRAGMA can change the store or the session (reading PRAGMAs: "
                      + ", ".join(sorted(READ_PRAGMAS)) + ")")
    raise _refuse(kind)


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The one read statement in ``sql`` (a DuckDB ``Statement``); InputError otherwise.

    Allowed: SELECT (with WITH, VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE, PIVOT inside a
    query), EXPLAIN of those, and the reading PRAGMAs in :data:`READ_PRAGMAS`. Everything else —
    INSERT, UPDATE, DELETE, MERGE, DROP, CREATE, ALTER, ATTACH, DETACH, COPY, EXPORT/IMPORT,
    INSTALL/LOAD, SET/RESET/USE, CALL, VACUUM, transactions, PREPARE/EXECUTE, data-changing CTEs —
    is refused before it runs.
    """
    statements = _parse(con, sql)
    if not statements:
        raise InputError("no SQL statement given")
    for statement in statements:
        _check_statement(con, statement)
    if len(statements) > 1:
        raise InputError(f"give one statement at a time (got {len(statements)} statements separated by ';')")
    return statements[0]


def sql_parameters(sql: str, con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """Names of the ``$name`` parameters of ``sql`` (from DuckDB's parser), in order of first use."""
    own = con is None
    con = con or duckdb.connect()
    try:
        names: set[str] = set()
        for statement in _parse(con, sql):
            names |= set(statement.named_parameters)
    finally:
        if own:
            con.close()
    return _ordered(sql, names)


def _ordered(sql: str, names: set[str]) -> list[str]:
    if any(name.isdigit() for name in names):
        raise InputError("positional parameters (? or $1) are not supported: name them, e.g. $term")
    order = {name: i for i, name in reversed(list(enumerate(_PARAM_RE.findall(sql))))}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def _bind(names: list[str], params: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    given = dict(params or {})
    unknown = sorted(set(given) - set(names))
    missing = [n for n in names if n not in given]
    takes = ", ".join(f"${n}" for n in names) or "no parameters"
    if unknown:
        raise InputError(f"{what}: unknown parameter(s) {', '.join(unknown)} (it takes {takes})")
    if missing:
        raise InputError(f"{what}: missing parameter(s) {', '.join(missing)} (it takes {takes})")
    return given


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
def _describe(exc: BaseException) -> str:
    """A DuckDB error as one line: its title and message, plus any 'Did you mean' hint."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    keep = [ln for ln in lines if ln and not ln.startswith("LINE ") and set(ln) != {"^"} and not ln.startswith("^")]
    text = " ".join(keep)
    return text if len(text) <= 400 else text[:397] + "..."


def run_sql(
    store: Store,
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    timeout: float | None = DEFAULT_TIMEOUT,
    what: str = "query",
) -> SqlResult:
    """Run one read-only statement; ``(frame, truncated)``.

    ``max_rows`` caps the rows fetched (None or 0: no cap; ``truncated`` is True when rows were
    left out). ``timeout`` seconds (None or 0: none) interrupts the running query and raises
    :class:`QueryTimeout`, also when it strikes after the first rows arrived. Parameters are
    ``$name`` in the SQL, bound from ``params``; missing and unknown ones are an InputError naming
    them. The statement runs on a cursor of its own whose bare names are the documented views
    (``search_path = 'main'``, as in a plain DuckDB client), whatever ``store``'s own search path.

    >>> df, truncated = run_sql(store, "select * from transcripts where run = $run", {"run": "rl-1"}, max_rows=50)
    """
    _require_local(store)
    cursor = store.con.cursor(PUBLIC_SEARCH_PATH)
    try:
        statement = check_read_only(cursor, sql)
        bound = _bind(_ordered(sql, set(statement.named_parameters)), params, what)
        return _fetch(cursor, statement.query, bound, max_rows=max_rows, timeout=timeout, what=what)
    finally:
        cursor.close()


def _fetch(cursor, query: str, bound: dict[str, Any], *, max_rows: int | None, timeout: float | None,
           what: str) -> SqlResult:
    """Stream ``query``'s rows in Arrow batches up to ``max_rows``; every DuckDB error, early or
    late (raised while later batches are computed), becomes one typed error."""
    import polars as pl
    import pyarrow as pa

    fired = threading.Event()
    ctrl_c = threading.Event()

    def interrupt() -> None:
        fired.set()
        cursor.interrupt()

    def on_sigint(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        # DuckDB checks for Python's own SIGINT flag only now and then; interrupting the
        # cursor stops the query at once, whatever phase it is in.
        ctrl_c.set()
        cursor.interrupt()

    timer = None
    if timeout:
        timer = threading.Timer(float(timeout), interrupt)
        timer.daemon = True
        timer.start()
    own_sigint = threading.current_thread() is threading.main_thread()
    if own_sigint:
        previous = signal.signal(signal.SIGINT, on_sigint)
    batches: list[pa.RecordBatch] = []
    rows = 0
    truncated = False
    try:
        relation = cursor.sql(query, params=bound or None)
        if relation is None:
            return SqlResult(pl.DataFrame(), False)
        names = list(relation.columns)
        relation = _with_text_for_unsupported(relation)
        reader = relation.to_arrow_reader(_BATCH_ROWS)
        schema = reader.schema
        try:
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if max_rows and rows > max_rows:
                    truncated = True
                    break
        finally:
            reader.close()
    except (duckdb.Error, pa.ArrowException, OSError, RuntimeError) as exc:
        # After the first batch DuckDB's errors arrive through Arrow's stream as OSError or
        # ArrowException; a SIGINT while DuckDB computes surfaces as RuntimeError("Query interrupted").
        if type(exc) is RuntimeError and str(exc) != "Query interrupted":
            raise
        if ctrl_c.is_set():
            raise KeyboardInterrupt from exc
        if fired.is_set():
            raise QueryTimeout(
                f"{what} interrupted after its time limit of {float(timeout or 0):g}s "
                "(raise --timeout, or narrow the query)"
            ) from exc
        if (isinstance(exc, duckdb.InterruptException) or type(exc) is RuntimeError
                or str(exc).startswith("INTERRUPT Error")):
            raise KeyboardInterrupt from exc  # interrupted, but not by our timer: Ctrl-C
        text = _describe(exc)
        if "read-only mode" in text:
            raise InputError(f"statement refused: it would change the store; cotwatch sql is read-only ({text})") from exc
        denied = _DENIED_RE.search(text)
        if denied:
            raise InputError(
                f"{what} refused: cannot read {denied.group(1)}: SQL reads the store only, never a URL, "
                "and local files only below an --allow-read directory"
            ) from exc
        raise InputError(f"{what} failed: {text}") from exc
    finally:
        if timer is not None:
            timer.cancel()
        if own_sigint:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if ctrl_c.is_set():  # Ctrl-C after the last batch: still an interrupt
        raise KeyboardInterrupt
    table = pa.Table.from_batches(batches, schema=schema).rename_columns(names)
    if truncated:
        table = table.slice(0, max_rows)
    return SqlResult(arrow_to_polars(table), truncated)


def _with_text_for_unsupported(relation):
    """``relation`` with its BIT, BIGNUM, VARIANT, TIMETZ, INTERVAL and UNION columns cast to
    DuckDB's own text (``1 day``, ``12:00:00+01``), by column position; names are restored after."""
    types = [t.id for t in relation.types]
    if not _AS_TEXT.intersection(types):
        return relation
    return relation.project(", ".join(
        f"cast(#{i} as varchar)" if kind in _AS_TEXT else f"#{i}" for i, kind in enumerate(types, start=1)
    ))  # positions and constants only: no name or value from the query is formatted in


def arrow_to_polars(table):
    """A polars frame of any DuckDB result: duplicate column names get ``_2``, ``_3``... and the
    few types polars cannot import (INTERVAL, UNION) become their text form."""
    import polars as pl
    import pyarrow as pa

    names: list[str] = []
    seen: dict[str, int] = {}
    for name in table.column_names:
        seen[name] = seen.get(name, 0) + 1
        candidate = name if seen[name] == 1 else f"{name}_{seen[name]}"
        while candidate in seen and candidate != name:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
        seen.setdefault(candidate, 1)
        names.append(candidate)
    columns = []
    for name, column in zip(names, table.columns):
        column = _temporal_in_range(column)
        try:
            columns.append(pl.from_arrow(pa.table({"c": column})).to_series().alias(name))
        except Exception:  # an Arrow type polars has no dtype for: keep its text
            texts = [None if v is None else str(v) for v in column.to_pylist()]
            columns.append(pl.Series(name, texts, dtype=pl.String))
    return pl.DataFrame(columns, schema=names) if columns else pl.DataFrame()


_INT64_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
# Python's datetime (and polars' conversions to it) hold years 1..9999 only.
_DAY_RANGE = (-719162, 2932896)            # 0001-01-01 .. 9999-12-31 as days since 1970-01-01
_SECOND_RANGE = (-62135596800, 253402300799)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _temporal_in_range(column):
    """A DATE/TIMESTAMP column holding values outside years 1..9999 (DuckDB's ``infinity``,
    ``-infinity``, year 294000) as text — polars would panic on them; other columns unchanged."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_date32(kind):
        lo, hi, unit, sentinel = _DAY_RANGE[0], _DAY_RANGE[1], "D", _INT32_MAX
        raw = pc.cast(column, pa.int32())
    elif pa.types.is_timestamp(kind):
        per = _PER_SECOND[kind.unit]
        lo, hi, unit, sentinel = _SECOND_RANGE[0] * per, (_SECOND_RANGE[1] + 1) * per - 1, kind.unit, _INT64_MAX
        raw = pc.cast(column, pa.int64())
    else:
        return column
    bounds = pc.min_max(raw)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or (low >= lo and high <= hi):
        return column
    values = raw.to_numpy(zero_copy_only=False).astype(np.int64)
    valid = np.asarray(pc.is_valid(raw).to_numpy(zero_copy_only=False))
    texts = np.datetime_as_string(values.astype(f"datetime64[{unit}]")).astype(object)
    texts[values == sentinel] = "infinity"
    texts[values == -sentinel] = "-infinity"
    texts[~valid] = None
    return pa.chunked_array([pa.array(texts.tolist(), type=pa.string())])


# --------------------------------------------------------------------------------------------
# Named queries (queries/*.sql)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    required: bool
    default: Any = None


@dataclass(frozen=True)
class NamedQuery:
    """A query shipped in ``queries/<name>.sql``; its header comment is its documentation."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    sql: str

    def usage(self) -> str:
        parts = [f"{p.name}=VALUE" if p.required else f"[{p.name}={_literal(p.default)}]" for p in self.parameters]
        return " ".join(parts)


_HEADER_PARAM_RE = re.compile(r"^\$(?P<name>[A-Za-z_]\w*)\s*(?:=\s*(?P<default>[^:]+?))?\s*:\s*(?P<doc>.*)$")


def _literal(value: Any) -> str:
    return "null" if value is None else str(value)


def _default(text: str) -> Any:
    text = text.strip()
    if text.lower() == "null":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d*", text):
        return float(text)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    return text


def parse_query(name: str, text: str, con: duckdb.DuckDBPyConnection | None = None) -> NamedQuery:
    """Read a named query's header: the first comment line is its description; lines
    ``-- $name: doc`` or ``-- $name = default: doc`` document its parameters."""
    description = ""
    docs: dict[str, tuple[str, bool, Any]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break
        body = line[2:].strip()
        match = _HEADER_PARAM_RE.match(body)
        if match:
            has_default = match.group("default") is not None
            docs[match.group("name")] = (
                match.group("doc").strip(), not has_default, _default(match.group("default")) if has_default else None
            )
        elif body and not description:
            description = body
    names = sql_parameters(text, con)
    undocumented = [n for n in names if n not in docs]
    unused = [n for n in docs if n not in names]
    if undocumented or unused or not description:
        problems = ([f"no description line"] if not description else []) + \
            ([f"parameters not in the header: {', '.join(undocumented)}"] if undocumented else []) + \
            ([f"header parameters not in the SQL: {', '.join(unused)}"] if unused else [])
        raise InputError(f"queries/{name}.sql: bad header: {'; '.join(problems)}")
    parameters = tuple(Parameter(n, docs[n][0], docs[n][1], docs[n][2]) for n in names)
    return NamedQuery(name, description, parameters, text)


def _query_files() -> dict[str, Any]:
    folder = resources.files("cotwatch.queries")
    return {e.name.removesuffix(".sql"): e for e in folder.iterdir() if e.name.endswith(".sql")}


def list_queries() -> list[NamedQuery]:
    """Every shipped named query, by name."""
    con = duckdb.connect()
    try:
        files = _query_files()
        return [parse_query(name, files[name].read_text(encoding="utf-8"), con) for name in sorted(files)]
    finally:
        con.close()


def queries_frame():
    """The named queries as a frame: ``name, description, parameters``."""
    import polars as pl

    rows = [
        {"name": q.name, "description": q.description, "parameters": q.usage()}
        for q in list_queries()
    ]
    return pl.DataFrame(rows, schema={"name": pl.String, "description": pl.String, "parameters": pl.String})


def get_query(name: str, con: duckdb.DuckDBPyConnection | None = None) -> NamedQuery:
    """The named query ``name``; InputError listing the known names when there is none.

    ``con`` (any connection) parses the header's SQL; without it a throwaway in-memory one does.
    """
    files = _query_files()
    if name not in files:
        close = [n for n in sorted(files) if name.lower() in n or n in name.lower()]
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise InputError(f"no named query {name!r} ({hint}known: {', '.join(sorted(files))}); see `cotwatch query list`")
    return parse_query(name, files[name].read_text(encoding="utf-8"), con)


def run_query(
    store: Store,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    max_rows: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> SqlResult:
    """Run the named query ``name`` with ``params`` (defaults from its header fill the rest).

    >>> df, _ = run_query(store, "top_rising_terms", {"from_step": 0, "to_step": 1000})
    """
    query = get_query(name, store.con)
    given = dict(params or {})
    takes = ", ".join(f"${p.name}" for p in query.parameters) or "no parameters"
    unknown = sorted(set(given) - {p.name for p in query.parameters})
    if unknown:
        raise InputError(f"query {name}: unknown parameter(s) {', '.join(unknown)} (it takes {takes})")
    missing = [p.name for p in query.parameters if p.required and p.name not in given]
    if missing:
        raise InputError(f"query {name}: missing parameter(s) {', '.join(missing)} (it takes {takes})")
    bound = {p.name: given.get(p.name, p.default) for p in query.parameters}
    return run_sql(store, query.sql, bound, max_rows=max_rows, timeout=timeout, what=f"query {name}")


def describe_query(query: NamedQuery) -> str:
    """A named query's file as shown by ``cotwatch query show``."""
    return query.sql if query.sql.endswith("\n") else query.sql + "\n"
