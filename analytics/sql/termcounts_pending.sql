-- termcounts_pending: (lo, hi, bytes, clean) pk ranges of uncounted transcripts, each holding
-- about $target bytes of text (whole transcripts). A range may hold counted pks; `clean` says it
-- holds none (every transcript in lo..hi is pending), so its batch needs no anti-join.
with pending as (
    select t.pk, coalesce(sum(strlen(s.text)), 0) as bytes
    from transcripts t
    left join segments s on s.transcript_pk = t.pk
    where not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk)
    group by t.pk
), cumulative as (
    select pk, bytes, sum(bytes) over (order by pk rows unbounded preceding) - bytes as before
    from pending
), ranges as (
    select min(pk) as lo, max(pk) as hi, sum(bytes)::bigint as bytes, count(*) as n
    from cumulative
    group by before // greatest($target, 1)
)
select r.lo, r.hi, r.bytes,
       r.n = (select count(*) from transcripts t where t.pk between r.lo and r.hi) as clean
from ranges r
order by r.lo;
