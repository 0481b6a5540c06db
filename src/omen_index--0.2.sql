/* omen_index 0.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION omen_index" to load this file. \quit

CREATE FUNCTION omen_handler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD omen TYPE INDEX HANDLER omen_handler;
COMMENT ON ACCESS METHOD omen IS 'learned index: a piecewise-linear model predicts the leaf';

-- Integers: one family, cross-type operators in every direction, so that
-- "k = 5" (int8 = int4) and "k < 5::int2" are index conditions.
CREATE OPERATOR FAMILY integer_ops USING omen;

CREATE OPERATOR CLASS int8_ops
    DEFAULT FOR TYPE int8 USING omen FAMILY integer_ops AS
        OPERATOR 1 < ,
        OPERATOR 2 <= ,
        OPERATOR 3 = ,
        OPERATOR 4 >= ,
        OPERATOR 5 > ,
        FUNCTION 1 (int8, int8) btint8cmp(int8, int8);

CREATE OPERATOR CLASS int4_ops
    DEFAULT FOR TYPE int4 USING omen FAMILY integer_ops AS
        OPERATOR 1 < ,
        OPERATOR 2 <= ,
        OPERATOR 3 = ,
        OPERATOR 4 >= ,
        OPERATOR 5 > ,
        FUNCTION 1 (int4, int4) btint4cmp(int4, int4);

CREATE OPERATOR CLASS int2_ops
    DEFAULT FOR TYPE int2 USING omen FAMILY integer_ops AS
        OPERATOR 1 < ,
        OPERATOR 2 <= ,
        OPERATOR 3 = ,
        OPERATOR 4 >= ,
        OPERATOR 5 > ,
        FUNCTION 1 (int2, int2) btint2cmp(int2, int2);

ALTER OPERATOR FAMILY integer_ops USING omen ADD
    OPERATOR 1 < (int8, int4),
    OPERATOR 2 <= (int8, int4),
    OPERATOR 3 = (int8, int4),
    OPERATOR 4 >= (int8, int4),
    OPERATOR 5 > (int8, int4),
    FUNCTION 1 (int8, int4) btint84cmp(int8, int4);
ALTER OPERATOR FAMILY integer_ops USING omen ADD
    OPERATOR 1 < (int8, int2),
    OPERATOR 2 <= (int8, int2),
    OPERATOR 3 = (int8, int2),
    OPERATOR 4 >= (int8, int2),
    OPERATOR 5 > (int8, int2),
    FUNCTION 1 (int8, int2) btint82cmp(int8, int2);
ALTER OPERATOR FAMILY integer_ops USING omen ADD
    OPERATOR 1 < (int4, int8),
    OPERATOR 2 <= (int4, int8),
    OPERATOR 3 = (int4, int8),
    OPERATOR 4 >= (int4, int8),
    OPERATOR 5 > (int4, int8),
    FUNCTION 1 (int4, int8) btint48cmp(int4, int8);
ALTER OPERATOR FAMILY integer_ops USING omen ADD
    OPERATOR 1 < (int4, int2),
    OPERATOR 2 <= (int4, int2),
    OPERATOR 3 = (int4, int2),
    OPERATOR 4 >= (int4, int2),
    OPERATOR 5 > (int4, int2),
    FUNCTION 1 (int4, int2) btint42cmp(int4, int2);
ALTER OPERATOR FAMILY integer_ops USING omen ADD
    OPERATOR 1 < (int2, int8),
    OPERATOR 2 <= (int2, int8),
    OPERATOR 3 = (int2, int8),
    OPERATOR 4 >= (int2, int8),
    OPERATOR 5 > (int2, int8),
    FUNCTION 1 (int2, int8) btint28cmp(int2, int8);
ALTER OPERATOR FAMILY integer_ops USING omen ADD
    OPERATOR 1 < (int2, int4),
    OPERATOR 2 <= (int2, int4),
    OPERATOR 3 = (int2, int4),
    OPERATOR 4 >= (int2, int4),
    OPERATOR 5 > (int2, int4),
    FUNCTION 1 (int2, int4) btint24cmp(int2, int4);

-- Time types: int64 (timestamps) and int32 (dates) inside.
CREATE OPERATOR CLASS date_ops
    DEFAULT FOR TYPE date USING omen AS
        OPERATOR 1 < ,
        OPERATOR 2 <= ,
        OPERATOR 3 = ,
        OPERATOR 4 >= ,
        OPERATOR 5 > ,
        FUNCTION 1 (date, date) date_cmp(date, date);

CREATE OPERATOR CLASS timestamp_ops
    DEFAULT FOR TYPE timestamp USING omen AS
        OPERATOR 1 < ,
        OPERATOR 2 <= ,
        OPERATOR 3 = ,
        OPERATOR 4 >= ,
        OPERATOR 5 > ,
        FUNCTION 1 (timestamp, timestamp) timestamp_cmp(timestamp, timestamp);

CREATE OPERATOR CLASS timestamptz_ops
    DEFAULT FOR TYPE timestamptz USING omen AS
        OPERATOR 1 < ,
        OPERATOR 2 <= ,
        OPERATOR 3 = ,
        OPERATOR 4 >= ,
        OPERATOR 5 > ,
        FUNCTION 1 (timestamptz, timestamptz) timestamptz_cmp(timestamptz, timestamptz);

-- Functions

CREATE FUNCTION omen_index_stats(
    index regclass,
    OUT entries bigint,
    OUT leaf_pages bigint,
    OUT model_segments int,
    OUT epsilon int,
    OUT max_error int,
    OUT mean_error float8,
    OUT model_version bigint,
    OUT splits_since_retrain bigint,
    OUT retrains bigint,
    OUT last_retrain timestamptz,
    OUT index_bytes bigint,
    OUT fillfactor int,
    OUT null_entries bigint,
    OUT drift float8,
    OUT model_pieces int,
    OUT model_leaves bigint,
    OUT last_retrain_leaves bigint)
RETURNS record
AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION omen_index_check(index regclass, heapallindexed bool DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION omen_index_retrain(index regclass, full_refit bool DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Like amcheck's functions, the check is not for everyone.
REVOKE ALL ON FUNCTION omen_index_check(regclass, bool) FROM PUBLIC;

-- One row per leaf, in key order (the key tree, then the null tree): how
-- the leaf stores its entries and how many are pending.  Reads every leaf.
CREATE FUNCTION omen_index_leaves(index regclass,
    OUT blkno bigint, OUT tree text, OUT entries int, OUT pending int,
    OUT key_width int, OUT tid_width int, OUT free_bytes int,
    OUT low_key bigint, OUT high_key bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION omen_index_leaves(regclass) FROM PUBLIC;
