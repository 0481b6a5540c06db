-- The leaf format: pending entries, merges, widening rewrites and splits
-- that change a leaf's encoding, each answered against a sequential scan.

-- 1. Pending entries.  Leaves built at fillfactor 60 take random inserts
-- without splitting; the inserts land in the pending areas, between and
-- beside sorted entries with the same keys.
CREATE TABLE lp (k int8, pad int);
INSERT INTO lp SELECT (g / 3) * 10, g FROM generate_series(1, 30000) g;
CREATE INDEX lp_omen ON lp USING omen (k) WITH (fillfactor = 60);
SELECT leaf_pages AS leaves0 FROM omen_index_stats('lp_omen') \gset
INSERT INTO lp SELECT (hashint4(g) & 65535) * 2, -g FROM generate_series(1, 600) g;
INSERT INTO lp SELECT 500, -g FROM generate_series(1, 20) g;   -- a key with sorted entries
SELECT splits_since_retrain AS splits, leaf_pages = :leaves0 AS same_leaves
FROM omen_index_stats('lp_omen');
SELECT count(*) FILTER (WHERE pending > 0) > 10 AS leaves_with_pending,
       max(pending) <= 64 AS pending_bounded, sum(entries) = 30620 AS all_entries
FROM omen_index_leaves('lp_omen');
SELECT omen_index_check('lp_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lp WHERE k = 500',
    'SELECT k, pad FROM lp WHERE k = 502',
    'SELECT k, pad FROM lp WHERE k BETWEEN 400 AND 1000',
    'SELECT k, pad FROM lp WHERE k > 99000',
    'SELECT k, pad FROM lp WHERE k < 100',
    'SELECT k, pad FROM lp WHERE k = ANY(''{0, 2, 500, 502, 131070, 99990, 4}'')',
    'SELECT count(*) FROM lp WHERE k >= 0']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM lp ORDER BY k',
    'SELECT k FROM lp ORDER BY k DESC',
    'SELECT k FROM lp WHERE k BETWEEN 1000 AND 3000 ORDER BY k DESC',
    'SELECT k FROM lp WHERE k = ANY(''{500, 502, 1000, 131070}'') ORDER BY k DESC'], true);

-- 2. Merges.  Many inserts into one leaf's range fill its pending area
-- over and over; each full area merges into the sorted entries.
SELECT blkno AS b, low_key AS lo, entries AS e0 FROM omen_index_leaves('lp_omen')
WHERE tree = 'keys' AND low_key IS NOT NULL ORDER BY low_key LIMIT 1 OFFSET 5 \gset
INSERT INTO lp SELECT :lo + (hashint4(g) & 255), -g FROM generate_series(1, 300) g;
SELECT entries - :e0 AS added, pending < 64 AS merged FROM omen_index_leaves('lp_omen')
WHERE blkno = :b;
SELECT leaf_pages = :leaves0 AS same_leaves FROM omen_index_stats('lp_omen');
SELECT omen_index_check('lp_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lp WHERE k BETWEEN ' || :lo || ' AND ' || :lo + 300,
    'SELECT k, pad FROM lp WHERE k = ' || :lo + 10,
    'SELECT k FROM lp WHERE k BETWEEN ' || :lo - 10 || ' AND ' || :lo + 256 || ' ORDER BY k DESC']);

-- VACUUM merges what is pending while it removes dead entries
DELETE FROM lp WHERE pad % 7 = 0;
VACUUM lp;
SELECT sum(pending) AS pending_after_vacuum FROM omen_index_leaves('lp_omen');
SELECT omen_index_check('lp_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lp WHERE k BETWEEN 0 AND 50000',
    'SELECT k FROM lp ORDER BY k DESC LIMIT 50']);

