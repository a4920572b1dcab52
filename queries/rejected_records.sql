-- Records that `cotwatch ingest --skip-bad` left out, with where they were and why.
-- $file = null: only records from input files whose path contains this text (null: every file)
select file, line, entry, reason, rejected_at
from rejects
where $file is null or contains(file, $file)
order by file, line nulls last, entry, reason;
