-- termcounts_pending: (lo, hi, bytes) pk ranges of uncounted transcripts, each holding about
-- $target bytes of text (whole transcripts; a range may hold counted pks, which the batch skips).
with pending as (
    select t.pk, coalesce(sum(strlen(s.text)), 0) as bytes
    from transcripts t
    left join segments s on s.transcript_pk = t.pk
    where not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk)
    group by t.pk
), cumulative as (
    select pk, bytes, sum(bytes) over (order by pk rows unbounded preceding) - bytes as before
    from pending
)
select min(pk) as lo, max(pk) as hi, sum(bytes)::bigint as bytes
from cumulative
group by before // greatest($target, 1)
order by lo;
