-- Helpers shared by the regression tests (run first in the schedule).
--
-- oracle_diff(q, ordered) runs q twice through the omen index (as a plain
-- index scan and as a bitmap scan) and once as a sequential scan, and says
-- 'ok' when the plans used the omen index and all answers are identical.
-- With ordered => true the row order must match too.

CREATE FUNCTION plan_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    plan text := '';
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$f$;

CREATE FUNCTION answer_of(q text, ordered boolean) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r text;
BEGIN
    IF ordered THEN
        EXECUTE 'SELECT count(*) || '':'' || coalesce(md5(string_agg(r::text, '','')), ''-'') FROM (' || q || ') r' INTO r;
    ELSE
        EXECUTE 'SELECT count(*) || '':'' || coalesce(md5(string_agg(r::text, '','' ORDER BY r::text)), ''-'') FROM (' || q || ') r' INTO r;
    END IF;
    RETURN r;
END
$f$;

CREATE FUNCTION set_scan_mode(mode text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM set_config('enable_seqscan', CASE WHEN mode = 'seq' THEN 'on' ELSE 'off' END, true);
    PERFORM set_config('enable_indexscan', CASE WHEN mode = 'index' THEN 'on' ELSE 'off' END, true);
    PERFORM set_config('enable_indexonlyscan', CASE WHEN mode = 'index' THEN 'on' ELSE 'off' END, true);
    PERFORM set_config('enable_bitmapscan', CASE WHEN mode = 'bitmap' THEN 'on' ELSE 'off' END, true);
END
$f$;

CREATE FUNCTION oracle_diff(q text, ordered boolean DEFAULT false) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    expect text;
    got text;
    plan text;
    mode text;
    omen_names text;
BEGIN
    SELECT string_agg(c.relname, '|') INTO omen_names
    FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'omen';
    PERFORM set_scan_mode('seq');
    expect := answer_of(q, ordered);
    FOREACH mode IN ARRAY ARRAY['index', 'bitmap'] LOOP
        PERFORM set_scan_mode(mode);
        plan := plan_of(q);
        IF plan !~ ('(Index Scan|Index Only Scan)( Backward)? using (' || omen_names || ') |Bitmap Index Scan on (' || omen_names || ')\M') THEN
            -- a plan that needs no index (e.g. a constant-false qual) is fine
            IF plan ~ 'One-Time Filter: false' OR (mode = 'bitmap' AND q !~* 'where') THEN
                CONTINUE;  -- no index needed, or no bitmap plan possible
            END IF;
            RETURN mode || ' plan does not use omen: ' || plan;
        END IF;
        got := answer_of(q, ordered);
        IF got IS DISTINCT FROM expect THEN
            RETURN mode || ' answer ' || got || ' <> seq ' || expect;
        END IF;
    END LOOP;
    PERFORM set_scan_mode('all');
    PERFORM set_config('enable_seqscan', 'on', true);
    PERFORM set_config('enable_indexscan', 'on', true);
    PERFORM set_config('enable_indexonlyscan', 'on', true);
    PERFORM set_config('enable_bitmapscan', 'on', true);
    RETURN 'ok';
END
$f$;

-- Runs every query of a set; shows how many were checked and any failure.
CREATE FUNCTION oracle_report(qs text[], ordered boolean DEFAULT false)
RETURNS TABLE (checked int, failed int, first_failure text) LANGUAGE plpgsql AS $f$
DECLARE
    q text;
    res text;
BEGIN
    checked := 0;
    failed := 0;
    first_failure := NULL;
    FOREACH q IN ARRAY qs LOOP
        res := oracle_diff(q, ordered);
        checked := checked + 1;
        IF res <> 'ok' THEN
            failed := failed + 1;
            IF first_failure IS NULL THEN
                first_failure := q || ' => ' || res;
            END IF;
        END IF;
    END LOOP;
    RETURN NEXT;
END
$f$;

-- probe_leaf_reads(tbl, idx) looks up every distinct key of tbl.k through
-- nested-loop index scans of idx and counts the index pages they read
-- (pg_stat_get_xact_blocks_fetched, after one lookup has loaded the
-- model): one a probe when the model's directory has every leaf at its
-- low fence.
CREATE FUNCTION probe_leaf_reads(tbl regclass, idx regclass,
                                 OUT probes bigint, OUT leaf_reads bigint, OUT all_found boolean)
LANGUAGE plpgsql AS $f$
DECLARE
    f0 bigint;
    total bigint;
    found bigint;
BEGIN
    PERFORM set_scan_mode('seq');
    EXECUTE format('CREATE TEMP TABLE probe_keys ON COMMIT DROP AS SELECT DISTINCT k FROM %s WHERE k IS NOT NULL', tbl);
    EXECUTE format('SELECT count(*) FROM %s WHERE k IS NOT NULL', tbl) INTO total;
    SELECT count(*) INTO probes FROM probe_keys;
    PERFORM set_scan_mode('index');
    PERFORM set_config(g, 'off', true)
    FROM unnest(ARRAY['enable_hashjoin', 'enable_mergejoin', 'enable_material', 'enable_memoize']) g;
    EXECUTE format('SELECT count(*) FROM %s WHERE k = 0', tbl);
    f0 := pg_stat_get_xact_blocks_fetched(idx);
    EXECUTE format('SELECT count(*) FROM probe_keys p JOIN %s t ON t.k = p.k', tbl) INTO found;
    leaf_reads := pg_stat_get_xact_blocks_fetched(idx) - f0;
    all_found := found = total;
END
$f$;

SELECT oracle_diff('SELECT 1 WHERE false');
