"""Engine-neutral jobs over Parquet shards: one kernel per batch, partials, one-transaction merge.

A *job* reads shards (``cotwatch.analytics.scale.shards``; local paths or object-store URIs), runs a *kernel* —
a callable class built once per worker, ``kernel(table, source) -> {name: Arrow table}`` — on
batches of whole transcripts, and writes each output as ``<job dir>/<name>/part-<id>.parquet``.
When every batch is written, the driver writes ``<job dir>/_SUCCESS`` (a JSON manifest naming the
parts). A merge — :func:`merge_job`, the one skeleton that ``cotwatch.analytics.scale.terms_job``
and ``cotwatch.classifiers.shard_scores`` fill in — reads only the parts the manifest names, in
one store transaction that also records the job id in ``jobs``
(``migrations/0006_jobs.sql``): a job without ``_SUCCESS`` (killed, failed) merges nothing and a
job already in ``jobs`` is never merged twice.

Engines only distribute; the kernel is the same everywhere:

* ``duckdb`` (default): this machine, ``workers`` processes (1: in-process), each over whole
  shard files; the merge runs in DuckDB.
* ``ray``: Ray Data ``read_parquet`` + ``map_batches`` on a local or remote cluster (``address``);
  tasks for stateless kernels, an actor pool (``concurrency``, ``num_gpus``) for kernels that load
  a model. Ray is imported only here, only then.

Part ids are a hash of the batch's source file and transcript ids, so a retried Ray task rewrites
the same files rather than adding copies; merges also count each (run, transcript_id) once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cotwatch.analytics.errors import CotwatchError, InputError
from cotwatch.analytics.scale.shards import (
    _write_table,
    conform,
    filesystem,
    join,
    resolve_input,
)

ENGINES = ("duckdb", "ray")
RAY_HINT = "the ray engine needs the ray extra: pip install 'cotwatch[ray]'"
SUCCESS = "_SUCCESS"
PATH_COLUMN = "path"  # what Ray's read_parquet(include_paths=True) adds


@dataclass(frozen=True)
class KernelSpec:
    """What a job runs: ``kernel(**kwargs)`` once per worker, then ``kernel(table, source)`` per
    batch. ``actors``: on Ray, keep it in an actor pool (worth it when construction loads a model)."""

    kind: str
    kernel: type
    kwargs: dict = field(default_factory=dict)
    actors: bool = False
    batch_size: int = 4000


@dataclass
class Job:
    """A finished job directory (its ``_SUCCESS`` manifest)."""

    job_id: str
    kind: str
    engine: str
    input: str
    dir: str
    shards: list[str]
    parts: list[dict]
    started_at: str
    finished_at: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def transcripts_read(self) -> int:
        return sum(p["transcripts"] for p in self.parts)

    def part_files(self, output: str) -> list[str]:
        return [join(self.dir, output, f"part-{p['part']}.parquet") for p in self.parts]

    def filesystem(self):
        return filesystem(self.dir)[0]

    @classmethod
    def load(cls, job_dir: str | os.PathLike[str], kind: str | None = None) -> "Job":
        """The manifest of ``job_dir``; InputError when there is none (job killed, failed or still
        running) or when it is a job of another kind."""
        import pyarrow.fs as pafs

        text = os.fspath(job_dir)
        fs, root = filesystem(text)
        marker = join(root, SUCCESS)
        if fs.get_file_info(marker).type != pafs.FileType.File:
            raise InputError(f"{text}: no {SUCCESS} marker: the job did not finish (killed, failed or "
                             "still running); nothing merged — run the job again")
        with fs.open_input_stream(marker) as fh:
            try:
                data = json.loads(fh.read().decode("utf-8"))
            except ValueError as exc:
                raise InputError(f"{marker}: not a cotwatch job manifest: {exc}") from exc
        data["dir"] = text if "://" in text else root
        job = cls(**data)
        if kind is not None and job.kind != kind:
            raise InputError(f"{text}: a {job.kind} job, not a {kind} job")
        return job


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def new_job_id(kind: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{kind}-{stamp}-{secrets.token_hex(4)}"


# --------------------------------------------------------------------------------------------
# Writing partials (shared by every engine)
# --------------------------------------------------------------------------------------------
def part_id(table, source: str) -> str:
    """Deterministic id of a batch: its source file and its (run, transcript_id) list."""
    h = hashlib.blake2b(digest_size=10)
    h.update(source.encode("utf-8", "surrogatepass"))
    for run, tid in zip(table.column("run").to_pylist(), table.column("transcript_id").to_pylist()):
        h.update(f"\x1e{run}\x1f{tid}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class PartialWriter:
    """Builds the kernel once, then per batch: conform, run the kernel, write its partials."""

    def __init__(self, spec: KernelSpec, job_dir: str):
        self.kernel = spec.kernel(**spec.kwargs)
        self.fs, self.root = filesystem(job_dir)

    def write(self, table, source: str) -> dict:
        import pyarrow as pa

        table = conform(table, source)
        part = part_id(table, source)
        summary = {"part": part, "source": source, "transcripts": table.num_rows}
        for name, out in self.kernel(table, source).items():
            out = out.append_column("part", pa.array([part] * out.num_rows, pa.string()))
            _write_table(self.fs, join(self.root, name, f"part-{part}.parquet"), out)
            summary[f"{name}_rows"] = out.num_rows
        return summary


def _split_by_path(table) -> list[tuple[str, Any]]:
    """(source, rows) of a Ray batch, which may hold rows of several files."""
    import pyarrow.compute as pc

    paths = table.column(PATH_COLUMN)
    rest = table.drop_columns([PATH_COLUMN])
    out = []
    for source in pc.unique(paths).to_pylist():
        out.append((source, rest.filter(pc.equal(paths, source))))
    return out


# --------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------
def run_job(spec: KernelSpec, input: str | os.PathLike[str], partials: str | os.PathLike[str], *,
            engine: str = "duckdb", workers: int = 1, address: str | None = None,
            concurrency: int | None = None, num_cpus: float | None = None, num_gpus: float | None = None,
            job_id: str | None = None) -> Job:
    """Run ``spec`` over the shards named by ``input``; partials go to a fresh folder
    ``<partials>/<job id>``, finished by a ``_SUCCESS`` manifest. Returns the :class:`Job`.

    ``workers``: processes of the duckdb engine. ``address``, ``concurrency``, ``num_cpus``,
    ``num_gpus``: Ray (``address`` None starts a local cluster unless one is running here).
    """
    import pyarrow.fs as pafs

    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    input_text = os.fspath(input)
    fs, files = resolve_input(input_text)
    job_id = job_id or new_job_id(spec.kind)
    job_dir = join(os.fspath(partials), job_id)
    pfs, proot = filesystem(job_dir)
    if pfs.get_file_info(proot).type != pafs.FileType.NotFound:
        raise InputError(f"{job_dir}: already exists; a job writes to a fresh folder")
    pfs.create_dir(proot, recursive=True)
    job_dir = job_dir if "://" in job_dir else proot
    started = now()
    if engine == "ray":
        parts = _run_ray(spec, fs, files, job_dir, address=address, concurrency=concurrency,
                         num_cpus=num_cpus, num_gpus=num_gpus)
    else:
        parts = _run_local(spec, fs, files, job_dir, workers=workers)
    # every batch written: the marker goes last, so its presence means "complete"
    job = Job(job_id=job_id, kind=spec.kind, engine=engine, input=input_text, dir=job_dir,
              shards=[_uri(fs, f) for f in files], parts=sorted(parts, key=lambda p: p["part"]),
              started_at=started, finished_at=now(),
              params={"workers": workers, "address": address, "concurrency": concurrency,
                      "num_cpus": num_cpus, "num_gpus": num_gpus, "batch_size": spec.batch_size,
                      "kernel": json.loads(json.dumps(spec.kwargs, default=repr))})
    manifest = {k: v for k, v in job.__dict__.items() if k != "dir"}
    _write_bytes(pfs, join(proot, SUCCESS), json.dumps(manifest, indent=1).encode("utf-8"))
    return job


def _uri(fs, path: str) -> str:
    """A shard path as a location any process can open again (scheme kept for object stores)."""
    name = type(fs).__name__
    scheme = {"S3FileSystem": "s3", "GcsFileSystem": "gs", "AzureFileSystem": "abfs",
              "HadoopFileSystem": "hdfs"}.get(name)
    return f"{scheme}://{path}" if scheme else path


def _write_bytes(fs, path: str, data: bytes) -> None:
    import uuid

    import pyarrow.fs as pafs

    if isinstance(fs, pafs.LocalFileSystem):
        tmp = f"{path.rsplit('/', 1)[0]}/.{uuid.uuid4().hex}.tmp"
        with fs.open_output_stream(tmp) as fh:
            fh.write(data)
        fs.move(tmp, path)
    else:
        with fs.open_output_stream(path) as fh:
            fh.write(data)


def iter_shard_batches(fs, path: str, batch_size: int):
    """Arrow tables of up to ``batch_size`` whole transcripts (rows) of one shard file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = fs.open_input_file(path)
        parquet = pq.ParquetFile(handle)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{_uri(fs, path)}: not a readable Parquet file: {str(exc).splitlines()[0]}") from exc
    with handle:
        try:
            for batch in parquet.iter_batches(batch_size=batch_size):
                yield pa.Table.from_batches([batch])
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"{_uri(fs, path)}: corrupt Parquet data: {str(exc).splitlines()[0]}") from exc


