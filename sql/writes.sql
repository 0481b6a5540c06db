-- Inserts after the build (splits everywhere: random, ascending, descending,
-- duplicate runs, NULLs), DELETE + VACUUM, and space reuse.
CREATE TABLE w (k int8, pad int);
INSERT INTO w SELECT g * 10, g FROM generate_series(1, 20000) g;
CREATE INDEX w_omen ON w USING omen (k) WITH (fillfactor = 100);

-- random keys in the whole int8 range, ascending appends, descending prepends
INSERT INTO w SELECT (random() * 200000)::int8, 1 FROM generate_series(1, 10000);
INSERT INTO w SELECT 200000 + g, 2 FROM generate_series(1, 10000) g;
INSERT INTO w SELECT -g, 3 FROM generate_series(1, 5000) g;
INSERT INTO w SELECT 555, g FROM generate_series(1, 4000) g;
INSERT INTO w SELECT NULL, g FROM generate_series(1, 3000) g;
INSERT INTO w VALUES (-9223372036854775808, 0), (9223372036854775807, 0), (9223372036854775807, 1);
SELECT splits_since_retrain > 0 AS split, entries = (SELECT count(*) FROM w) AS all_entries
FROM omen_index_stats('w_omen');
SELECT omen_index_check('w_omen', true);

SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM w WHERE k = 555',
    'SELECT k FROM w WHERE k = 1000',
    'SELECT k FROM w WHERE k BETWEEN 199990 AND 200020',
    'SELECT k FROM w WHERE k < -4990',
    'SELECT k FROM w WHERE k > 209990',
    'SELECT k FROM w WHERE k IS NULL',
    'SELECT k FROM w WHERE k = ANY(''{555, 10, 20, -7, 9223372036854775807}'')']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM w ORDER BY k',
    'SELECT k FROM w ORDER BY k DESC',
    'SELECT k FROM w WHERE k BETWEEN 500 AND 600 ORDER BY k DESC'], true);

-- the model is stale, never wrong; a retrain makes it fresh again
SELECT retrains AS r0 FROM omen_index_stats('w_omen') \gset
SELECT omen_index_retrain('w_omen');
SELECT splits_since_retrain, retrains = :r0 + 1 AS retrained FROM omen_index_stats('w_omen');
SELECT omen_index_check('w_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM w WHERE k = 555', 'SELECT k FROM w WHERE k BETWEEN 1000 AND 1100',
    'SELECT k FROM w ORDER BY k DESC LIMIT 20']);

-- updates move rows; deletes and VACUUM remove dead entries
UPDATE w SET k = k + 1 WHERE pad = 2;
DELETE FROM w WHERE k % 3 = 0;
VACUUM w;
SELECT omen_index_check('w_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM w WHERE k = 555', 'SELECT k FROM w WHERE k BETWEEN 200000 AND 200100',
    'SELECT k FROM w WHERE k % 3 = 0 AND k > 0', 'SELECT k FROM w WHERE k IS NULL']);

-- delete everything, VACUUM, insert the same rows again: the index reuses
-- its leaves and does not grow by more than 10%
CREATE TABLE r (k int8) WITH (autovacuum_enabled = off);
INSERT INTO r SELECT (g * 7919) % 100003 FROM generate_series(1, 100000) g;
CREATE INDEX r_omen ON r USING omen (k);
INSERT INTO r SELECT (g * 7919) % 100003 + 1 FROM generate_series(1, 50000) g;
SELECT pg_relation_size('r_omen') AS size_before \gset
DELETE FROM r;
VACUUM r;
SELECT entries FROM omen_index_stats('r_omen');
INSERT INTO r SELECT (g * 7919) % 100003 FROM generate_series(1, 100000) g;
INSERT INTO r SELECT (g * 7919) % 100003 + 1 FROM generate_series(1, 50000) g;
SELECT pg_relation_size('r_omen') <= :size_before * 1.10 AS grew_at_most_10_percent;
SELECT omen_index_check('r_omen', true);
-- the emptied leaves were unlinked for reuse, their ranges given to their
-- right neighbours; after a retrain the model knows where each leaf starts
SELECT omen_index_retrain('r_omen');
SELECT * FROM probe_leaf_reads('r', 'r_omen');
SELECT * FROM oracle_report(ARRAY['SELECT k FROM r WHERE k = 500', 'SELECT k FROM r WHERE k BETWEEN 100 AND 300']);

-- the same with heavy duplicates and NULLs coming back in another order:
-- runs of one key are divided among leaves by heap TID, so the rows
-- crowd into a few of the emptied leaves; splits take the empty ones
CREATE TABLE rd (k int8);
INSERT INTO rd SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE (hashint4(g) & 65535) % 51 END
FROM generate_series(1, 150000) g;
CREATE INDEX rd_omen ON rd USING omen (k);
CREATE TABLE rd_copy AS SELECT * FROM rd;
SELECT pg_relation_size('rd_omen') AS size_before, leaf_pages AS leaves_before
FROM omen_index_stats('rd_omen') \gset
DELETE FROM rd;
VACUUM rd;
INSERT INTO rd SELECT k FROM rd_copy ORDER BY k NULLS FIRST;
SELECT pg_relation_size('rd_omen') <= :size_before * 1.10 AS grew_at_most_10_percent,
       leaf_pages <= :leaves_before * 1.10 AS leaves_at_most_10_percent
