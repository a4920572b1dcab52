-- termcounts_batch_cells: for the pks in _batch_pks that are to be added (all stored ones when
-- $trusted, else only those not counted yet): pk, a dense cell id over (run, step, environment)
-- and the cell's run, step, environment; ordered by pk.
select t.pk, (dense_rank() over (order by t.run, t.step, t.environment) - 1)::bigint as cell,
       t.run, t.step, t.environment
from _batch_pks b
join transcripts t on t.pk = b.pk
where $trusted or not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk)
order by t.pk;