-- 3. Widening.  A leaf stores keys and heap pointers relative to its
-- least ones, in as few bytes as they need.  An entry outside that range
-- waits in the pending area, whole; when a merge finds more than 48 such
-- far entries, the leaf is rewritten with wider fields.
CREATE TABLE lw (k int8, pad int);
INSERT INTO lw SELECT g, 0 FROM generate_series(1, 2000) g;
CREATE INDEX lw_omen ON lw USING omen (k);
SELECT key_width, tid_width, count(*) FROM omen_index_leaves('lw_omen') WHERE tree = 'keys' GROUP BY 1, 2;
-- the first and the last leaf get keys 2^63 away
INSERT INTO lw VALUES (-9223372036854775808, 1), (9223372036854775807, 1), (0, 1);
-- far heap pointers: the heap grows by 300,000 rows of other keys first
INSERT INTO lw SELECT 10000000 + g, 2 FROM generate_series(1, 300000) g;
INSERT INTO lw SELECT g, 3 FROM generate_series(1, 2000, 97) g;
SELECT low_key IS NULL AS leftmost, high_key IS NULL AS rightmost, pending, key_width, tid_width
FROM omen_index_leaves('lw_omen') WHERE tree = 'keys' AND (low_key IS NULL OR low_key < 2000)
ORDER BY low_key NULLS FIRST;
-- more far heap pointers than the pending areas keep
INSERT INTO lw SELECT g, 4 FROM generate_series(1, 2000, 17) g;
SELECT low_key IS NULL AS leftmost, high_key IS NULL AS rightmost, pending, key_width, tid_width
FROM omen_index_leaves('lw_omen') WHERE tree = 'keys' AND (low_key IS NULL OR low_key < 2000)
ORDER BY low_key NULLS FIRST;
SELECT omen_index_check('lw_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lw WHERE k < 100',
    'SELECT k, pad FROM lw WHERE k = 98',
    'SELECT k, pad FROM lw WHERE k > 10299990',
    'SELECT k, pad FROM lw WHERE k IN (-9223372036854775808, 0, 1, 9223372036854775807)']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM lw WHERE k < 3000 ORDER BY k',
    'SELECT k FROM lw WHERE k < 3000 ORDER BY k DESC'], true);

-- 4. Splits that change the encoding.  A leaf packed with nearby keys (two
-- bytes a key) meets keys far away, inside its fences and beyond them.
-- The keys are distinct, so the leaves are PLAIN (RUNS leaves: runs.sql).
CREATE TABLE ls (k int8, pad int);
INSERT INTO ls SELECT g, g FROM generate_series(1, 6000) g;
INSERT INTO ls SELECT 4000000000000000000, g FROM generate_series(1, 10) g;
CREATE INDEX ls_omen ON ls USING omen (k) WITH (fillfactor = 100);
SELECT leaf_pages AS leaves0 FROM omen_index_stats('ls_omen') \gset
INSERT INTO ls SELECT 3000000000000000000 + g, -g FROM generate_series(1, 50) g;
INSERT INTO ls SELECT 5, -g FROM generate_series(1, 50) g;
INSERT INTO ls SELECT -3000000000000000000 - g, -g FROM generate_series(1, 50) g;
SELECT :leaves0 AS built, leaf_pages - :leaves0 AS new_leaves FROM omen_index_stats('ls_omen');
-- the full leaves split; far entries stay pending in the halves, whose
-- old entries keep 2-byte keys
SELECT entries, pending, key_width, tid_width FROM omen_index_leaves('ls_omen') WHERE tree = 'keys';
SELECT omen_index_check('ls_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM ls WHERE k = 5',
    'SELECT k, pad FROM ls WHERE k > 5',
    'SELECT k, pad FROM ls WHERE k < 5',
    'SELECT k, pad FROM ls WHERE k BETWEEN 3000000000000000010 AND 4000000000000000000']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM ls ORDER BY k',
    'SELECT k FROM ls ORDER BY k DESC'], true);

