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

-- cross-type comparisons between the time types: a date is a whole day of
-- timestamps, and where it begins in timestamptz depends on TimeZone; the
-- values sit at daylight-saving changes (New York 2021; Apia skipped
-- 2011-12-30, so two dates begin at one instant), at midnights and a
-- microsecond either side, at the infinities, and beyond the timestamp
-- range (dates up to 5874897 AD)
SET TimeZone = 'UTC';
CREATE TABLE tc (d date, ts timestamp, tz timestamptz);
INSERT INTO tc SELECT t::date, t, t AT TIME ZONE z
FROM unnest(ARRAY['America/New_York', 'Pacific/Apia']) z,
     unnest(ARRAY['2011-12-28'::timestamp, '2021-03-12', '2021-11-05']) s,
     generate_series(s, s + interval '5 days', interval '37 minutes') t;
INSERT INTO tc SELECT b + i, b + i, (b + i)::timestamp AT TIME ZONE z
FROM unnest(ARRAY['America/New_York', 'Pacific/Apia', 'UTC']) z,
     unnest(ARRAY['2011-12-27', '2021-03-11', '2021-11-04']::date[]) b, generate_series(0, 7) i;
INSERT INTO tc SELECT d, ts, tz FROM generate_series(1, 30),
    (VALUES ('infinity'::date, 'infinity'::timestamp, 'infinity'::timestamptz),
            ('-infinity', '-infinity', '-infinity'),
            ('4713-01-01 BC', '4713-01-01 00:00 BC', '4713-01-01 00:00+00 BC'),
            ('294276-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00'),
            ('294277-01-01', '2021-03-14 02:30', '2021-03-14 06:59:59.999999+00'),
            ('5874897-12-31', '2021-03-13 23:59:59.999999', '2021-03-14 05:00:00.000001+00'),
            ('2021-03-14', '2021-03-14 00:00:00.000001', '2011-12-30 10:00+00'),
            ('4714-11-24 BC', '4714-11-24 00:00 BC', '4714-11-24 00:00+00 BC'),
            ('2021-03-13', '2021-03-14 03:00', '2021-03-14 07:15+00'),
            ('2021-03-15', '2021-03-14 01:59:59.999999', '2021-03-14 07:00+00'),
            (NULL, NULL, NULL)) v(d, ts, tz);
CREATE INDEX tc_d ON tc USING omen (d);
CREATE INDEX tc_ts ON tc USING omen (ts);
CREATE INDEX tc_tz ON tc USING omen (tz);
VACUUM ANALYZE tc;
-- the arguments each column is compared with, as SQL
CREATE TABLE tc_args (col text, arg text);
INSERT INTO tc_args SELECT c, quote_literal(a) || '::date' FROM unnest(ARRAY['ts', 'tz']) c,
    unnest(ARRAY['infinity', '-infinity', '4714-11-24 BC', '4713-01-01 BC', '2011-12-30', '2011-12-31', '2021-03-14',
                 '2021-11-07', '294276-12-31', '294277-01-01', '5874897-12-31']) a;
INSERT INTO tc_args SELECT c, quote_literal(a) || '::timestamp' FROM unnest(ARRAY['d', 'tz']) c,
    unnest(ARRAY['infinity', '-infinity', '4714-11-24 00:00 BC', '4713-01-01 00:00 BC', '2021-03-14 00:00',
                 '2021-03-13 23:59:59.999999', '2021-03-14 00:00:00.000001', '2021-03-14 02:30',
                 '2011-12-30 00:00', '294276-12-31 23:59:59.999999']) a;
INSERT INTO tc_args SELECT 'd', quote_literal(a) || '::timestamptz' FROM
    unnest(ARRAY['infinity', '-infinity', '4714-11-24 00:00+00 BC', '4713-01-01 00:00+00 BC', '2021-03-14 05:00+00',
                 '2021-03-14 04:59:59.999999+00', '2021-03-14 05:00:00.000001+00', '2021-03-14 00:00+00',
                 '2011-12-30 10:00+00', '2011-12-29 10:00+00', '2011-12-31 10:00+00',
                 '294276-12-31 23:59:59.999999+00']) a;
