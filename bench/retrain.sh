#!/usr/bin/env bash
# Incremental retrain cost against index size, same run: a 1M-row and a
# 10M-row omen index (built with fillfactor 100), 10k random inserts into
# each that split about the same number of leaves (all 1M-row leaves; the
# first tenth of the 10M-row keys), then omen_index_retrain() on each, then
# a full refit of each for comparison.  Rounds alternate; times from psql.
#
#   bench/retrain.sh [ROUNDS]       (default 3)
#
# Uses the server in the PG* environment variables; the background worker,
# if preloaded, must be off (omen.enable_retrain = off) so that it does not
# retrain first.
set -euo pipefail
rounds=${1:-3}
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION IF NOT EXISTS omen_index;
DROP TABLE IF EXISTS rt_1m, rt_10m;
CREATE TABLE rt_1m (k int8) WITH (autovacuum_enabled = off);
CREATE TABLE rt_10m (k int8) WITH (autovacuum_enabled = off);
INSERT INTO rt_1m SELECT g * 10 FROM generate_series(1, 1000000) g;
INSERT INTO rt_10m SELECT g FROM generate_series(1, 10000000) g;
CREATE INDEX rt_1m_o ON rt_1m USING omen (k) WITH (fillfactor = 100);
CREATE INDEX rt_10m_o ON rt_10m USING omen (k) WITH (fillfactor = 100);
SQL
echo "round | index | leaves | splits | leaves read | incremental ms | full ms"
for r in $(seq 1 "$rounds"); do
    out=$(psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
REINDEX INDEX rt_1m_o;
REINDEX INDEX rt_10m_o;
INSERT INTO rt_1m SELECT (random() * 10000000)::int8 FROM generate_series(1, 10000);
INSERT INTO rt_10m SELECT (random() * 1000000)::int8 FROM generate_series(1, 10000);
\t on
\a
SELECT 'splits', leaf_pages, splits_since_retrain FROM omen_index_stats('rt_1m_o');
SELECT 'splits', leaf_pages, splits_since_retrain FROM omen_index_stats('rt_10m_o');
\timing on
SELECT omen_index_retrain('rt_1m_o');
SELECT omen_index_retrain('rt_10m_o');
\timing off
SELECT 'read', last_retrain_leaves FROM omen_index_stats('rt_1m_o');
SELECT 'read', last_retrain_leaves FROM omen_index_stats('rt_10m_o');
\timing on
SELECT omen_index_retrain('rt_1m_o', true);
SELECT omen_index_retrain('rt_10m_o', true);
SQL
)
    mapfile -t splits < <(grep '^splits' <<<"$out")
    mapfile -t reads < <(grep '^read' <<<"$out" | cut -d'|' -f2)
    mapfile -t times < <(grep '^Time' <<<"$out" | awk '{print $2}')
    for i in 0 1; do
        name=$([ $i = 0 ] && echo 1M || echo 10M)
        leaves=$(cut -d'|' -f2 <<<"${splits[$i]}")
        nsplit=$(cut -d'|' -f3 <<<"${splits[$i]}")
        echo "$r | $name | $leaves | $nsplit | ${reads[$i]} | ${times[$i]} | ${times[$((i + 2))]}"
    done
done
