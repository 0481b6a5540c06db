-- int2, int4 and int8 columns share one operator family with cross-type
-- operators in every direction; date, timestamp and timestamptz are int64
-- (or int32) inside.
CREATE TABLE ti (i2 int2, i4 int4, i8 int8);
INSERT INTO ti SELECT g % 32767, g * 1000, g::int8 * 1000000000000 FROM generate_series(-5000, 5000) g;
INSERT INTO ti VALUES (32767, 2147483647, 9223372036854775807), (-32768, -2147483648, -9223372036854775808),
                      (NULL, NULL, NULL);
CREATE INDEX ti_i2 ON ti USING omen (i2);
CREATE INDEX ti_i4 ON ti USING omen (i4);
CREATE INDEX ti_i8 ON ti USING omen (i8);
VACUUM ANALYZE ti;

-- every operator, every pair of types, constants at and beyond the extremes
SELECT * FROM oracle_report(ARRAY(
    SELECT format('SELECT %s FROM ti WHERE %s %s %s', col, col, op, c)
    FROM unnest(ARRAY['i2', 'i4', 'i8']) col,
         unnest(ARRAY['=', '<', '<=', '>', '>=']) op,
         unnest(ARRAY['5::int2', '(-32768)::int2', '32767::int2', '1000::int4', '(-2147483648)::int4',
                      '2147483647::int4', '7000::int8', '5000000000000::int8',
                      '(-9223372036854775808)::int8', '9223372036854775807::int8']) c));
SELECT * FROM oracle_report(ARRAY[
    'SELECT i8 FROM ti WHERE i8 = 5',
    'SELECT i8 FROM ti WHERE i8 = ANY(''{1000000000000,2000000000000}''::int8[])',
    'SELECT i4 FROM ti WHERE i4 = ANY(''{1000,2000,7}''::int8[])',
    'SELECT i2 FROM ti WHERE i2 = ANY(''{1,2,3}''::int4[])',
    'SELECT i2 FROM ti WHERE i2 IN (1, 2, 70000)',
    'SELECT i4 FROM ti WHERE i4 BETWEEN -3000::int2 AND 3000000000::int8',
    'SELECT i2 FROM ti WHERE i2 IS NULL']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT i2 FROM ti ORDER BY i2 DESC LIMIT 5',
    'SELECT i4 FROM ti WHERE i4 < 0 ORDER BY i4',
    'SELECT i8 FROM ti WHERE i8 > 0::int2 ORDER BY i8 DESC'], true);
-- index-only scans rescanned for every outer row and returning 2- and
-- 4-byte keys: each rescan of a backward scan starts in the NULL tree
-- (DESC puts NULLs first) and goes on into the keys
SELECT * FROM oracle_report(ARRAY[
    'SELECT p.n, x.i2 FROM generate_series(1, 4) p(n), LATERAL (SELECT i2 FROM ti ORDER BY i2 DESC LIMIT p.n) x',
    'SELECT p.n, x.i4 FROM generate_series(1, 4) p(n), LATERAL (SELECT i4 FROM ti ORDER BY i4 LIMIT p.n * 3) x',
    'SELECT p.n, x.i2 FROM generate_series(-3, 3) p(n), LATERAL (SELECT i2 FROM ti WHERE i2 > p.n * 1000 ORDER BY i2 LIMIT 3) x'], true);
