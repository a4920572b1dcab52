-- ingest_chunk_check: judge a staged and hashed chunk (_ct, _chash) against the file so far
-- (_fk) and the store's transcripts (pk <= $base: stored before this file). Every record gets a
-- decision: 'new' (to store), 'duplicate' (same (run, id) and content already in the file or the
-- store) or 'bad' with a reason. Returns (pk, line, entry, run, id, step, content_hash, decision,
-- reason), one row per transcript of _ct.
with judged as (
    select t.pk, t.line, t.entry, t.run, t.step, h.content_hash,
           coalesce(t.id, 'h:' || left(h.content_hash, 16)) as id,
           case
               when t.has_metadata and t.metadata is null
                   then 'metadata cannot be read as JSON'
               when t.run is null and t.step is null then 'no run and step (set it in the record or pass --run)'
               when t.run is null then 'no run (set it in the record or pass --run)'
               when t.step is null then 'no step (set it in the record or pass --step)'
               when not h.has_text then 'no text in any segment'
           end as problem
    from _ct t
    join _chash h using (pk)
), keyed as (
    select j.*,
           first_value(j.content_hash) over w as chunk_hash,
           first_value(coalesce('line ' || j.line, j.entry)) over w as chunk_at,
           row_number() over w as nth
    from judged j
    where j.problem is null
    window w as (partition by j.run, j.id order by j.pk)
), earlier as (
    select k.*,
           coalesce(f.content_hash, case when k.nth > 1 then k.chunk_hash end) as file_hash,
           coalesce(f.seen_at, case when k.nth > 1 then k.chunk_at end) as file_at
    from keyed k
    left join _fk f on f.run = k.run and f.id = k.id
), stored as (
    select e.*, o.content_hash as store_hash
    from earlier e
    left join (
        select run, id, any_value(content_hash) as content_hash
        from transcripts
        where pk <= $base and run in (select distinct run from keyed)
        group by run, id
    ) o on o.run = e.run and o.id = e.id
)
select pk, line, entry, run, id, step, content_hash,
       case when file_hash is not null then (case when file_hash = content_hash then 'duplicate' else 'bad' end)
            when store_hash is not null then (case when store_hash = content_hash then 'duplicate' else 'bad' end)
            else 'new' end as decision,
       case when file_hash is not null and file_hash <> content_hash
                then 'id ' || id || ' appears earlier in this file (' || file_at || ') with different content'
            when file_hash is null and store_hash is not null and store_hash <> content_hash
                then 'id ' || id || ' is already stored in run ' || run || ' with different content'
       end as reason
from stored
union all
select pk, line, entry, run, id, step, content_hash, 'bad', problem
from judged
where problem is not null;