FROM omen_index_stats('rd_omen');
SELECT omen_index_check('rd_omen', true);
VACUUM rd;
SELECT omen_index_check('rd_omen', true);
SELECT * FROM oracle_report(ARRAY['SELECT k FROM rd WHERE k = 50', 'SELECT count(*) FROM rd WHERE k IS NULL',
                                  'SELECT k FROM rd WHERE k BETWEEN 10 AND 12']);
DROP TABLE rd, rd_copy;

-- VACUUM reports the index's entry count (VERBOSE output is checked in TAP)
CREATE TABLE vv (k int8);
INSERT INTO vv SELECT g FROM generate_series(1, 1000) g;
CREATE INDEX vv_omen ON vv USING omen (k);
DELETE FROM vv WHERE k <= 400;
VACUUM (INDEX_CLEANUP ON) vv;
SELECT reltuples FROM pg_class WHERE relname = 'vv_omen';

-- rows are visible to index scans exactly when the snapshot says so
BEGIN;
INSERT INTO w VALUES (123456789, 9);
SET LOCAL enable_seqscan = off;
SELECT k, pad FROM w WHERE k = 123456789;
ROLLBACK;
SET enable_seqscan = off;
SELECT k, pad FROM w WHERE k = 123456789;
RESET enable_seqscan;

-- TRUNCATE, REINDEX, CLUSTER, VACUUM FULL, CREATE INDEX CONCURRENTLY
TRUNCATE vv;
INSERT INTO vv SELECT g FROM generate_series(1, 3000) g;
SELECT * FROM oracle_report(ARRAY['SELECT k FROM vv WHERE k = 2999', 'SELECT k FROM vv WHERE k < 10']);
REINDEX INDEX vv_omen;
SELECT omen_index_check('vv_omen', true);
CLUSTER vv USING vv_omen;
SELECT omen_index_check('vv_omen', true);
VACUUM FULL vv;
SELECT omen_index_check('vv_omen', true);
CREATE INDEX CONCURRENTLY vv_omen2 ON vv USING omen (k);
SELECT omen_index_check('vv_omen2', true);
REINDEX INDEX CONCURRENTLY vv_omen2;
SELECT omen_index_check('vv_omen2', true);
DROP INDEX vv_omen2;

-- unlogged tables build their init fork
CREATE UNLOGGED TABLE u (k int8);
CREATE INDEX u_omen ON u USING omen (k);
INSERT INTO u SELECT g FROM generate_series(1, 2000) g;
SELECT * FROM oracle_report(ARRAY['SELECT k FROM u WHERE k = 1999']);
SELECT omen_index_check('u_omen', true);

-- partitioned tables
CREATE TABLE p (k int8, t text) PARTITION BY RANGE (k);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (1000) TO (MAXVALUE);
INSERT INTO p SELECT g, 'x' FROM generate_series(1, 3000) g;
CREATE INDEX p_omen ON p USING omen (k);
CREATE TABLE p3 (k int8, t text);
INSERT INTO p3 VALUES (5000, 'y');
SELECT * FROM oracle_report(ARRAY['SELECT k FROM p WHERE k = 1500', 'SELECT k FROM p WHERE k BETWEEN 990 AND 1010']);
SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%USING omen%' AND tablename IN ('p1', 'p2');

-- A full leaf whose right neighbour is at most half full gives it its
-- upper entries (a rebalance), lowering the neighbour's low fence; where
-- inserts crowd into one range, the neighbours' fences keep going down,
-- past the directory's older entries.  Such a neighbour goes into the
-- split log (which has room for it here), so after a retrain the directory
-- has every leaf at its fence again and each probe reads exactly one leaf.
CREATE TABLE rb (k int8) WITH (autovacuum_enabled = off);  -- no relcache resets mid-count
INSERT INTO rb SELECT g * 1000 FROM generate_series(1, 50000) g;
CREATE INDEX rb_omen ON rb USING omen (k) WITH (fillfactor = 40);
SELECT leaf_pages AS rb_leaves FROM omen_index_stats('rb_omen') \gset
SELECT low_key AS lo, high_key AS hi FROM omen_index_leaves('rb_omen')
WHERE tree = 'keys' AND low_key IS NOT NULL ORDER BY low_key LIMIT 1 OFFSET 10 \gset
INSERT INTO rb SELECT :lo + abs(hashint8(g)) % (:hi - :lo) FROM generate_series(1, 20000) g;
SELECT splits_since_retrain > leaf_pages - :rb_leaves AS rebalanced FROM omen_index_stats('rb_omen');
SELECT omen_index_retrain('rb_omen');
SELECT splits_since_retrain, model_leaves = leaf_pages AS model_knows_every_leaf
FROM omen_index_stats('rb_omen');
SELECT omen_index_check('rb_omen', true);
SELECT * FROM probe_leaf_reads('rb', 'rb_omen');