def _local_file(writer: PartialWriter, fs, path: str, batch_size: int) -> list[dict]:
    return [writer.write(table, _uri(fs, path)) for table in iter_shard_batches(fs, path, batch_size)]


_WORKER: dict[str, Any] = {}


def _init_worker(spec: KernelSpec, job_dir: str, fs) -> None:
    _WORKER["writer"] = PartialWriter(spec, job_dir)
    _WORKER["fs"] = fs
    _WORKER["batch_size"] = spec.batch_size


def _worker_file(path: str) -> list[dict]:
    return _local_file(_WORKER["writer"], _WORKER["fs"], path, _WORKER["batch_size"])


def _run_local(spec: KernelSpec, fs, files: list[str], job_dir: str, *, workers: int) -> list[dict]:
    if workers == 1 or len(files) == 1:
        writer = PartialWriter(spec, job_dir)
        return [row for path in files for row in _local_file(writer, fs, path, spec.batch_size)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked child would inherit the parent's DuckDB connection and threads
    with ProcessPoolExecutor(max_workers=min(workers, len(files)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(spec, job_dir, fs)) as pool:
        return [row for rows in pool.map(_worker_file, files) for row in rows]


def import_ray():
    """``ray`` and ``ray.data``, or the one-line install hint."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise InputError(RAY_HINT) from exc
    return ray


def _ray_write(table, *, spec: KernelSpec, job_dir: str):
    writer = PartialWriter(spec, job_dir)
    return _summaries([writer.write(rows, source) for source, rows in _split_by_path(table)])


class _RayWriter:
    """Actor form: the kernel (e.g. a model) is built once per actor."""

    def __init__(self, spec: KernelSpec, job_dir: str):
        self.writer = PartialWriter(spec, job_dir)

    def __call__(self, table):
        return _summaries([self.writer.write(rows, source) for source, rows in _split_by_path(table)])


def _summaries(rows: list[dict]):
    import pyarrow as pa

    return pa.table({"summary": pa.array([json.dumps(r) for r in rows], pa.string())})


def _run_ray(spec: KernelSpec, fs, files: list[str], job_dir: str, *, address: str | None,
             concurrency: int | None, num_cpus: float | None, num_gpus: float | None) -> list[dict]:
    import sys

    ray = import_ray()
    started_here = False
    if not ray.is_initialized():
        import logging

        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=sys.stderr.isatty())
        started_here = True
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = sys.stderr.isatty()
        if not sys.stderr.isatty():
            import logging

            logging.getLogger("ray.data").setLevel(logging.WARNING)
        ds = ray.data.read_parquet(files, filesystem=fs, include_paths=True, partitioning=None)
        options: dict[str, Any] = {"batch_format": "pyarrow", "batch_size": spec.batch_size}
        if num_cpus is not None:
            options["num_cpus"] = num_cpus
        if num_gpus:
            options["num_gpus"] = num_gpus
        if spec.actors:
            out = ds.map_batches(_RayWriter, fn_constructor_kwargs={"spec": spec, "job_dir": job_dir},
                                 compute=ray.data.ActorPoolStrategy(size=concurrency or 1), **options)
        else:
            if concurrency:
                options["compute"] = ray.data.TaskPoolStrategy(size=concurrency)
            out = ds.map_batches(_ray_write, fn_kwargs={"spec": spec, "job_dir": job_dir}, **options)
        rows = out.take_all()
    except Exception as exc:
        cause = _cotwatch_cause(exc)
        if cause is not None:
            raise cause from None
        raise
    finally:
        if started_here:
            ray.shutdown()
    return [json.loads(r["summary"]) for r in rows]


def _cotwatch_cause(exc: BaseException) -> CotwatchError | None:
    """The CotwatchError a Ray worker raised, however Ray wrapped it."""
    seen = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, CotwatchError):
            return e
        stack.extend([e.__cause__, e.__context__, getattr(e, "cause", None)])
    # Ray Data keeps only the worker's traceback text: find "cotwatch.analytics.errors.<Name>: <message>"
    import re

    from cotwatch.analytics import errors

    found = re.search(r"^cotwatch\.analytics\.errors\.(\w+): (.+)$", str(exc), re.M)
    if found:
        cls = getattr(errors, found.group(1), None)
        if isinstance(cls, type) and issubclass(cls, CotwatchError):
            try:
                return cls(found.group(2))
            except TypeError:  # subclasses with extra arguments (RejectedRecords)
                return InputError(found.group(2))
    return None


# --------------------------------------------------------------------------------------------
# Merging: shared steps (ledger, staging of transcripts the store lacks)
# --------------------------------------------------------------------------------------------
@dataclass
class MergeResult:
    job_id: str
    kind: str
    engine: str
    transcripts: int = 0
    added: int = 0
    merged: int = 0
    skipped: int = 0
    already_merged: bool = False

    def as_frame(self):
        import polars as pl

        return pl.DataFrame([self.__dict__])


def already_merged(store, job_id: str) -> bool:
    return bool(store.rows("select count(*) from jobs where job_id = $job_id", {"job_id": job_id})[0][0])


def register_partials(con, name: str, job: Job, output: str, parts: list[dict] | None = None) -> None:
    """Register the ``output`` partials of ``parts`` (default: every part of the job) on ``con``
    as ``name``, scanned lazily: DuckDB's own Parquet reader for local folders (several times
    faster than decoding through pyarrow), a pyarrow dataset for object stores. Undo with
    ``con.unregister(name)``."""
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    chosen = job.parts if parts is None else parts
    fs, root = filesystem(job.dir)
    paths = [join(root, output, f"part-{p['part']}.parquet") for p in chosen]
    try:
        if not paths:
            con.register(name, _empty_partial(output))
        elif isinstance(fs, pafs.LocalFileSystem):
            con.register(name, con.read_parquet(paths))
        else:
            con.register(name, pads.dataset(paths, filesystem=fs, format="parquet"))
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{job.dir}: cannot read {output} partials: {str(exc).splitlines()[0]}") from exc


def _empty_partial(output: str):
    import pyarrow as pa

    if output != "rows":
        raise InputError(f"no {output} partials to read")
    return pa.table({name: pa.array([], pa.string())
                     for name in ("run", "transcript_id", "content_hash", "source", "part")})


def pick_transcripts(store, job: Job) -> None:
    """Create ``_job_pick`` (one part per (run, transcript_id)) from the job's ``rows`` partials
    and refuse the merge when a transcript's content differs between shards or from the store."""
    from cotwatch.analytics.store.sqlfiles import load_sql

    register_partials(store.con, "_p_rows", job, "rows")
    try:
        store.script(load_sql("jobs_pick"))
    finally:
        store.con.unregister("_p_rows")
    conflicts = store.rows(load_sql("jobs_conflicts"))
    if conflicts:
        from cotwatch.analytics.errors import RejectedRecords

        problems = [f"{source}: run {run!r}, transcript {tid!r} {reason}" for source, run, tid, reason in conflicts]
        raise RejectedRecords(f"job {job.job_id}: {len(problems)}{'+' if len(problems) == 20 else ''} transcript(s) "
                              "conflict with the store or between shards; nothing merged", problems)


def stage_missing(store, job: Job) -> int:
    """Insert the job's transcripts that the store lacks, read back from their shards, with the
    ingest's rules: the same content hash (computed by the workers) and (run, id) identity, pks
    allocated after the largest, segment ordinals renumbered from 0, metadata stored as the
    ingest stores it (sorted-key JSON), runs/checkpoints registered, and one ``ingested_files``
    row per shard file (format ``parquet``). Inside the caller's transaction."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from cotwatch.analytics.store.sqlfiles import load_sql

    missing = store.rows(load_sql("jobs_missing"))
    by_source: dict[str, set[str]] = {}
    for source, run, tid in missing:
        by_source.setdefault(source, set()).add(f"{run}\x1f{tid}")
    added = 0
    for source, keys in by_source.items():
        fs, path = filesystem(source)
        wanted = pa.array(sorted(keys))
        pieces = []
        for table in iter_shard_batches(fs, path, 20_000):
            table = conform(table, source)
            key = pc.binary_join_element_wise(table.column("run"), table.column("transcript_id"), "\x1f")
            pieces.append(table.filter(pc.is_in(key, value_set=wanted)))
        rows = pa.concat_tables(pieces)
        rows = rows.set_column(rows.schema.get_field_index("metadata"), "metadata",
                               pa.array([normalise_metadata(m, source) for m in rows.column("metadata").to_pylist()],
                                        pa.string()))
        store.con.register("_shard_rows", rows)
        try:
            added += store.script(load_sql("jobs_insert_transcripts"), {"source": source})[0][0]
        finally:
            store.con.unregister("_shard_rows")
            store.script("drop table if exists _job_new;")
    return added


def normalise_metadata(text: str | None, source: str) -> str | None:
    """Shard metadata (JSON text) as the ingest stores it: sorted keys, no ASCII escaping."""
    import json

    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{source}: metadata is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InputError(f"{source}: metadata must be a JSON object")
    from cotwatch.analytics.ingest.records import canonical_json
    return canonical_json(value)


def record_job(store, job: Job, result: MergeResult) -> None:
    from cotwatch.analytics.store.sqlfiles import load_sql

    store.rows(load_sql("jobs_record"), {
        "job_id": job.job_id, "kind": job.kind, "engine": job.engine, "input": job.input,
        "partials": job.dir, "shards": len(job.shards), "parts": len(job.parts),
        "transcripts": result.transcripts, "added": result.added, "merged": result.merged,
        "skipped": result.skipped, "started_at": job.started_at, "finished_at": job.finished_at,
    })


def remove_job_dir(job: Job) -> None:
    fs, root = filesystem(job.dir)
    fs.delete_dir(root)


@dataclass
class ShardJobResult:
    """A shard job run then merged into a store (:func:`run_then_merge`): the merge, how many
    shards and parts, where the partials were, and the seconds of the job and of the merge."""

    merge: MergeResult
    shards: int
    parts: int
    job_dir: str
    job_seconds: float
    merge_seconds: float
    label: dict = field(default_factory=dict)  # columns naming the job (e.g. the classifier)
    merged_as: str = "merged"  # what a merged transcript is called in the frame (counted, scored)

    def as_frame(self):
        import polars as pl

        m = self.merge
        return pl.DataFrame([{
            "job_id": m.job_id, **self.label, "engine": m.engine, "shards": self.shards, "parts": self.parts,
            "transcripts": m.transcripts, "added": m.added, self.merged_as: m.merged, "skipped": m.skipped,
            "job_s": round(self.job_seconds, 2), "merge_s": round(self.merge_seconds, 2),
        }])


def run_then_merge(db, run, merge, *, wait: float, keep_partials: bool, label: dict | None = None,
                   merged_as: str = "merged") -> ShardJobResult:
    """Run a shard job (``run() -> Job``) with the store closed, then open ``db`` for writing
    only to ``merge(store, job_dir) -> MergeResult``; the partials are deleted after the merge
    unless ``keep_partials``. Every shard job of the package (terms, scores) goes this way."""
    t0 = time.perf_counter()
    job = run()
    t1 = time.perf_counter()
    store, opened = open_for_merge(db, wait)
    try:
        result = merge(store, job.dir)
    finally:
        if opened:
            store.close()
    t2 = time.perf_counter()
    if not keep_partials:
        remove_job_dir(job)
    return ShardJobResult(result, len(job.shards), len(job.parts), job.dir, t1 - t0, t2 - t1,
                          label or {}, merged_as)


def open_for_merge(db, wait: float):
    """A writable store for ``db`` (a path or an open ``Store``); (store, opened_here)."""
    from cotwatch.analytics.store.database import Store

    if isinstance(db, Store):
        if db.read_only:
            raise InputError(f"{db.path}: opened read-only; a merge writes")
        return db, False
    return Store.open(db, read_only=False, wait=wait), True


def merge_job(store, job_dir: str | os.PathLike[str], kind: str, *, todo_sql: str, rows_column: str,
              merge_chunk, prepare=None, merge_rows: int, sql_package: str = "cotwatch.analytics") -> MergeResult:
    """The one merge skeleton of every shard job (terms, scores): in one store transaction,
    refuse a job already merged (``already_merged``), pick one part per transcript and refuse
    conflicting content (:func:`pick_transcripts`), insert the transcripts the store lacks
    (:func:`stage_missing`), let the kind choose the transcripts to merge (``todo_sql``, creating
    ``_job_todo(run, transcript_id, part, pk)``), hand the job's parts to ``merge_chunk(store, job,
    parts, context)`` in chunks of about ``merge_rows`` rows of ``rows_column``, and record the
    job in the ledger. ``prepare(store, job) -> (context, todo_params)`` runs first inside the
    transaction (e.g. registering a classifier). A killed merge leaves nothing: it is one
    transaction."""
    from cotwatch.analytics.store.sqlfiles import load_sql

    job = Job.load(job_dir, kind)
    result = MergeResult(job.job_id, job.kind, job.engine)
    with store.atomic():
        if already_merged(store, job.job_id):
            result.already_merged = True
            return result
        pick_transcripts(store, job)
        result.transcripts = store.rows("select count(*) from _job_pick")[0][0]
        result.added = stage_missing(store, job)
        context, todo_params = prepare(store, job) if prepare else (None, {})
        store.script(load_sql(todo_sql, sql_package), todo_params)
        result.merged = store.rows("select count(*) from _job_todo")[0][0]
        result.skipped = result.transcripts - result.merged
        if result.merged:
            for chunk in chunks_by_rows(job.parts, rows_column, merge_rows):
                merge_chunk(store, job, chunk, context)
        record_job(store, job, result)
        store.script("drop table if exists _job_pick; drop table if exists _job_todo;")
    return result


def chunks_by_rows(parts: list[dict], column: str, budget: int) -> list[list[dict]]:
    """Consecutive groups of parts holding about ``budget`` rows of ``column`` each."""
    groups: list[list[dict]] = [[]]
    rows = 0
    for p in parts:
        if groups[-1] and rows + p.get(column, 0) > budget:
            groups.append([])
            rows = 0
        groups[-1].append(p)
        rows += p.get(column, 0)
    return [g for g in groups if g]

