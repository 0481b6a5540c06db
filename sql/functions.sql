-- omen_index_stats, omen_index_check, omen_index_retrain, amvalidate,
-- build progress phases.
CREATE TABLE fs (k int8);
INSERT INTO fs SELECT g * 2 FROM generate_series(1, 50000) g;
INSERT INTO fs SELECT NULL FROM generate_series(1, 10);
CREATE INDEX fs_omen ON fs USING omen (k) WITH (epsilon = 4);
SELECT entries, null_entries, leaf_pages, model_segments, epsilon, max_error <= epsilon AS bounded,
       mean_error <= epsilon AS mean_bounded, model_version, splits_since_retrain, retrains,
       last_retrain IS NOT NULL AS fitted, index_bytes = pg_relation_size('fs_omen') AS bytes_match,
       fillfactor
FROM omen_index_stats('fs_omen');
-- an omen index is much smaller than btree on the same column
CREATE INDEX fs_btree ON fs (k);
SELECT pg_relation_size('fs_omen')::float8 / pg_relation_size('fs_btree') < 0.8 AS smaller_than_btree;
DROP INDEX fs_btree;

-- inserts split leaves; once the splits since the last fit reach an eighth
-- of the leaves (at least 32), the inserting backend refits the model
INSERT INTO fs SELECT g * 2 + 1 FROM generate_series(1, 5000) g;
SELECT splits_since_retrain > 0 AS stale, retrains, model_version FROM omen_index_stats('fs_omen');
-- inserts never retrain in the inserting backend (the background worker
-- does, when preloaded; not in this suite): the drift grows
SELECT drift AS d0 FROM omen_index_stats('fs_omen') \gset
INSERT INTO fs SELECT g * 2 + 1 FROM generate_series(5001, 20000) g;
SELECT retrains, model_version, drift > :d0 AS drift_grew,
       drift = splits_since_retrain::float8 / leaf_pages AS drift_is_splits_per_leaf,
       model_leaves + splits_since_retrain = leaf_pages AS model_misses_new_leaves
FROM omen_index_stats('fs_omen');
SELECT omen_index_check('fs_omen');
SELECT omen_index_check('fs_omen', heapallindexed => true);
SELECT retrains AS r0, model_version AS v0 FROM omen_index_stats('fs_omen') \gset
SELECT splits_since_retrain AS s0 FROM omen_index_stats('fs_omen') \gset
SELECT omen_index_retrain('fs_omen');
-- an incremental retrain reads the new leaves only
SELECT splits_since_retrain, retrains - :r0 AS new_retrains, model_version - :v0 AS new_versions,
       max_error <= epsilon AS bounded, drift, last_retrain_leaves = :s0 AS read_only_new_leaves,
       model_leaves = leaf_pages AS model_knows_every_leaf
FROM omen_index_stats('fs_omen');
-- nothing changed: nothing to do
SELECT omen_index_retrain('fs_omen');
SELECT retrains - :r0 AS new_retrains FROM omen_index_stats('fs_omen');
-- a full refit reads every leaf
SELECT omen_index_retrain('fs_omen', full_refit => true);
SELECT retrains - :r0 AS new_retrains, last_retrain_leaves = leaf_pages AS read_every_leaf,
       model_leaves = leaf_pages AS model_knows_every_leaf
FROM omen_index_stats('fs_omen');
SELECT omen_index_check('fs_omen', true);
SELECT omen_index_check('fs_omen', true);
-- VACUUM retrains a stale model too
INSERT INTO fs SELECT -g FROM generate_series(1, 5000) g;
SELECT splits_since_retrain > 0 AS stale FROM omen_index_stats('fs_omen');
SELECT retrains AS r0 FROM omen_index_stats('fs_omen') \gset
VACUUM fs;
SELECT splits_since_retrain, retrains > :r0 AS vacuum_refit FROM omen_index_stats('fs_omen');
SELECT omen_index_check('fs_omen', true);
-- retraining frees the old model's pages for reuse
SELECT omen_index_retrain('fs_omen', true);
SELECT omen_index_retrain('fs_omen', true);
SELECT pg_relation_size('fs_omen') AS sz \gset
SELECT omen_index_retrain('fs_omen', true);
VACUUM fs;
SELECT omen_index_retrain('fs_omen', true);
SELECT pg_relation_size('fs_omen') = :sz AS no_growth_from_retrains;

-- amvalidate accepts every shipped operator class
SELECT opc.opcname, amvalidate(opc.oid)
FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
WHERE am.amname = 'omen' ORDER BY 1;
-- and catches a broken family
CREATE OPERATOR FAMILY broken_ops USING omen;
CREATE OPERATOR CLASS broken_int8_ops FOR TYPE int8 USING omen FAMILY broken_ops AS
    OPERATOR 1 <, OPERATOR 3 =;
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'broken_int8_ops';
DROP OPERATOR FAMILY broken_ops USING omen;
-- and a cross-type pair whose comparison is not monotone in the key
CREATE OPERATOR FAMILY gap_ops USING omen;
CREATE OPERATOR CLASS gap_timestamp_ops FOR TYPE timestamp USING omen FAMILY gap_ops AS
    OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
    FUNCTION 1 (timestamp, timestamp) timestamp_cmp(timestamp, timestamp),
    OPERATOR 1 < (timestamp, timestamptz), OPERATOR 2 <= (timestamp, timestamptz),
    OPERATOR 3 = (timestamp, timestamptz), OPERATOR 4 >= (timestamp, timestamptz),
    OPERATOR 5 > (timestamp, timestamptz),
    FUNCTION 1 (timestamp, timestamptz) timestamp_cmp_timestamptz(timestamp, timestamptz);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'gap_timestamp_ops';
-- an index of that class refuses such a qual rather than answer it wrongly
CREATE TABLE gap (ts timestamp);
INSERT INTO gap VALUES ('2021-03-14 02:30'), ('2021-03-14 03:10');
CREATE INDEX gap_omen ON gap USING omen (ts gap_timestamp_ops);
SET enable_seqscan = off;
SELECT ts FROM gap WHERE ts < '2021-03-14 07:05+00'::timestamptz;
RESET enable_seqscan;
DROP TABLE gap;
DROP OPERATOR FAMILY gap_ops USING omen;

-- the access method's properties, as btree's
SELECT a.prop, pg_indexam_has_property(am.oid, a.prop)
FROM pg_am am, unnest(ARRAY['can_order', 'can_unique', 'can_multi_col', 'can_exclude', 'can_include']) a(prop)
WHERE am.amname = 'omen';
SELECT a.prop, pg_index_has_property('fs_omen'::regclass, a.prop)
FROM unnest(ARRAY['clusterable', 'index_scan', 'bitmap_scan', 'backward_scan']) a(prop);


-- the GUCs: the background retrain's, and the heap prefetch of plain index scans
SELECT name, setting, unit, context, vartype, min_val, max_val
FROM pg_settings WHERE name LIKE 'omen.%' ORDER BY name;
SET omen.retrain_threshold = 0.2;
SHOW omen.retrain_threshold;
RESET omen.retrain_threshold;
SET omen.retrain_threshold = 0;
SET omen.retrain_naptime = 5;
SET omen.enable_retrain = off;
SET omen.no_such_setting = 1;
