#!/usr/bin/env bash
# Side-by-side figures of omen against btree on one table, in one run:
# CREATE INDEX time, index size, index buffers per equality probe and probe
# time through a nested loop.  Builds and probe runs alternate A/B/A/B and
# the medians are reported.
#
#   bench/compare.sh [ROWS] [RUNS]      (default 10000000 rows, 3 runs)
#
# Uses the server in the PG* environment variables (e.g. PGHOST, PGPORT,
# PGDATABASE); the omen_index extension must be installed there.
set -euo pipefail
rows=${1:-10000000}
runs=${2:-3}
nprobes=100000
psql=(psql -X -q -v ON_ERROR_STOP=1 -At)

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms_of() { "${psql[@]}" -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }

echo "# loading $rows rows (uniform keys with gaps, random heap order)" >&2
"${psql[@]}" <<SQL
CREATE EXTENSION IF NOT EXISTS omen_index;
DROP TABLE IF EXISTS bench_t, bench_probes;
CREATE TABLE bench_t (id int8, pad int4);
INSERT INTO bench_t SELECT g * 10 + (hashint8(g) & 7), 0 FROM generate_series(1, $rows) g ORDER BY hashint8(g * 31);
CREATE TABLE bench_probes AS SELECT id FROM bench_t TABLESAMPLE BERNOULLI (100.0 * $nprobes / $rows) REPEATABLE (42) ORDER BY hashint8(id);
VACUUM ANALYZE bench_t;
ANALYZE bench_probes;
SQL

# btree builds in parallel (max_parallel_maintenance_workers, default 2);
# omen's build is serial, so btree is also timed with parallelism off
declare -A build
for r in $(seq 1 "$runs"); do
  for variant in btree btree_serial omen; do
    am=${variant%_serial}
    workers=$([ $variant = btree_serial ] && echo 0 || echo 2)
    "${psql[@]}" -c "DROP INDEX IF EXISTS bench_$am" -c "CHECKPOINT"
    t=$(ms_of "SET max_parallel_maintenance_workers = $workers; CREATE INDEX bench_$am ON bench_t USING $am (id)")
    build[$variant]+="$t "
    echo "# run $r: CREATE INDEX USING $am ($variant): $t ms" >&2
  done
done

probe_sql="SELECT count(t.pad) FROM bench_probes p JOIN bench_t t ON t.id = p.id"
force="SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_bitmapscan = off; SET enable_seqscan = off; SET max_parallel_workers_per_gather = 0;"

# buffers per probe and probe time with only one of the indexes visible;
# a plain index scan (the query needs pad), so the visibility map plays no part
declare -A probe bufs
for r in $(seq 1 "$runs"); do
  for am in btree omen; do
    other=$([ $am = omen ] && echo btree || echo omen)
    out=$("${psql[@]}" -c "BEGIN; DROP INDEX bench_$other; $force
        EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY ON) $probe_sql; ROLLBACK;")
    # the inner index scan node's buffers: the line after 'Index ... using bench_<am>'
    b=$(echo "$out" | awk -v am="bench_$am" '$0 ~ "using " am {f=1; next} f && /Buffers:/ {
          h=0; rd=0; if (match($0, /hit=[0-9]+/)) h=substr($0, RSTART+4, RLENGTH-4);
          if (match($0, /read=[0-9]+/)) rd=substr($0, RSTART+5, RLENGTH-5); print h+rd; exit}')
    loops=$(echo "$out" | awk -v am="bench_$am" '$0 ~ "using " am {match($0, /loops=[0-9]+/); print substr($0, RSTART+6, RLENGTH-6); exit}')
    # a plain index scan's node counts its heap page visits too: one per row
    nrows=$(echo "$out" | awk -v am="bench_$am" '$0 ~ "using " am {match($0, /actual rows=[0-9]+/); print substr($0, RSTART+12, RLENGTH-12); exit}')
    b=$((b - nrows * loops))
    t=$(echo "$out" | sed -n 's/.*Execution Time: \([0-9.]*\) ms.*/\1/p')
    probe[$am]+="$t "
    bufs[$am]=$(awk -v b="$b" -v l="$loops" 'BEGIN {printf "%.3f", b / l}')
    echo "# run $r: $am nested-loop probes: $t ms, $b index buffers over $loops probes" >&2
  done
done

bt_build=$(echo ${build[btree]} | tr ' ' '\n' | median)
bs_build=$(echo ${build[btree_serial]} | tr ' ' '\n' | median)
om_build=$(echo ${build[omen]} | tr ' ' '\n' | median)
bt_probe=$(echo ${probe[btree]} | tr ' ' '\n' | median)
om_probe=$(echo ${probe[omen]} | tr ' ' '\n' | median)
bt_size=$("${psql[@]}" -c "SELECT pg_relation_size('bench_btree')")
om_size=$("${psql[@]}" -c "SELECT pg_relation_size('bench_omen')")
nprobe=$("${psql[@]}" -c "SELECT count(*) FROM bench_probes")
ver=$("${psql[@]}" -c "SHOW server_version")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
cat <<EOF2
| figure ($rows rows, PostgreSQL $ver, median of $runs) | btree | omen | omen/btree |
|---|---|---|---|
| CREATE INDEX (ms), btree with 2 parallel workers | $bt_build | $om_build | $(ratio "$om_build" "$bt_build") |
| CREATE INDEX (ms), both serial | $bs_build | $om_build | $(ratio "$om_build" "$bs_build") |
| index size (MB) | $(ratio "$bt_size" 1048576) | $(ratio "$om_size" 1048576) | $(ratio "$om_size" "$bt_size") |
| index buffers per equality probe | ${bufs[btree]} | ${bufs[omen]} | $(ratio "${bufs[omen]}" "${bufs[btree]}") |
| $nprobe nested-loop probes (ms) | $bt_probe | $om_probe | $(ratio "$om_probe" "$bt_probe") |
EOF2
"${psql[@]}" -c "SELECT 'omen model: ' || model_segments || ' segments, max error ' || max_error || ', mean error ' || round(mean_error::numeric, 2) || ', ' || leaf_pages || ' leaves' FROM omen_index_stats('bench_omen')"
