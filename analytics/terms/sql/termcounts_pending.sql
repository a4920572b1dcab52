-- termcounts_pending: (lo, hi, bytes, clean) pk ranges of uncounted transcripts, each holding
-- about $target bytes of text (whole transcripts). Sizes are summed per block of $block
-- consecutive pks (grouping by transcript would cost ~7x more on a large backlog), so a range
-- is whole blocks. A range may hold counted pks; `clean` says it holds none (every transcript
-- in lo..hi is pending), so its batch needs no anti-join.
with pending as (
    select t.pk
    from transcripts t
    where not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk)
), blocks as (
    select pk // $block as b, min(pk) as lo, max(pk) as hi, count(*) as n
    from pending
    group by 1
), block_bytes as (
    select s.transcript_pk // $block as b, sum(strlen(s.text)) as bytes
    from segments s
    where not exists (select 1 from doc_tokens d where d.transcript_pk = s.transcript_pk)
    group by 1
), cumulative as (
    select k.lo, k.hi, k.n, coalesce(y.bytes, 0) as bytes,
           sum(coalesce(y.bytes, 0)) over (order by k.b rows unbounded preceding) - coalesce(y.bytes, 0) as before
    from blocks k
    left join block_bytes y on y.b = k.b
), ranges as (
    select min(lo) as lo, max(hi) as hi, sum(bytes)::bigint as bytes, sum(n) as n
    from cumulative
    group by before // greatest($target, 1)
)
select r.lo, r.hi, r.bytes,
       r.n = (select count(*) from transcripts t where t.pk between r.lo and r.hi) as clean
from ranges r
order by r.lo;