CREATE FUNCTION cross_type_report() RETURNS TABLE (checked int, failed int, first_failure text)
LANGUAGE sql AS $f$
SELECT * FROM oracle_report(ARRAY(
    SELECT format('SELECT %s FROM tc WHERE %s %s %s', col, col, op, arg)
    FROM tc_args, unnest(ARRAY['=', '<', '<=', '>', '>=']) op
    UNION ALL
    SELECT format('SELECT %s FROM tc WHERE %s %s %s', col, arg, op, col)
    FROM tc_args, unnest(ARRAY['=', '<', '<=', '>', '>=']) op
    UNION ALL
    SELECT unnest(ARRAY[
        $$SELECT ts FROM tc WHERE ts = ANY(ARRAY['2021-03-14', '2011-12-30', 'infinity', NULL, '294277-01-01']::date[])$$,
        $$SELECT d FROM tc WHERE d = ANY(ARRAY['2021-03-14 05:00+00', '2011-12-30 10:00+00', '2021-03-14 04:00+00', '-infinity']::timestamptz[])$$,
        $$SELECT d FROM tc WHERE d IN ('2011-12-30 00:00'::timestamp, '2011-12-31 00:00', '2011-12-31 00:00:01')$$,
        $$SELECT tz FROM tc WHERE tz = ANY(ARRAY['2021-03-14', '2011-12-31']::date[]) AND tz = ANY(ARRAY['2011-12-31', '2021-11-07']::date[])$$,
        $$SELECT tz FROM tc WHERE tz = ANY(ARRAY['2021-03-14', '2011-12-31']::date[]) AND tz = ANY(ARRAY['2021-03-14 05:00+00', '2011-12-30 10:00+00']::timestamptz[])$$,
        $$SELECT tz FROM tc WHERE tz < ANY(ARRAY['2021-03-14 02:30', '2011-12-30']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz = ANY(ARRAY['2021-03-14 02:15', '2021-03-14 03:00', '2021-03-14 01:59:59.999999', '2021-03-14 02:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz < ANY(ARRAY['2021-03-14 02:30', '2021-03-14 03:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz <= ANY(ARRAY['2021-03-14 02:30', '2021-03-14 03:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz > ANY(ARRAY['2021-03-14 02:30', '2021-03-14 03:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz >= ANY(ARRAY['2021-03-14 02:30', '2021-03-14 03:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz = ANY(ARRAY['2011-12-30 12:00', '2011-12-31 00:00', '2011-12-30 00:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz < ANY(ARRAY['2011-12-30 12:00', '2011-12-31 00:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz > ANY(ARRAY['2011-12-30 12:00', '2011-12-31 00:00']::timestamp[])$$,
        $$SELECT tz FROM tc WHERE tz = ANY(ARRAY['2021-03-14 02:30', '2021-03-14 03:00']::timestamp[]) AND tz = ANY(ARRAY['2021-03-14 07:30+00', '2021-03-14 07:00+00']::timestamptz[])$$,
        $$SELECT d FROM tc WHERE d > ANY(ARRAY['2021-03-14 02:30', '294276-12-31 23:59:59.999999']::timestamp[])$$,
        $$SELECT ts FROM tc WHERE ts >= '2021-03-14'::date AND ts < '2021-03-15'::date$$,
        $$SELECT tz FROM tc WHERE tz >= '2011-12-30'::date AND tz < '2011-12-31 12:00'::timestamp$$,
        $$SELECT d FROM tc WHERE d >= '2011-12-29 10:00+00'::timestamptz AND d <= '2011-12-31'::timestamp AND d <> '2011-12-30'$$,
        $$SELECT p.x, t.ts FROM (VALUES ('2021-03-14'::date), ('2011-12-31'), ('infinity'), ('-infinity')) p(x), LATERAL (SELECT ts FROM tc WHERE ts >= p.x AND ts < p.x + 1 OFFSET 0) t$$,
        $$SELECT p.x, t.d FROM (SELECT DISTINCT tz FROM tc) p(x), LATERAL (SELECT d FROM tc WHERE d = p.x OFFSET 0) t$$,
        $$SELECT p.a, p.b, t.d FROM (SELECT tz, ts FROM tc WHERE ts > '2021-03-13 20:00' AND ts < '2021-03-15') p(a, b), LATERAL (SELECT d FROM tc WHERE d >= p.a AND d <= p.b OFFSET 0) t$$])));
$f$;
-- the comparisons are index conditions, not filters over a whole scan
CREATE FUNCTION cross_type_filters() RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    q text;
BEGIN
    PERFORM set_scan_mode('index');
    FOR q IN SELECT format('SELECT %s FROM tc WHERE %s %s %s', col, col, op, arg)
             FROM tc_args, unnest(ARRAY['=', '<', '<=', '>', '>=']) op LOOP
        IF plan_of(q) !~ 'Index Cond' THEN
            RETURN NEXT q;
        END IF;
    END LOOP;
END
$f$;
SELECT count(*) AS filtered FROM cross_type_filters();
SELECT * FROM cross_type_report();
SET TimeZone = 'America/New_York';
SELECT * FROM cross_type_report();
SET TimeZone = 'Pacific/Apia';
SELECT * FROM cross_type_report();
RESET TimeZone;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT ts FROM tc WHERE ts >= current_date - 7;
EXPLAIN (COSTS OFF) SELECT d FROM tc WHERE now() > d;
-- timestamp against timestamptz is not in the families (not monotone)
EXPLAIN (COSTS OFF) SELECT ts FROM tc WHERE ts < now();
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT omen_index_check('tc_d', true), omen_index_check('tc_ts', true), omen_index_check('tc_tz', true);
-- an array of a domain: its elements are compared as the domain's base type
CREATE DOMAIN big_id AS int8;
SELECT * FROM oracle_report(ARRAY[
    'SELECT i8 FROM ti WHERE i8 = ANY(''{1000000000000,-9223372036854775808,7}''::big_id[])',
    'SELECT i8 FROM ti WHERE i8 < ANY(''{-4000000000000000,-4999000000000000}''::big_id[])']);

-- expression indexes: the key is the expression's int8 value
CREATE TABLE tx (v text);
INSERT INTO tx SELECT g::text FROM generate_series(1, 3000) g;
CREATE INDEX tx_len ON tx USING omen ((length(v)::int8 * 1000 + (v::int8 % 7)));
SELECT * FROM oracle_report(ARRAY['SELECT v FROM tx WHERE (length(v)::int8 * 1000 + (v::int8 % 7)) = 3005']);
SELECT omen_index_check('tx_len', true);
