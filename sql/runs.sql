-- The RUNS leaf format: a leaf of duplicate keys stores each key once and
-- its heap TIDs as bit-packed gaps.  Every case is answered against a
-- sequential scan (oracle_report) and verified by omen_index_check.
--
-- A leaf is RUNS when it holds more entries than its PLAIN fields could:
-- a PLAIN leaf's entries take entries * (key_width + tid_width) of the
-- 8088 bytes a leaf has for entries.
CREATE FUNCTION runs_leaves(idx regclass)
RETURNS TABLE (leaves bigint, runs_leaves bigint, entries bigint, pending bigint)
LANGUAGE sql AS $$
    SELECT count(*),
           count(*) FILTER (WHERE entries * (key_width + tid_width) > 8088 - free_bytes),
           sum(entries), sum(pending)
    FROM omen_index_leaves(idx) WHERE tree = 'keys'
$$;

-- 1. CREATE INDEX: 2,000 keys of 50 rows, heap in scrambled order, so
-- that a key's rows are spread over the whole table.
CREATE TABLE lr (k int8, pad int);
INSERT INTO lr SELECT g % 2000, g FROM generate_series(1, 100000) g ORDER BY hashint4(g);
CREATE INDEX lr_omen ON lr USING omen (k);
CREATE INDEX lr_btree ON lr USING btree (k);
SELECT leaves = runs_leaves AS all_runs, entries FROM runs_leaves('lr_omen');
SELECT pg_relation_size('lr_omen') * 2 < pg_relation_size('lr_btree') AS under_half_of_btree;
SELECT omen_index_check('lr_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lr WHERE k = 0',
    'SELECT k, pad FROM lr WHERE k = 1999',
    'SELECT k, pad FROM lr WHERE k = 2000',
    'SELECT k, pad FROM lr WHERE k = -1',
    'SELECT k, pad FROM lr WHERE k BETWEEN 17 AND 170',
    'SELECT k, pad FROM lr WHERE k > 1990',
    'SELECT k, pad FROM lr WHERE k < 3',
    'SELECT k, pad FROM lr WHERE k = ANY(''{5, 7, 1000, 1500, 1999, 4000}'')',
    'SELECT count(*) FROM lr WHERE k >= 0']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM lr ORDER BY k',
    'SELECT k FROM lr ORDER BY k DESC',
    'SELECT k FROM lr WHERE k BETWEEN 100 AND 300 ORDER BY k DESC',
    'SELECT k FROM lr WHERE k = ANY(''{5, 7, 1000, 1999}'') ORDER BY k DESC'], true);

-- 2. Inserts into RUNS leaves: into the pending areas, merges that
-- rewrite the runs, splits; keys and TIDs outside the leaves' encodings
-- (wider fields); one key whose rows span several leaves.
INSERT INTO lr SELECT hashint4(g) & 2047, -g FROM generate_series(1, 3000) g;
SELECT leaves = runs_leaves AS all_runs, pending > 0 AS some_pending FROM runs_leaves('lr_omen');
INSERT INTO lr SELECT hashint4(g) & 2047, -g FROM generate_series(3001, 30000) g;
INSERT INTO lr SELECT -1000000000000, -g FROM generate_series(1, 10) g;
INSERT INTO lr SELECT 777, -g FROM generate_series(1, 8000) g;
SELECT runs_leaves > leaves / 2 AS mostly_runs, entries FROM runs_leaves('lr_omen');
SELECT omen_index_check('lr_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lr WHERE k = 777',
    'SELECT k, pad FROM lr WHERE k = 778',
    'SELECT k, pad FROM lr WHERE k = 2047',
    'SELECT k, pad FROM lr WHERE k = -1000000000000',
    'SELECT k, pad FROM lr WHERE k BETWEEN 700 AND 800',
    'SELECT k, pad FROM lr WHERE k < 10',
    'SELECT count(*) FROM lr WHERE k > 1000']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM lr ORDER BY k DESC',
    'SELECT k FROM lr WHERE k BETWEEN 770 AND 780 ORDER BY k DESC'], true);

