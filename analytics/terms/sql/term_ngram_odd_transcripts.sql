-- term_ngram_odd_transcripts: (transcript_pk, step) of the transcripts of run $run ($environment:
-- null = all) with a segment of kinds $kinds holding a character of the RE2 class $disagrees (on
-- which DuckDB's tokenizing differs from the contract): they are tokenized in Python instead.
select distinct t.pk, t.step
from transcripts t
join segments s on s.transcript_pk = t.pk
where t.run = $run
  and ($environment is null or t.environment = $environment)
  and list_contains($kinds, s.kind)
  and regexp_matches(s.text, $disagrees)
order by t.pk;
