# A backend remembers, per leaf, the shared buffer that last held it, and
# pins through ReadRecentBuffer before ReadBuffer (omen_pin_recent).  With
# a buffer pool much smaller than the tables, the remembered buffers are
# evicted and reused by other pages (of the heap, of another index, of the
# same index) between one probe of a leaf and the next in the same session:
# every answer must still be a sequential scan's, appends through the
# remembered leaf must land, and the statistics must count every pin.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('recent_buffers');
$node->init;
# 32 buffers (the least that leaves room for a scan's pins) and the least
# temp_buffers, so that local buffers of a temporary table are reused too
$node->append_conf('postgresql.conf',
	"autovacuum = off\nshared_buffers = 256kB\ntemp_buffers = 800kB\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE r (k int8, pad text);
    INSERT INTO r SELECT (g * 7919) % 200003, repeat('x', 40) FROM generate_series(1, 60000) g;
    INSERT INTO r SELECT g % 500, 'dup' FROM generate_series(1, 5000) g;
    CREATE INDEX r_omen ON r USING omen (k);
    CREATE TABLE s (k int8, pad text);
    INSERT INTO s SELECT g * 3, repeat('y', 40) FROM generate_series(1, 60000) g;
    CREATE INDEX s_omen ON s USING omen (k);
    CREATE TABLE probes (k int8);
    INSERT INTO probes SELECT (g * 104729) % 200010 FROM generate_series(1, 3000) g;
    VACUUM ANALYZE r, s, probes;
});

my $index_plan = 'SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_hashjoin = off; '
  . 'SET enable_mergejoin = off; SET enable_material = off; SET enable_memoize = off; ';
my $seq_plan = 'SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; ';

# One session throughout, so that the model cache and its remembered
# buffers live across the rounds.
my $session = $node->background_psql('postgres', on_error_stop => 1);

sub answer
{
	my ($plan, $sql) = @_;
	$session->query_safe($plan);
	my $out = $session->query_safe($sql);
	$session->query_safe('RESET ALL');
	return $out;
}

my @shapes = (
	[ 'probes, index scan', 'SELECT count(r.pad), sum(r.k) FROM probes p JOIN r ON r.k = p.k' ],
	[ 'probes, index-only scan', 'SELECT count(*), sum(r.k) FROM probes p JOIN r ON r.k = p.k' ],
	[ 'probes of the other table', 'SELECT count(s.pad), sum(s.k) FROM probes p JOIN s ON s.k = p.k' ],
	[ 'ranges', 'SELECT count(*), sum(r.k) FROM (SELECT k FROM probes LIMIT 300) p JOIN r ON r.k BETWEEN p.k AND p.k + 300' ],
	[ 'duplicates', 'SELECT count(r.pad), sum(r.k) FROM generate_series(0, 499, 7) g JOIN r ON r.k = g' ]);

for my $round (1 .. 4)
{
	for my $shape (@shapes)
	{
		my ($name, $sql) = @$shape;
		# the sequential scan of the heap goes first: it evicts the leaves
		# whose buffers the index scan then finds reused
		my $seq = answer($seq_plan, $sql);
		my $idx = answer($index_plan, $sql);
		is($idx, $seq, "round $round: $name answer like a sequential scan");
	}

	# appends through the remembered leaf, with the pool churned between
	# them, then inserts of keys spread over the range
	my $base = 300000 + $round * 10000;
	for my $batch (0 .. 4)
	{
		$session->query_safe("INSERT INTO r SELECT $base + $batch * 100 + g, 'app' FROM generate_series(1, 100) g");
		$session->query_safe("SELECT count(*) FROM s WHERE pad <> ''");
	}
	$session->query_safe("INSERT INTO r SELECT (g * 31337) % 200003, 'ins' FROM generate_series(1, 500) g");
	my $idx = answer($index_plan, "SELECT count(*), sum(k) FROM r WHERE k > $base");
	my $seq = answer($seq_plan, "SELECT count(*), sum(k) FROM r WHERE k > $base");
	is($idx, $seq, "round $round: appends made between evictions are all found");
}

# every pin, through the remembered buffer or not, is counted as ReadBuffer
# counts it: a probe of an existing key pins at least its leaf
$session->query_safe('BEGIN');
$session->query_safe($index_plan);
my $found = $session->query_safe('SELECT count(*) FROM probes p JOIN r ON r.k = p.k');
my $fetched = $session->query_safe("SELECT pg_stat_get_xact_blocks_fetched('r_omen'::regclass)");
my $hit = $session->query_safe("SELECT pg_stat_get_xact_blocks_hit('r_omen'::regclass)");
$session->query_safe('COMMIT');
cmp_ok($fetched, '>=', 3000, "3000 probes count at least 3000 index block fetches ($fetched, $found rows)");
cmp_ok($hit, '<=', $fetched, "hits ($hit) do not exceed fetches");

# a temporary table's index uses local buffers, which are not remembered
$session->query_safe(q{
    CREATE TEMP TABLE tt AS SELECT (g * 7919) % 200003 AS k, repeat('z', 40) AS pad FROM generate_series(1, 40000) g;
    CREATE INDEX ON tt USING omen (k);
    ANALYZE tt;
});
for my $round (1 .. 2)
{
	my $sql = 'SELECT count(tt.pad), sum(tt.k) FROM probes p JOIN tt ON tt.k = p.k';
	my $seq = answer($seq_plan, $sql);
	my $idx = answer($index_plan, $sql);
	is($idx, $seq, "round $round: probes of a temporary table answer like a sequential scan");
	$session->query_safe("INSERT INTO tt SELECT 400000 + $round * 1000 + g, 'app' FROM generate_series(1, 500) g");
}

is($session->query_safe("SELECT omen_index_check('r_omen', true)"), '', 'the index passes the check');
$session->quit;
$node->stop;
done_testing();