-- 2b. Merges of full pending areas into RUNS leaves: in the leaf's own
-- encoding only the runs of keys with new rows are laid out again, the
-- others copied; new keys between the old ones add runs; rows whose line
-- pointers need more offset bits than the leaf's TIDs (a heap of wide
-- rows, then narrow ones) rewrite the whole leaf instead.
CREATE TABLE lm (k int8, pad text);
INSERT INTO lm SELECT (g % 400) * 10, repeat('x', 900) FROM generate_series(1, 12000) g ORDER BY hashint4(g);
CREATE INDEX lm_omen ON lm USING omen (k);
SELECT leaves = runs_leaves AS all_runs FROM runs_leaves('lm_omen');
INSERT INTO lm SELECT (hashint4(g) & 511) * 10 % 4000, repeat('y', 900) FROM generate_series(1, 3000) g;
INSERT INTO lm SELECT (hashint4(g) & 511) * 10 % 4000 + 1 + g % 9, repeat('z', 900) FROM generate_series(1, 1000) g;
SELECT omen_index_check('lm_omen', true);
INSERT INTO lm SELECT (hashint4(g) & 511) * 10 % 4000, 'n' FROM generate_series(1, 5000) g;
SELECT runs_leaves > 0 AS some_runs, entries FROM runs_leaves('lm_omen');
SELECT omen_index_check('lm_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, length(pad), left(pad, 1) FROM lm WHERE k = 0',
    'SELECT k, length(pad), left(pad, 1) FROM lm WHERE k = 1230',
    'SELECT k, length(pad), left(pad, 1) FROM lm WHERE k BETWEEN 1231 AND 1239',
    'SELECT k, length(pad), left(pad, 1) FROM lm WHERE k BETWEEN 2000 AND 2100',
    'SELECT k, left(pad, 1), count(*) FROM lm WHERE k >= 3900 GROUP BY 1, 2',
    'SELECT count(*), sum(k) FROM lm WHERE k > 100']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM lm WHERE k BETWEEN 990 AND 1010 ORDER BY k DESC'], true);
-- A RUNS leaf of three keys that takes hundreds of distinct ones: each is
-- a run of its own, and when RUNS no longer saves an eighth on PLAIN the
-- merge rewrites the leaf PLAIN.
CREATE TABLE lw (k int8, pad int);
INSERT INTO lw SELECT (g % 3) * 1000, g FROM generate_series(1, 600) g ORDER BY hashint4(g);
CREATE INDEX lw_omen ON lw USING omen (k);
SELECT leaves, runs_leaves FROM runs_leaves('lw_omen');
INSERT INTO lw SELECT g * 7 + 1, -g FROM generate_series(1, 400) g ORDER BY hashint4(g);
SELECT leaves, runs_leaves FROM runs_leaves('lw_omen');
SELECT omen_index_check('lw_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lw WHERE k = 1000',
    'SELECT k, pad FROM lw WHERE k BETWEEN 990 AND 2010',
    'SELECT count(*), sum(k) FROM lw WHERE k > 0']);

-- 3. VACUUM rewrites the leaves it changes (as RUNS where that is smaller),
-- and the rows come back.
DELETE FROM lr WHERE pad % 3 = 0 OR k = 777;
VACUUM lr;
SELECT omen_index_check('lr_omen', true);
SELECT pending AS pending_after_vacuum FROM runs_leaves('lr_omen');
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lr WHERE k = 777',
    'SELECT k, pad FROM lr WHERE k BETWEEN 5 AND 50',
    'SELECT count(*) FROM lr']);
INSERT INTO lr SELECT g % 2000, g FROM generate_series(200001, 230000) g ORDER BY hashint4(g);
SELECT omen_index_check('lr_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lr WHERE k = 0',
    'SELECT k, pad FROM lr WHERE k BETWEEN 1500 AND 1600',
    'SELECT count(*) FROM lr']);

