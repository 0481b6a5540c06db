#!/usr/bin/env bash
# How fast the background worker brings the model back after a burst of
# random inserts: a 5M-row table (keys g * 10), an omen index, one INSERT
# of 1M random keys, then every 10 s for 60 s the index buffers per
# equality probe of an index-only nested loop over 10,000 random existing
# keys (heap fetches, if any, included), with the index's drift and retrains.
#
#   bench/freshness.sh [ROWS] [INSERTS]     (default 5000000 1000000)
#
# Uses the server in the PG* environment variables, which must have
# omen_index in shared_preload_libraries.
set -euo pipefail
rows=${1:-5000000}
inserts=${2:-1000000}
psql=(psql -X -q -v ON_ERROR_STOP=1 -At)
"${psql[@]}" <<SQL
CREATE EXTENSION IF NOT EXISTS omen_index;
DROP TABLE IF EXISTS fr_t, fr_probes;
CREATE TABLE fr_t (k int8) WITH (autovacuum_enabled = off);
INSERT INTO fr_t SELECT g * 10 FROM generate_series(1, $rows) g;
CREATE INDEX fr_omen ON fr_t USING omen (k);
VACUUM (FREEZE, ANALYZE) fr_t;
CREATE TABLE fr_probes AS SELECT ((hashint8(i) & 2147483647) % $rows + 1) * 10 AS k FROM generate_series(1, 10000) i;
ANALYZE fr_probes;
SQL
echo "workers: $("${psql[@]}" -c "SELECT string_agg(backend_type, ', ') FROM pg_stat_activity WHERE backend_type LIKE 'omen%'")"
now() { perl -MTime::HiRes=time -e 'printf "%.3f", time'; }
t0=$(now)
"${psql[@]}" -c "INSERT INTO fr_t SELECT (random() * $rows * 10)::int8 FROM generate_series(1, $inserts)"
t1=$(now)
echo "INSERT of $inserts random keys: $(perl -e "printf '%.1f', $t1 - $t0") s"
probe() {
    "${psql[@]}" -c "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_hashjoin = off;
        SET enable_mergejoin = off; SET enable_material = off; SET enable_memoize = off; SET jit = off;
        EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) SELECT count(*) FROM fr_probes p JOIN fr_t t ON t.k = p.k" |
    perl -MJSON::PP -0777 -ne '
        my $p = decode_json($_)->[0]{Plan}; my @s = ($p);
        while (my $n = shift @s) { if (($n->{"Index Name"} // "") eq "fr_omen") {
            my $b = $n->{"Shared Hit Blocks"} + $n->{"Shared Read Blocks"};
            printf "%.3f index buffers per probe (%.3f with the %d heap fetches of rows not yet all-visible, %d probes)",
                ($b - $n->{"Heap Fetches"}) / $n->{"Actual Loops"}, $b / $n->{"Actual Loops"}, $n->{"Heap Fetches"},
                $n->{"Actual Loops"}; exit } push @s, @{ $n->{Plans} // [] } }'
}
for t in 0 10 20 30 40 50 60; do
    wait=$(perl -e "printf '%.3f', $t1 + $t - $(now)")
    perl -e "exit !($wait > 0)" && sleep "$wait"
    stats=$("${psql[@]}" -c "SELECT 'drift ' || round(drift::numeric, 4) || ', retrains ' || retrains || ', leaves ' || leaf_pages || ', model leaves ' || model_leaves FROM omen_index_stats('fr_omen')")
    echo "t+${t}s: $(probe); $stats"
done
"${psql[@]}" -c "DROP TABLE fr_t, fr_probes"
