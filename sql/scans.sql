-- Every query shape against a sequential scan, on adversarial int8 keys:
-- INT64 extremes, long duplicate runs spanning many leaves, huge gaps
-- (step-shaped keys), skew, and NULLs.
CREATE TABLE adv (k int8, pad int);
INSERT INTO adv
SELECT k, 0 FROM (
    VALUES (-9223372036854775808), (-9223372036854775807), (9223372036854775807),
           (9223372036854775806), (-1), (0), (1)) v(k);
INSERT INTO adv SELECT 7, g FROM generate_series(1, 3000) g;                 -- a run over ~6 leaves
INSERT INTO adv SELECT g, 0 FROM generate_series(100, 5000) g;              -- dense
INSERT INTO adv SELECT 1000000000000000 + g * 1000, 0 FROM generate_series(1, 3000) g;  -- far step
INSERT INTO adv SELECT -4000000000000000000 + g, 0 FROM generate_series(1, 2000) g;    -- far negative step
INSERT INTO adv SELECT (exp(g / 400.0))::int8, 0 FROM generate_series(1, 4000) g;      -- skewed
INSERT INTO adv SELECT NULL, g FROM generate_series(1, 700) g;                           -- nulls over 2 leaves
INSERT INTO adv SELECT 4242, g FROM generate_series(1, 600) g;              -- a run at a leaf edge
CREATE INDEX adv_omen ON adv USING omen (k);
VACUUM ANALYZE adv;
SELECT omen_index_check('adv_omen', true);

-- ordered checks compare the key sequence: rows with equal keys may come in any order
-- constants: extremes, run keys, gaps, absent keys
CREATE TABLE consts (c text);
INSERT INTO consts VALUES
    ('-9223372036854775808'), ('-9223372036854775807'), ('9223372036854775807'),
    ('9223372036854775806'), ('-1'), ('0'), ('1'), ('6'), ('7'), ('8'), ('99'), ('100'),
    ('2500'), ('4242'), ('4243'), ('5000'), ('5001'), ('999999999'),
    ('1000000000001000'), ('1000000000001001'), ('1000000000003000000'),
    ('-4000000000000000000'), ('-3999999999999998000'), ('-3999999999999999999');

-- single comparisons, each operator and constant, plain and ordered
SELECT * FROM oracle_report(ARRAY(
    SELECT format('SELECT k FROM adv WHERE k %s %s', op, c)
    FROM unnest(ARRAY['=', '<', '<=', '>', '>=']) op, consts));
SELECT * FROM oracle_report(ARRAY(
    SELECT format('SELECT k FROM adv WHERE k %s %s ORDER BY k', op, c)
    FROM unnest(ARRAY['=', '<', '<=', '>', '>=']) op, consts), true);
SELECT * FROM oracle_report(ARRAY(
    SELECT format('SELECT k FROM adv WHERE k %s %s ORDER BY k DESC', op, c)
    FROM unnest(ARRAY['=', '<', '<=', '>', '>=']) op, consts), true);

-- ranges and conjunctions, including empty and inverted ones
SELECT * FROM oracle_report(ARRAY(
    SELECT format('SELECT k FROM adv WHERE k BETWEEN %s AND %s', a.c, b.c)
    FROM consts a, consts b WHERE a.c::int8 <= b.c::int8 AND random() < 2));
SELECT * FROM oracle_report(ARRAY(
    SELECT format('SELECT k FROM adv WHERE k > %s AND k < %s ORDER BY k DESC LIMIT 50', a.c, b.c)
    FROM consts a, consts b WHERE (a.c::int8 % 3) = 0), true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM adv WHERE k >= 5 AND k >= 7 AND k <= 4242 AND k < 4243',
    'SELECT k FROM adv WHERE k > 9223372036854775806',
    'SELECT k FROM adv WHERE k < -9223372036854775807',
    'SELECT k FROM adv WHERE k > 9223372036854775807',
    'SELECT k FROM adv WHERE k < -9223372036854775808',
    'SELECT k FROM adv WHERE k = 7 AND k = 8',
    'SELECT k FROM adv WHERE k BETWEEN 10 AND 5']);

