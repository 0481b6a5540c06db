#!/usr/bin/env bash
# Reader latency under a continuous insert stream: a pgbench reader
# (-M prepared point selects through the omen index) alone, then with a
# pgbench writer of random inserts running beside it, same table.  Reports
# the reader's median, p99 and p99.9 latency in each phase from pgbench's
# per-transaction log.  Run it with omen_index preloaded to include the
# background retrains the writer triggers.
#
#   bench/latency.sh [ROWS] [SECONDS]     (default 2000000 rows, 20 s)
#
# Uses the server in the PG* environment variables.
set -euo pipefail
rows=${1:-2000000}
secs=${2:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS omen_index;
DROP TABLE IF EXISTS lat_t;
CREATE TABLE lat_t (k int8, pad int);
INSERT INTO lat_t SELECT g * 10, 0 FROM generate_series(1, $rows) g;
CREATE INDEX lat_omen ON lat_t USING omen (k);
VACUUM ANALYZE lat_t;
SQL
max=$((rows * 10))
printf '\\set k random(1, %d)\nSELECT pad FROM lat_t WHERE k = :k;\n' "$max" > "$work/read.sql"
printf '\\set k random(1, %d)\nINSERT INTO lat_t VALUES (:k, 1);\n' "$max" > "$work/write.sql"

percentiles() {
    # pgbench -l: client_id transaction_no time(us) script_no time_epoch time_us
    cat "$1"* | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END {
        printf "%d txns, median %.0f us, p99 %.0f us, p99.9 %.0f us\n", NR, a[int(NR * 0.5)], a[int(NR * 0.99)], a[int(NR * 0.999)]}'
}

(cd "$work" && pgbench -n -M prepared -c 1 -T "$secs" -l --log-prefix=alone -f read.sql >/dev/null)
echo "reader alone:        $(percentiles "$work/alone")"
(cd "$work" && pgbench -n -M prepared -c 1 -T "$secs" -f write.sql > writer.out) &
sleep 1
(cd "$work" && pgbench -n -M prepared -c 1 -T $((secs - 2)) -l --log-prefix=busy -f read.sql >/dev/null)
wait
echo "reader with writer:  $(percentiles "$work/busy")"
echo "writer: $(grep -E '^tps' "$work/writer.out" | head -1)"
psql -X -At -c "SELECT 'retrains ' || retrains || ', drift ' || round(drift::numeric, 4) || ', leaves ' || leaf_pages FROM omen_index_stats('lat_omen')"