-- 4. Runs of the extreme keys, and TIDs in heap order (gaps of zero bits).
CREATE TABLE lx (k int8);
INSERT INTO lx SELECT x FROM generate_series(1, 3000) g,
    (VALUES (-9223372036854775808), (-1), (0), (9223372036854775807)) v(x);
CREATE INDEX lx_omen ON lx USING omen (k);
SELECT leaves = runs_leaves AS all_runs, entries FROM runs_leaves('lx_omen');
SELECT omen_index_check('lx_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM lx WHERE k = -9223372036854775808',
    'SELECT k FROM lx WHERE k = 9223372036854775807',
    'SELECT k FROM lx WHERE k >= 0',
    'SELECT k FROM lx WHERE k < 0',
    'SELECT count(*) FROM lx WHERE k > -9223372036854775808 AND k < 9223372036854775807']);

-- 5. Heap rows at offsets above 255 (a page whose line pointers were
-- left dead by deleted rows): a dense TID then needs 9 offset bits.
CREATE TABLE lo (k int8) WITH (autovacuum_enabled = off);
INSERT INTO lo SELECT g % 3 FROM generate_series(1, 220) g;
DELETE FROM lo;
SELECT count(*) FROM lo;
INSERT INTO lo SELECT g % 3 FROM generate_series(1, 3000) g;
CREATE INDEX lo_omen ON lo USING omen (k);
SELECT omen_index_check('lo_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, ctid FROM lo WHERE k = 1',
    'SELECT k, ctid FROM lo WHERE k >= 0']);

-- 6. VACUUM's survivors that no longer fit their leaf: runs of four rows in
-- heap order have gaps of zero bits; removing each run's second row leaves
-- gaps that need a bit, and leaves packed full (fillfactor 100) overflow.
-- VACUUM splits them.
CREATE TABLE lv (k int8, pad int);
INSERT INTO lv SELECT g / 4, g FROM generate_series(0, 39999) g;
CREATE INDEX lv_omen ON lv USING omen (k) WITH (fillfactor = 100);
SELECT leaf_pages AS lv_leaves FROM omen_index_stats('lv_omen') \gset
SELECT leaves = runs_leaves AS all_runs FROM runs_leaves('lv_omen');
DELETE FROM lv WHERE pad % 4 = 1;
VACUUM lv;
SELECT leaf_pages > :lv_leaves AS vacuum_split, entries FROM omen_index_stats('lv_omen');
SELECT omen_index_check('lv_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lv WHERE k = 4000',
    'SELECT k, pad FROM lv WHERE k BETWEEN 700 AND 900',
    'SELECT count(*) FROM lv WHERE k >= 0']);
INSERT INTO lv SELECT g / 4, g FROM generate_series(0, 39999) g WHERE g % 4 = 1;
SELECT omen_index_check('lv_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lv WHERE k = 4000',
    'SELECT count(*) FROM lv WHERE k >= 0']);

-- 7. Rows loaded in key order (runs in heap order, gaps of zero bits),
-- then new rows for old keys at the heap's end: a far TID starts a run of
-- its own instead of widening every gap of its key's run, so the leaves
-- take the new rows in their pending areas and merges.
CREATE TABLE la (k int8, pad int);
INSERT INTO la SELECT g / 50, g FROM generate_series(0, 59999) g;
CREATE INDEX la_omen ON la USING omen (k) WITH (fillfactor = 100);
INSERT INTO la SELECT hashint4(g) & 1023, -g FROM generate_series(1, 3000) g;
SELECT leaves = runs_leaves AS all_runs, entries FROM runs_leaves('la_omen');
SELECT omen_index_check('la_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM la WHERE k = 7',
    'SELECT k, pad FROM la WHERE k BETWEEN 100 AND 140',
    'SELECT count(*) FROM la WHERE k >= 0']);

DROP TABLE lr, lx, lo, lv, la;
DROP FUNCTION runs_leaves(regclass);