-- = ANY, IN lists, combined with bounds and with each other
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM adv WHERE k = ANY(''{7, 4242, -1, 9223372036854775807, 123456}''::int8[])',
    'SELECT k FROM adv WHERE k IN (0, 1, 7, 100, 101, 5000, 5001, -9223372036854775808)',
    'SELECT k FROM adv WHERE k = ANY(''{}''::int8[])',
    'SELECT k FROM adv WHERE k = ANY(''{NULL, 7}''::int8[])',
    'SELECT k FROM adv WHERE k = ANY(''{3,3,3,7,7}''::int8[]) AND k > 5',
    'SELECT k FROM adv WHERE k = ANY(''{1,2,3,7}''::int8[]) AND k = ANY(''{7,3,9}''::int8[])',
    'SELECT k FROM adv WHERE k < ANY(''{5,100}''::int8[])',
    'SELECT k FROM adv WHERE k >= ANY(''{5000,100}''::int8[])',
    'SELECT k FROM adv WHERE k = ANY(''{1,2}''::int4[])',
    'SELECT k FROM adv WHERE k = ANY(''{7,100}''::int2[])']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM adv WHERE k IN (4242, 7, 100, 1000000000000001000) ORDER BY k',
    'SELECT k FROM adv WHERE k IN (4242, 7, 100, 1000000000000001000) ORDER BY k DESC',
    'SELECT k FROM adv WHERE k = ANY(ARRAY(SELECT g FROM generate_series(90, 5010, 7) g)) ORDER BY k'], true);

-- NULLs: IS NULL, IS NOT NULL, full ordered scans place NULLs last (first when DESC)
SELECT * FROM oracle_report(ARRAY[
    'SELECT pad FROM adv WHERE k IS NULL',
    'SELECT k FROM adv WHERE k IS NOT NULL',
    'SELECT k FROM adv WHERE k IS NULL AND k = 5',
    'SELECT k FROM adv WHERE k IS NULL AND k IS NOT NULL',
    'SELECT k FROM adv WHERE k IS NOT NULL AND k < 0']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM adv ORDER BY k',
    'SELECT k FROM adv ORDER BY k DESC',
    'SELECT k FROM adv ORDER BY k LIMIT 3',
    'SELECT k FROM adv ORDER BY k DESC LIMIT 3',
    'SELECT k FROM adv WHERE k IS NOT NULL ORDER BY k DESC LIMIT 10',
    'SELECT min(k), max(k) FROM adv',
    'SELECT k FROM adv WHERE k = 7 ORDER BY k LIMIT 1'], true);

-- index-only scans return the key itself
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT k, count(*) FROM adv WHERE k BETWEEN 100 AND 103 GROUP BY k ORDER BY k DESC;
SELECT k, count(*) FROM adv WHERE k BETWEEN 100 AND 103 GROUP BY k ORDER BY k DESC;
SELECT k FROM adv WHERE k > 9223372036854775805 ORDER BY k;
SELECT k FROM adv WHERE k < -9223372036854775806 ORDER BY k DESC;
SELECT count(*) FROM adv WHERE k IS NULL;
SELECT k FROM adv ORDER BY k NULLS LAST LIMIT 2;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- merge join with mark/restore over a duplicate-heavy inner side
SET enable_hashjoin = off;
SET enable_nestloop = off;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_sort = off;
CREATE TABLE adv2 (k int8);
INSERT INTO adv2 SELECT g FROM generate_series(0, 120) g;
INSERT INTO adv2 SELECT 7 FROM generate_series(1, 3) g;
CREATE INDEX adv2_omen ON adv2 USING omen (k);
VACUUM ANALYZE adv2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM adv a JOIN adv2 b ON a.k = b.k;
SELECT count(*) FROM adv a JOIN adv2 b ON a.k = b.k;
RESET ALL;
SELECT count(*) FROM adv a JOIN adv2 b ON a.k = b.k;

-- empty table, one row, all keys equal
CREATE TABLE e (k int8);
CREATE INDEX e_omen ON e USING omen (k);
SELECT * FROM oracle_report(ARRAY['SELECT k FROM e WHERE k = 1', 'SELECT k FROM e ORDER BY k DESC', 'SELECT k FROM e WHERE k IS NULL']);
SELECT omen_index_check('e_omen', true);
INSERT INTO e VALUES (42);
SELECT * FROM oracle_report(ARRAY['SELECT k FROM e WHERE k = 42', 'SELECT k FROM e WHERE k > 41', 'SELECT k FROM e WHERE k < 42']);
CREATE TABLE same (k int8);
INSERT INTO same SELECT 5 FROM generate_series(1, 5000);
CREATE INDEX same_omen ON same USING omen (k);
SELECT * FROM oracle_report(ARRAY['SELECT k FROM same WHERE k = 5', 'SELECT k FROM same WHERE k < 5',
    'SELECT k FROM same WHERE k > 5', 'SELECT k FROM same WHERE k >= 5 ORDER BY k DESC LIMIT 3']);
