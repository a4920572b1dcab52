-- ingest_conflicts: records of the staged file whose (run, id) is already taken by different
-- content, earlier in the same file or in the store. Creates _stage_bad(seq, line, entry, reason).
create or replace temp table _stage_first as
select
    seq, run, id, content_hash,
    first_value(content_hash) over w as first_hash,
    first_value(coalesce('line ' || source_line, source_entry)) over w as first_where
from _stage_t
window w as (partition by run, id order by seq);

create or replace temp table _stage_bad as
select
    f.seq,
    t.source_line as line,
    t.source_entry as entry,
    case
        when f.content_hash <> f.first_hash
            then 'id ' || f.id || ' appears earlier in this file (' || f.first_where || ') with different content'
        else 'id ' || f.id || ' is already stored in run ' || f.run || ' with different content'
    end as reason
from _stage_first f
join _stage_t t using (seq)
left join transcripts x on x.run = f.run and x.id = f.id
where f.content_hash <> f.first_hash
   or (x.pk is not null and x.content_hash <> f.content_hash);

select line, entry, reason from _stage_bad order by seq;
