-- The upgrade path: version 0.1 of the extension, updated with ALTER
-- EXTENSION, has exactly the objects (and function signatures and grants)
-- of a fresh install of the current version, and indexes keep working
-- across the update.

-- what a fresh install of the current version holds
CREATE TEMP VIEW omen_objects AS
SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
       || coalesce(' returns ' || pg_get_function_result(p.oid), '')
       || coalesce(' acl ' || p.proacl::text, '') AS object
FROM pg_depend d
LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omen_index')
UNION ALL   -- the operator families' members belong to the families
SELECT pg_describe_object('pg_amop'::regclass, o.oid, 0)
FROM pg_amop o JOIN pg_am a ON a.oid = o.amopmethod WHERE a.amname = 'omen'
UNION ALL
SELECT pg_describe_object('pg_amproc'::regclass, p.oid, 0)
FROM pg_amproc p JOIN pg_opfamily f ON f.oid = p.amprocfamily JOIN pg_am a ON a.oid = f.opfmethod
WHERE a.amname = 'omen';
SELECT extversion FROM pg_extension WHERE extname = 'omen_index';
CREATE TABLE fresh_objects AS SELECT object FROM omen_objects;
SELECT count(*) > 80 AS has_objects FROM fresh_objects;

-- install 0.1 and use it (the current library serves the old declarations)
SET client_min_messages = warning;
DROP EXTENSION omen_index CASCADE;
RESET client_min_messages;
CREATE EXTENSION omen_index VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'omen_index';
CREATE TABLE up (k int8);
INSERT INTO up SELECT g * 3 FROM generate_series(1, 5000) g;
CREATE INDEX up_omen ON up USING omen (k);
SELECT entries, leaf_pages > 0 AS has_leaves FROM omen_index_stats('up_omen');
SELECT omen_index_retrain('up_omen');
CREATE TABLE up_t AS SELECT '2020-01-01'::timestamp + g * interval '1 hour' AS ts FROM generate_series(1, 2000) g;
CREATE INDEX up_t_omen ON up_t USING omen (ts);
SELECT count(*) FROM omen_objects o WHERE o.object LIKE '%omen_index_leaves%';

-- update, and compare with the fresh install
ALTER EXTENSION omen_index UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'omen_index';
SELECT 'missing after update' AS what, object FROM (SELECT object FROM fresh_objects EXCEPT SELECT object FROM omen_objects) m
UNION ALL
SELECT 'extra after update', object FROM (SELECT object FROM omen_objects EXCEPT SELECT object FROM fresh_objects) e
ORDER BY 1, 2;

-- the index built under 0.1 works with the new functions
INSERT INTO up SELECT g * 3 + 1 FROM generate_series(1, 5000) g;
SELECT entries, drift >= 0 AS has_drift FROM omen_index_stats('up_omen');
SELECT omen_index_retrain('up_omen', full_refit => true);
SELECT omen_index_check('up_omen', true);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT k FROM up WHERE k = 3001;
SELECT k FROM up WHERE k = 3001;
SELECT count(*) FROM up WHERE k BETWEEN 100 AND 200;
-- 0.3's cross-type operators serve an index built before the update
EXPLAIN (COSTS OFF) SELECT count(*) FROM up_t WHERE ts >= '2020-02-01'::date AND ts < '2020-02-02'::date;
SELECT count(*) FROM up_t WHERE ts >= '2020-02-01'::date AND ts < '2020-02-02'::date;
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE up, up_t, fresh_objects;
