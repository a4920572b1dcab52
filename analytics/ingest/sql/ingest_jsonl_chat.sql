-- ingest_jsonl_chat: stage the chat-shaped lines of _jf (shape 'chat') whose messages all have
-- a shape this SQL follows (records.segments_from_messages is the definition): a role that is a
-- known string; content null, a string (assistant: without <think> tags), or a list of object
-- parts — text parts with string text, and for assistants also reasoning parts (string or null
-- reasoning and summary, boolean redacted), thinking parts (string) and redacted_thinking.
-- Lines with any other message or part are left for Python (ingest_jsonl_slow lists them).
-- Parameters: $run, $step, $environment, $nonblank, $extra_keys as in ingest_jsonl_plain; $role_names,
-- $role_kinds (the segment kind of every non-assistant role).
create or replace temp table _jm as
select line, mi, mty = 'OBJECT' and json_type(m.role) = 'VARCHAR' as ok0, m.role ->> '$' as role,
       json_type(m.content) as cty, m.content as content_j, m.reasoning_content as rc_j, m.reasoning as rs_j
from (
    select line, unnest(range(1, len(ms) + 1)) as mi, unnest(ms) as m, unnest(mty) as mty
    from (
        select line, json_type(messages, '$[*]') as mty,
               json_transform(messages, '[{"role":"JSON","content":"JSON","reasoning_content":"JSON","reasoning":"JSON"}]') as ms
        from _jf
        where shape = 'chat'
    )
);

create or replace temp table _jm2 as
select line, mi, role, cty, content_j, rc_j, rs_j,
       role in ('assistant', 'model') as asst,
       ($role_kinds::varchar[])[list_position($role_names::varchar[], role)] as kind,
       ok0 and (role in ('assistant', 'model') or list_position($role_names::varchar[], role) is not null)
           and coalesce(cty, 'NULL') in ('NULL', 'VARCHAR', 'ARRAY')
           and not (role in ('assistant', 'model') and cty = 'VARCHAR'
                    and (contains(content_j ->> '$', '<think>') or contains(content_j ->> '$', '</think>')))
           as ok
from _jm;

create or replace temp table _jq as
select line, mi, asst, role, kind, pi, pty = 'OBJECT' as is_obj, p.type as ptype,
       p.text as text_j, p.reasoning as reasoning_j, p.summary as summary_j, p.redacted as redacted_j,
       p.thinking as thinking_j
from (
    select line, mi, asst, role, kind, unnest(range(1, len(ps) + 1)) as pi, unnest(ps) as p, unnest(pty) as pty
    from (
        select line, mi, asst, role, kind, json_type(content_j, '$[*]') as pty,
               json_transform(content_j,
                   '[{"type":"VARCHAR","text":"JSON","reasoning":"JSON","summary":"JSON","redacted":"JSON","thinking":"JSON"}]') as ps
        from _jm2
        where ok and cty = 'ARRAY'
    )
);

create or replace temp table _jq2 as
select *,
       is_obj and (
           (ptype = 'text' and json_type(text_j) = 'VARCHAR'
            and (not asst or not (contains(text_j ->> '$', '<think>') or contains(text_j ->> '$', '</think>'))))
           or (asst and ptype = 'reasoning'
               and coalesce(json_type(reasoning_j), 'NULL') in ('NULL', 'VARCHAR')
               and coalesce(json_type(summary_j), 'NULL') in ('NULL', 'VARCHAR')
               and coalesce(json_type(redacted_j), 'NULL') in ('NULL', 'BOOLEAN'))
           or (asst and ptype = 'thinking' and json_type(thinking_j) = 'VARCHAR')
           or (asst and ptype = 'redacted_thinking')
       ) as ok
from _jq;

-- chat lines this SQL cannot follow: left for Python
create or replace temp table _jslow_chat as
select distinct line from _jm2 where not ok
union
select distinct line from _jq2 where not ok;

insert into _ct (pk, line, id, run, step, environment, epoch, covert_action, score, meta_raw, meta_extra)
select line, line,
       case when regexp_matches(id, $nonblank) then id end,
       coalesce(case when regexp_matches(run, $nonblank) then run end, $run),
       coalesce(try_cast(step as bigint), $step),
       coalesce(case when regexp_matches(environment, $nonblank) then environment end, $environment),
       try_cast(epoch as integer),
       try_cast(covert_action as boolean),
       try_cast(score as double),
       metadata,
       case when len($extra_keys::varchar[]) > 0 then
           '{' || array_to_string(list_filter(
               list_transform(range(1, len($extra_keys::varchar[]) + 1),
                              lambda i: case when ex[i] is not null then to_json(($extra_keys::varchar[])[i]) || ':' || ex[i] end),
               lambda x: x is not null), ',') || '}'
       end
from _jf
where shape = 'chat' and line not in (select line from _jslow_chat);

insert into _cs (pk, ordinal, role, kind, text, redacted)
select line, (row_number() over (partition by line order by mi, pi, sub) - 1)::integer, role, kind, text, redacted
from (
    -- other roles, string content
    select line, mi, 0 as pi, 0 as sub, role, kind, content_j ->> '$' as text, false as redacted
    from _jm2
    where not asst and cty = 'VARCHAR'
    union all
    -- other roles, a list of text parts: one segment, the texts joined by newlines
    select line, mi, 0, 0, any_value(role), any_value(kind), string_agg(t, chr(10) order by pi), false
    from (select line, mi, pi, role, kind, text_j ->> '$' as t from _jq2 where not asst)
    where t <> ''
    group by line, mi
    union all
    -- assistant: reasoning_content (else reasoning) when it is a string with text
    select line, mi, 0, 0, 'assistant', 'reasoning',
           case when json_type(rc_j) = 'VARCHAR' and regexp_matches(rc_j ->> '$', $nonblank) then rc_j ->> '$'
                when json_type(rs_j) = 'VARCHAR' and regexp_matches(rs_j ->> '$', $nonblank) then rs_j ->> '$' end,
           false
    from _jm2
    where asst
    union all
    -- assistant: string content
    select line, mi, 1, 0, 'assistant', 'output', content_j ->> '$', false
    from _jm2
    where asst and cty = 'VARCHAR'
    union all
    -- assistant parts
    select line, mi, pi, 0, 'assistant',
           case when ptype = 'text' then 'output' else 'reasoning' end,
           case when ptype = 'text' then text_j ->> '$'
                when ptype = 'thinking' then thinking_j ->> '$'
                when ptype = 'redacted_thinking' or coalesce(try_cast(redacted_j ->> '$' as boolean), false) then ''
                else coalesce(reasoning_j ->> '$', '') end,
           ptype = 'redacted_thinking' or (ptype = 'reasoning' and coalesce(try_cast(redacted_j ->> '$' as boolean), false))
    from _jq2
    where asst
    union all
    select line, mi, pi, 1, 'assistant', 'reasoning_summary', summary_j ->> '$', false
    from _jq2
    where asst and ptype = 'reasoning' and json_type(summary_j) = 'VARCHAR'
)
where line not in (select line from _jslow_chat)
  and text is not null
  and (kind in ('reasoning') or regexp_matches(text, $nonblank));
