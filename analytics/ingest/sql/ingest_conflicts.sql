-- ingest_conflicts: staged records whose (run, id) is already taken by different content,
-- earlier in the same file or in the store. Leaves temp tables _new_keys, _old_match and _bad
-- for ingest_finish; returns (line, entry, reason).
create or replace temp table _new_keys as
select
    pk, run, id, content_hash, source_line, source_entry,
    first_value(content_hash) over w as first_hash,
    first_value(pk) over w as first_pk,
    first_value(coalesce('line ' || source_line, source_entry)) over w as first_where
from _ingest_stage_t
window w as (partition by run, id order by pk);

create or replace temp table _old_match as
select n.pk, o.content_hash as old_hash
from _new_keys n
join transcripts o on o.run = n.run and o.id = n.id;

create or replace temp table _bad as
select
    n.pk,
    n.source_line as line,
    n.source_entry as entry,
    case
        when n.content_hash <> n.first_hash
            then 'id ' || n.id || ' appears earlier in this file (' || n.first_where || ') with different content'
        else 'id ' || n.id || ' is already stored in run ' || n.run || ' with different content'
    end as reason
from _new_keys n
left join _old_match m using (pk)
where n.content_hash <> n.first_hash
   or (m.pk is not null and m.old_hash <> n.content_hash);

select line, entry, reason from _bad order by pk;
