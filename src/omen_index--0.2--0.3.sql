-- omen_index 0.2 -> 0.3: cross-type operators between the time types, as
-- btree's datetime_ops has them, so that "ts >= current_date - 7" is an
-- index condition.  No change on disk.  A fresh install of 0.3 runs the
-- 0.2 script, then this one: the operators are declared here only.
--
-- Each class keeps the family of its own name (as since 0.1), holding the
-- pairs whose left type is its own.  Left out: timestamp against
-- timestamptz, whose comparison is not monotone in the timestamp (a local
-- time in a daylight-saving gap converts to an instant after the gap's end).
\echo Use "ALTER EXTENSION omen_index UPDATE TO '0.3'" to load this file. \quit

ALTER OPERATOR FAMILY date_ops USING omen ADD
    OPERATOR 1 < (date, timestamp),
    OPERATOR 2 <= (date, timestamp),
    OPERATOR 3 = (date, timestamp),
    OPERATOR 4 >= (date, timestamp),
    OPERATOR 5 > (date, timestamp),
    FUNCTION 1 (date, timestamp) date_cmp_timestamp(date, timestamp),
    OPERATOR 1 < (date, timestamptz),
    OPERATOR 2 <= (date, timestamptz),
    OPERATOR 3 = (date, timestamptz),
    OPERATOR 4 >= (date, timestamptz),
    OPERATOR 5 > (date, timestamptz),
    FUNCTION 1 (date, timestamptz) date_cmp_timestamptz(date, timestamptz);

ALTER OPERATOR FAMILY timestamp_ops USING omen ADD
    OPERATOR 1 < (timestamp, date),
    OPERATOR 2 <= (timestamp, date),
    OPERATOR 3 = (timestamp, date),
    OPERATOR 4 >= (timestamp, date),
    OPERATOR 5 > (timestamp, date),
    FUNCTION 1 (timestamp, date) timestamp_cmp_date(timestamp, date);

ALTER OPERATOR FAMILY timestamptz_ops USING omen ADD
    OPERATOR 1 < (timestamptz, date),
    OPERATOR 2 <= (timestamptz, date),
    OPERATOR 3 = (timestamptz, date),
    OPERATOR 4 >= (timestamptz, date),
    OPERATOR 5 > (timestamptz, date),
    FUNCTION 1 (timestamptz, date) timestamptz_cmp_date(timestamptz, date),
    OPERATOR 1 < (timestamptz, timestamp),
    OPERATOR 2 <= (timestamptz, timestamp),
    OPERATOR 3 = (timestamptz, timestamp),
    OPERATOR 4 >= (timestamptz, timestamp),
    OPERATOR 5 > (timestamptz, timestamp),
    FUNCTION 1 (timestamptz, timestamp) timestamptz_cmp_timestamp(timestamptz, timestamp);
