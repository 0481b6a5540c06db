-- omen_index 0.1 -> 0.2: drift and model columns in omen_index_stats, a
-- full_refit argument to omen_index_retrain, and omen_index_leaves.
--
-- The on-disk format changed too (leaf format 3, the model in pieces with
-- a split log): indexes built by 0.1 are refused with an ERROR that asks
-- for REINDEX when they are opened, never misread.
\echo Use "ALTER EXTENSION omen_index UPDATE TO '0.2'" to load this file. \quit

DROP FUNCTION omen_index_stats(regclass);
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

DROP FUNCTION omen_index_retrain(regclass);
CREATE FUNCTION omen_index_retrain(index regclass, full_refit bool DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION omen_index_leaves(index regclass,
    OUT blkno bigint, OUT tree text, OUT entries int, OUT pending int,
    OUT key_width int, OUT tid_width int, OUT free_bytes int,
    OUT low_key bigint, OUT high_key bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION omen_index_leaves(regclass) FROM PUBLIC;