CREATE TABLE allnull (k int8);
INSERT INTO allnull SELECT NULL FROM generate_series(1, 1500);
CREATE INDEX allnull_omen ON allnull USING omen (k);
SELECT * FROM oracle_report(ARRAY['SELECT k FROM allnull WHERE k IS NULL', 'SELECT k FROM allnull WHERE k = 1', 'SELECT k FROM allnull ORDER BY k']);
SELECT omen_index_check('allnull_omen', true);
SELECT omen_index_check('same_omen', true);

-- a scrollable cursor that turns back gets a Material node: same answers
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
DECLARE cur SCROLL CURSOR FOR SELECT k FROM adv WHERE k BETWEEN 100 AND 103 ORDER BY k;
FETCH 3 FROM cur;
FETCH BACKWARD 2 FROM cur;
FETCH LAST FROM cur;
FETCH PRIOR FROM cur;
COMMIT;

-- every key and both its neighbours probed through the index (a nested
-- loop) against a hash join.  The in-leaf search guesses a position from
-- the leaf's first key and its high fence, and reads the leaf's last key
-- when that guess is far off.  Leaves of clusters that stop far short of
-- the next cluster (whose first key is their fence), also at the ends of
-- the int8 range (a fence - first key gap above INT64_MAX); keys spread at
-- random; runs of ~60 duplicates in random heap order (plain leaves); the
-- least key repeated, then inserted more (an insert searches by key and
-- heap TID); leaves split by inserts after the build; the last leaf.
CREATE TABLE spread (k int8, pad int DEFAULT 0);
INSERT INTO spread SELECT k FROM (
    SELECT c * 1000000000000000 + g * 3 AS k
        FROM generate_series(-4, 4) c, generate_series(1, 1500) g
    UNION ALL
    SELECT -9223372036854775000 + g * 7 FROM generate_series(1, 1500) g
    UNION ALL
    SELECT 9223372036854000000 + g * 11 FROM generate_series(1, 1500) g
    UNION ALL
    SELECT 5000000000000000 + (hashint4(g) & 1048575)::int8 * 7 FROM generate_series(1, 6000) g
    UNION ALL
    SELECT 6000000000000000 + CASE WHEN g % 1000 < 60 THEN g / 1000 * 1000 ELSE g END
        FROM generate_series(1, 8000) g
    UNION ALL
    SELECT -9223372036854775808 FROM generate_series(1, 40) g) v
ORDER BY hashint8(k), k;
CREATE INDEX spread_omen ON spread USING omen (k);
SELECT count(*) AS leaves,
       count(*) FILTER (WHERE high_key::numeric - low_key::numeric > 1e14) AS leaves_ending_far_short
FROM omen_index_leaves('spread_omen');
INSERT INTO spread SELECT c * 1000000000000000 + 4501 + g * 5
    FROM generate_series(-4, 4) c, generate_series(1, 700) g;
INSERT INTO spread SELECT -9223372036854775808 FROM generate_series(1, 100);
VACUUM ANALYZE spread;
SELECT count(*) AS leaves FROM omen_index_leaves('spread_omen');
SELECT omen_index_check('spread_omen', true);
CREATE TABLE spread_probes AS
    SELECT DISTINCT (k::numeric + d)::int8 AS q FROM spread, (VALUES (-1), (0), (1)) v(d)
    WHERE k::numeric + d BETWEEN -9223372036854775808 AND 9223372036854775807;
ANALYZE spread_probes;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT p.q, s.k FROM spread_probes p LEFT JOIN spread s ON s.k = p.q;
CREATE TEMP TABLE via_index AS
    SELECT p.q, count(s.k) AS n FROM spread_probes p LEFT JOIN spread s ON s.k = p.q GROUP BY p.q;
SET enable_indexonlyscan = off;
EXPLAIN (COSTS OFF) SELECT p.q, s.pad FROM spread_probes p LEFT JOIN spread s ON s.k = p.q;
CREATE TEMP TABLE via_index_heap AS
    SELECT p.q, count(s.pad) AS n FROM spread_probes p LEFT JOIN spread s ON s.k = p.q GROUP BY p.q;