-- 5. NULL entries out of heap order: rows that refill a vacuumed heap get
-- low heap pointers, which land in the pending areas of the null tree.
CREATE TABLE ln (k int8, pad int);
INSERT INTO ln SELECT NULL, g FROM generate_series(1, 3000) g;
CREATE INDEX ln_omen ON ln USING omen (k) WITH (fillfactor = 50);
DELETE FROM ln WHERE pad % 3 = 0;
VACUUM ln;
INSERT INTO ln SELECT NULL, -g FROM generate_series(1, 500) g;
SELECT sum(pending) > 0 AS nulls_pending FROM omen_index_leaves('ln_omen') WHERE tree = 'nulls';
SELECT omen_index_check('ln_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT pad FROM ln WHERE k IS NULL',
    'SELECT count(*) FROM ln WHERE k IS NULL']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM ln ORDER BY k NULLS LAST',
    'SELECT k FROM ln ORDER BY k DESC NULLS FIRST'], true);

-- 6. Far entries.  Rows in key order give each leaf 2-byte heap pointers;
-- rows updated or inserted later land at the heap's end, beyond them.
-- They wait pending, whole, and merges and VACUUM keep them there, so 1%
-- of the rows updated does not split every leaf (it did when one such
-- row widened all of a leaf's fields, which then no longer fit its page).
CREATE TABLE lf (k int8, pad int) WITH (autovacuum_enabled = off);
INSERT INTO lf SELECT g, 0 FROM generate_series(1, 20000) g;
CREATE INDEX lf_omen ON lf USING omen (k);
SELECT leaf_pages AS leaves0 FROM omen_index_stats('lf_omen') \gset
SELECT min(tid_width) AS tid_width, max(tid_width) AS widest, max(pending) AS pending
FROM omen_index_leaves('lf_omen') WHERE tree = 'keys';
UPDATE lf SET pad = 1 WHERE k % 100 = 7;
VACUUM lf;
SELECT leaf_pages - :leaves0 AS new_leaves FROM omen_index_stats('lf_omen');
SELECT max(tid_width) AS widest, sum(pending) > 150 AS updated_rows_pending
FROM omen_index_leaves('lf_omen') WHERE tree = 'keys';
-- the first leaf: 40 late rows, then rows into the heap pages VACUUM
-- freed next to its own (its fields hold them), until its pending area
-- is full and merges: the late rows stay pending
SELECT high_key AS first_high FROM omen_index_leaves('lf_omen') WHERE low_key IS NULL AND tree = 'keys' \gset
INSERT INTO lf SELECT g * 20, 2 FROM generate_series(1, 40) g;
DELETE FROM lf WHERE k BETWEEN :first_high AND :first_high + 700;
VACUUM lf;
INSERT INTO lf SELECT 1000 + g, 3 FROM generate_series(1, 60) g;
SELECT pending >= 40 AS late_rows_pending, entries > 1900 AS merged, tid_width
FROM omen_index_leaves('lf_omen') WHERE low_key IS NULL AND tree = 'keys';
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lf WHERE k = 20',
    'SELECT k, pad FROM lf WHERE k = 1007',
    'SELECT k, pad FROM lf WHERE k < 1500',
    'SELECT k, pad FROM lf WHERE k BETWEEN 5000 AND 5400',
    'SELECT k, pad FROM lf WHERE k IN (7, 20, 1001, 19907, 20000)']);
-- more late rows than a pending area keeps: those leaves widen or split
UPDATE lf SET pad = 4 WHERE k % 10 = 3;
SELECT leaf_pages > :leaves0 AS split, max(tid_width) > 2 AS widened, max(pending) <= 64 AS bounded
FROM omen_index_stats('lf_omen'), omen_index_leaves('lf_omen') GROUP BY leaf_pages;
VACUUM lf;
SELECT omen_index_check('lf_omen', true);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k, pad FROM lf WHERE k = 13',
    'SELECT k, pad FROM lf WHERE k BETWEEN 100 AND 9000',
    'SELECT k, pad FROM lf WHERE pad = 4 AND k < 3000']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT k FROM lf ORDER BY k',
    'SELECT k FROM lf WHERE k > 15000 ORDER BY k DESC'], true);

DROP TABLE lp, lw, ls, ln, lf;
