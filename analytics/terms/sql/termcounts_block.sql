-- termcounts_block: pks per block for termcounts_pending — about 1/16 of $target bytes of text
-- at the store's mean transcript size, between 1 and 4096.
select greatest(1, least(4096, (
    $target / 16 / greatest(1, (select coalesce(sum(strlen(text)), 0) from segments)
                              / greatest(1, (select count(*) from transcripts)))
)))::bigint;
