-- Parallel build: workers scan and sort parts of the heap, the leader
-- merges.  The table's parallel_workers option asks for two workers even
-- on a small table; the index must equal a serial build's, answer like a
-- sequential scan, and pass the check with heapallindexed.

-- leaves that differ between two indexes, compared in chain order
CREATE FUNCTION differing_leaves(a regclass, b regclass) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*)
  FROM (SELECT row_number() OVER () AS n, tree, entries, low_key, high_key FROM omen_index_leaves(a)) x
  FULL JOIN (SELECT row_number() OVER () AS n, tree, entries, low_key, high_key FROM omen_index_leaves(b)) y
  USING (n)
  WHERE x IS DISTINCT FROM y
$$;

CREATE TABLE pb (k int8, pad int) WITH (parallel_workers = 2);
INSERT INTO pb SELECT CASE WHEN g % 97 = 0 THEN NULL
                           WHEN g % 11 = 0 THEN 4242
                           WHEN g % 13 = 0 THEN -9223372036854775808
                           ELSE (hashint4(g) & 1048575)::int8 * 1000 END, g
FROM generate_series(1, 200000) g;
SET max_parallel_maintenance_workers = 2;
SET client_min_messages = debug1;
CREATE INDEX pb_par ON pb USING omen (k);
RESET client_min_messages;
SELECT omen_index_check('pb_par', true);

-- the same index built serially, for comparison
SET max_parallel_maintenance_workers = 0;
SET client_min_messages = debug1;
CREATE INDEX pb_ser ON pb USING omen (k);
RESET client_min_messages;
RESET max_parallel_maintenance_workers;
SELECT p.entries = s.entries AS same_entries, p.null_entries = s.null_entries AS same_nulls,
       p.leaf_pages = s.leaf_pages AS same_leaves, p.entries
FROM omen_index_stats('pb_par') p, omen_index_stats('pb_ser') s;
-- leaf by leaf, the two builds wrote the same leaves
SELECT differing_leaves('pb_par', 'pb_ser');
DROP INDEX pb_ser;

SELECT * FROM oracle_report(ARRAY[
  'SELECT k FROM pb WHERE k = 4242',
  'SELECT k FROM pb WHERE k BETWEEN 1000000 AND 90000000',
  'SELECT count(*) FROM pb WHERE k IS NULL',
  'SELECT k FROM pb WHERE k < 0',
  'SELECT k FROM pb ORDER BY k DESC LIMIT 50']);

-- CREATE INDEX CONCURRENTLY in parallel: workers scan with the build's snapshot
DROP INDEX pb_par;
SET max_parallel_maintenance_workers = 2;
CREATE INDEX CONCURRENTLY pb_conc ON pb USING omen (k);
RESET max_parallel_maintenance_workers;
SELECT omen_index_check('pb_conc', true);
SELECT entries FROM omen_index_stats('pb_conc');
DROP TABLE pb;

-- A sort larger than its memory.  At maintenance_work_mem = 1MB the NULL
-- entries' sort has 64 kB: runs of 4,096 pairs, merged 5 at a time, so
-- 60,000 NULLs make 15 runs merged in several passes; the keys make 5 runs
-- merged in one.  The index must equal one sorted wholly in memory.
CREATE TABLE sb (k int8);
INSERT INTO sb SELECT CASE WHEN g % 6 = 0 THEN NULL
                           WHEN g % 7 = 0 THEN 77
                           ELSE (hashint4(g) & 262143)::int8 - 131072 END
FROM generate_series(1, 360000) g;
SET max_parallel_maintenance_workers = 0;
SET maintenance_work_mem = '1MB';
CREATE INDEX sb_small ON sb USING omen (k);
SET maintenance_work_mem = '256MB';
CREATE INDEX sb_big ON sb USING omen (k);
RESET maintenance_work_mem;
RESET max_parallel_maintenance_workers;
SELECT omen_index_check('sb_small', true);
SELECT entries, null_entries FROM omen_index_stats('sb_small');
SELECT differing_leaves('sb_small', 'sb_big');
DROP INDEX sb_big;
SELECT * FROM oracle_report(ARRAY[
  'SELECT k FROM sb WHERE k = 77',
  'SELECT k FROM sb WHERE k BETWEEN -1000 AND 1000',
  'SELECT count(*) FROM sb WHERE k IS NULL',
  'SELECT k FROM sb ORDER BY k LIMIT 100']);
DROP TABLE sb;
DROP FUNCTION differing_leaves(regclass, regclass);