RESET ALL;
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
CREATE TEMP TABLE via_hash AS
    SELECT p.q, count(s.k) AS n FROM spread_probes p LEFT JOIN spread s ON s.k = p.q GROUP BY p.q;
RESET ALL;
-- every row is found by the probe of its key, through the index
SELECT (SELECT count(*) FROM spread) AS table_rows,
       (SELECT sum(n) FROM via_index) AS found_index_only,
       (SELECT sum(n) FROM via_index_heap) AS found_index;
SELECT count(*) AS differences FROM via_hash h
    FULL JOIN via_index i USING (q) FULL JOIN via_index_heap ih USING (q)
    WHERE h.n IS DISTINCT FROM i.n OR h.n IS DISTINCT FROM ih.n;

-- plain index scans, which return rows through the heap: their heap pages
-- are prefetched (omen.prefetch_heap, on by default) a window of rows
-- ahead, refilled as the scan goes (the 3,000 rows of key 7 refill it many
-- times, over several leaves), forward and backward, NULLs, arrays, rows
-- deleted but not vacuumed, a temporary table (local buffers are not
-- prefetched), and a merge join's mark and restore.  The same answers as
-- a sequential scan with the setting on and off.
SHOW omen.prefetch_heap;
DELETE FROM adv WHERE k = 7 AND pad % 3 = 0;
CREATE TEMP TABLE advtemp AS SELECT * FROM adv;
CREATE INDEX advtemp_omen ON advtemp USING omen (k);
VACUUM ANALYZE advtemp;
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM adv WHERE k = 7',
    'SELECT k, pad FROM adv WHERE k BETWEEN 5 AND 4242',
    'SELECT k, pad FROM adv WHERE k IS NULL',
    'SELECT k, pad FROM adv WHERE k = ANY(''{4242, 7, 100, 9223372036854775807}''::int8[])',
    'SELECT k, pad FROM advtemp WHERE k = 7',
    'SELECT k, pad FROM advtemp WHERE k BETWEEN 5 AND 4242']);
-- the prefetch also guesses each row's place on its page from the width
-- of the table's rows (src/README.md, "Heap prefetch"): rows of variable
-- width (a mean from pg_class), some updated since (moved), and a dropped
-- column (its bytes still in the rows).  Only hints: the same answers.
CREATE TABLE advvar AS SELECT k, pad, repeat('v', pad % 97) AS note FROM adv;
CREATE INDEX advvar_omen ON advvar USING omen (k);
VACUUM ANALYZE advvar;
UPDATE advvar SET note = note || 'longer' WHERE pad % 5 = 0;
CREATE TABLE advdrop AS SELECT k, pad AS gone, pad FROM adv;
ALTER TABLE advdrop DROP COLUMN gone;
CREATE INDEX advdrop_omen ON advdrop USING omen (k);
VACUUM ANALYZE advdrop;
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad, note FROM advvar WHERE k = 7',
    'SELECT k, pad, note FROM advvar WHERE k BETWEEN 5 AND 4242',
    'SELECT k, pad FROM advdrop WHERE k = 7',
    'SELECT k, pad FROM advdrop WHERE k BETWEEN 5 AND 4242']);
DROP TABLE advvar, advdrop;
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM adv WHERE k >= 7 ORDER BY k, pad',
    'SELECT k, pad FROM adv WHERE k <= 4242 ORDER BY k DESC, pad',
    'SELECT k, pad FROM adv ORDER BY k DESC NULLS FIRST, pad LIMIT 4000'], true);
SET omen.prefetch_heap = off;
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM adv WHERE k = 7',
    'SELECT k, pad FROM adv WHERE k BETWEEN 5 AND 4242',
    'SELECT k, pad FROM adv WHERE k IS NULL',
    'SELECT k, pad FROM advtemp WHERE k = 7']);
RESET omen.prefetch_heap;
SET enable_hashjoin = off;
SET enable_nestloop = off;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT sum(a.pad), count(*) FROM adv a JOIN adv2 b ON a.k = b.k;
SELECT sum(a.pad), count(*) FROM adv a JOIN adv2 b ON a.k = b.k;
RESET ALL;
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
SELECT sum(a.pad), count(*) FROM adv a JOIN adv2 b ON a.k = b.k;
RESET ALL;