-- merge joins of 2- and 4-byte keys with duplicates on both sides: the
-- inner index-only scan is restored to its mark for every repeated key
CREATE TABLE tj AS SELECT i2, i4 FROM ti WHERE i2 % 7 = 0;
INSERT INTO tj SELECT i2, i4 FROM ti WHERE i2 % 49 = 0;
CREATE INDEX tj_i2 ON tj USING omen (i2);
CREATE INDEX tj_i4 ON tj USING omen (i4);
VACUUM ANALYZE tj;
SET enable_hashjoin = off;
SET enable_nestloop = off;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_sort = off;
SET enable_material = off;
EXPLAIN (COSTS OFF) SELECT count(*), sum(a.i2::int8 * b.i2), sum(b.i2), min(b.i2), max(b.i2) FROM tj a JOIN tj b ON a.i2 = b.i2;
SELECT count(*), sum(a.i2::int8 * b.i2), sum(b.i2), min(b.i2), max(b.i2) FROM tj a JOIN tj b ON a.i2 = b.i2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(a.i4::int8 * b.i4), sum(b.i4), min(b.i4), max(b.i4) FROM tj a JOIN tj b ON a.i4 = b.i4;
SELECT count(*), sum(a.i4::int8 * b.i4), sum(b.i4), min(b.i4), max(b.i4) FROM tj a JOIN tj b ON a.i4 = b.i4;
RESET ALL;
-- the same answered from the heap alone
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
SELECT count(*), sum(a.i2::int8 * b.i2), sum(b.i2), min(b.i2), max(b.i2) FROM tj a JOIN tj b ON a.i2 = b.i2;
SELECT count(*), sum(a.i4::int8 * b.i4), sum(b.i4), min(b.i4), max(b.i4) FROM tj a JOIN tj b ON a.i4 = b.i4;
RESET ALL;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT i8 FROM ti WHERE i8 = 5;
EXPLAIN (COSTS OFF) SELECT i8 FROM ti WHERE i8 < 5::int2;
EXPLAIN (COSTS OFF) SELECT i2 FROM ti WHERE i2 = ANY('{1,2}'::int4[]);
SELECT i2, i4 FROM ti WHERE i2 = 32767 OR i4 = -2147483648 ORDER BY i2;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT omen_index_check('ti_i2', true), omen_index_check('ti_i4', true), omen_index_check('ti_i8', true);

CREATE TABLE tt (d date, ts timestamp, tz timestamptz);
INSERT INTO tt
SELECT '2020-01-01'::date + (g % 3000), '2020-01-01'::timestamp + g * interval '17 minutes',
       '2020-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
FROM generate_series(1, 20000) g;
INSERT INTO tt VALUES ('infinity', 'infinity', 'infinity'), ('-infinity', '-infinity', '-infinity'),
                      ('4713-01-01 BC', '4713-01-01 BC', '4713-01-01 00:00:00+00 BC'), (NULL, NULL, NULL);
CREATE INDEX tt_d ON tt USING omen (d);
CREATE INDEX tt_ts ON tt USING omen (ts);
CREATE INDEX tt_tz ON tt USING omen (tz);
VACUUM ANALYZE tt;
SELECT * FROM oracle_report(ARRAY[
    'SELECT d FROM tt WHERE d = ''2021-03-04''',
    'SELECT d FROM tt WHERE d BETWEEN ''2020-06-01'' AND ''2020-06-30''',
    'SELECT d FROM tt WHERE d > ''2028-01-01''',
    'SELECT d FROM tt WHERE d = ''infinity''',
    'SELECT d FROM tt WHERE d < ''2000-01-01''',
    'SELECT ts FROM tt WHERE ts = ''2020-01-01 17:00''',
    'SELECT ts FROM tt WHERE ts >= ''2020-03-01'' AND ts < ''2020-03-02''',
    'SELECT ts FROM tt WHERE ts = ''-infinity''',
    'SELECT ts FROM tt WHERE ts > ''2100-01-01''',
    'SELECT tz FROM tt WHERE tz BETWEEN ''2020-01-01 01:00:00+00'' AND ''2020-01-01 01:00:10+00''',
    'SELECT tz FROM tt WHERE tz < ''2020-01-01 00:00:05+00''',
    'SELECT tz FROM tt WHERE tz IS NULL']);
SELECT * FROM oracle_report(ARRAY[
    'SELECT ts FROM tt ORDER BY ts DESC LIMIT 10',
    'SELECT tz FROM tt WHERE tz > ''2020-01-01 05:00:00+00'' ORDER BY tz LIMIT 100',
    'SELECT d FROM tt ORDER BY d'], true);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT max(ts), min(ts) FROM tt WHERE ts > '-infinity' AND ts < 'infinity';
SELECT d FROM tt WHERE d BETWEEN '2020-01-02' AND '2020-01-03' ORDER BY d DESC LIMIT 3;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT omen_index_check('tt_d', true), omen_index_check('tt_ts', true), omen_index_check('tt_tz', true);

-- expression indexes: the key is the expression's int8 value
CREATE TABLE tx (v text);
INSERT INTO tx SELECT g::text FROM generate_series(1, 3000) g;
CREATE INDEX tx_len ON tx USING omen ((length(v)::int8 * 1000 + (v::int8 % 7)));
SELECT * FROM oracle_report(ARRAY['SELECT v FROM tx WHERE (length(v)::int8 * 1000 + (v::int8 % 7)) = 3005']);
SELECT omen_index_check('tx_len', true);
