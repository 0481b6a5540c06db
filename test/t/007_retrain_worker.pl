# The background retrain worker, with omen_index preloaded: it shows in
# pg_stat_activity, retrains drifted indexes in every database without a
# manual call, a standby follows the new models, a database whose worker
# just retrained can be dropped, and an immediate stop
# while retrains run leaves indexes that pass the check and answer like a
# sequential scan.  OMEN_WORKER_CRASH_ROUNDS sets the crash rounds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes;

my $rounds = $ENV{OMEN_WORKER_CRASH_ROUNDS} // 3;
my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'omen_index'
omen.retrain_naptime = 1
omen.retrain_threshold = 0.02
autovacuum = off
});
$node->start;

like($node->safe_psql('postgres',
		"SELECT string_agg(backend_type, ',') FROM pg_stat_activity WHERE backend_type LIKE 'omen%'"),
	qr/omen retrain launcher/, 'the launcher shows in pg_stat_activity');

$node->safe_psql('postgres', 'CREATE DATABASE other');
foreach my $db ('postgres', 'other')
{
	$node->safe_psql($db, q{
		CREATE EXTENSION omen_index;
		CREATE TABLE w (k int8, pad int);
		INSERT INTO w SELECT g * 10, 0 FROM generate_series(1, 100000) g;
		CREATE INDEX w_omen ON w USING omen (k) WITH (fillfactor = 100);
	});
}
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('worker_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;

# random inserts split leaves; the worker is asked to retrain
foreach my $db ('postgres', 'other')
{
	$node->safe_psql($db, 'INSERT INTO w SELECT (random() * 1000000)::int8, 1 FROM generate_series(1, 20000)');
}

foreach my $db ('postgres', 'other')
{
	my $ok = $node->poll_query_until($db, q{
		SELECT retrains > 0 AND drift < 0.02 FROM omen_index_stats('w_omen')});
	ok($ok, "the worker retrained the index in database $db, no manual call");
	is($node->safe_psql($db, 'SELECT omen_index_check(\'w_omen\', true)'), '', "$db: the index passes the check");
}

# about one index page per equality probe after the worker's retrain
$node->safe_psql('postgres', 'CREATE TABLE probes AS SELECT (random() * 1000000)::int8 AS k FROM generate_series(1, 2000); ANALYZE probes; VACUUM ANALYZE w');
my $plan = $node->safe_psql('postgres', q{
	SET enable_memoize = off; SET enable_bitmapscan = off;
	EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF)
	SELECT count(*) FROM probes p, LATERAL (SELECT k FROM w WHERE w.k = p.k) x});
my ($loops, $bufline) = $plan =~ /Index Only Scan using w_omen.*?loops=(\d+)\).*?Buffers: shared ([^\n]*)/s;
my $buffers;
$buffers += $_ foreach (($bufline // '') =~ /(?:hit|read)=(\d+)/g);
is($loops, 2000, 'one index probe per probe key');
ok(defined $buffers && $buffers / 2000 <= 1.3, 'at most 1.3 index buffers per probe: ' . ($buffers // 'none') . ' for 2000');

# the standby follows the new model
$node->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', 'SELECT model_version, model_leaves FROM omen_index_stats(\'w_omen\')'),
	$node->safe_psql('postgres', 'SELECT model_version, model_leaves FROM omen_index_stats(\'w_omen\')'),
	'the standby has the primary\'s model');
my $q = 'SELECT md5(string_agg(k::text, \',\' ORDER BY k)) FROM w WHERE k BETWEEN 200000 AND 400000';
is($standby->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; $q"),
	$node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; $q"),
	'the standby answers like a sequential scan on the primary');
$standby->stop;

# One worker serves a stream of requests of its database (it stays for
# the next one rather than a process starting per retrain), and still
# leaves in time for DROP DATABASE, which waits 5 s for a database's other
# processes and signals no background worker: 4 s of single-row random
# inserts into a small index in 'other' (a few leaves: nearly every split
# asks for a retrain), sampling the workers and the retrain count.
$node->safe_psql('other', q{
	CREATE TABLE s (k int8, pad int);
	INSERT INTO s SELECT g * 10, 0 FROM generate_series(1, 5000) g;
	CREATE INDEX s_omen ON s USING omen (k);
});
my $wdir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$wdir/one.sql",
	"INSERT INTO s VALUES ((random() * 1000000)::int8, 3);\n");
my ($wout, $werr) = ('', '');
my $writer = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-T', '4', '-f', "$wdir/one.sql", '-h', $node->host, '-p', $node->port, 'other' ],
	'>', \$wout, '2>', \$werr);
my (%first, %last);
my $until = Time::HiRes::time() + 3.5;
while (Time::HiRes::time() < $until)
{
	my $pids = $node->safe_psql('postgres', q{
		SELECT string_agg(pid::text, ',') FROM pg_stat_activity
		WHERE backend_type = 'omen retrain worker' AND datname = 'other'});
	my $retrains = $node->safe_psql('other', q{SELECT retrains FROM omen_index_stats('s_omen')});
	for my $pid (grep { $_ ne '' } split /,/, $pids)
	{
		$first{$pid} //= $retrains;
		$last{$pid} = $retrains;
	}
	select(undef, undef, undef, 0.1);
}
$writer->finish;
my ($most) = sort { $b <=> $a } map { $last{$_} - $first{$_} } keys %first;
ok(defined $most && $most >= 2,
	'one worker process was seen across several retrains: ' . ($most // 'no worker seen') . ' retrains');
my ($drop_rc, $drop_out, $drop_err) = $node->psql('postgres', 'DROP DATABASE other');
is($drop_rc, 0, "DROP DATABASE right after the worker's retrains in it succeeds $drop_err");

# immediate stops while inserts, deletes, the worker's and manual retrains run
my $dir = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$dir/ins.sql",
	"\\set k random(0, 2000000)\nINSERT INTO w SELECT :k + g, 2 FROM generate_series(1, 20) g;\n");
PostgreSQL::Test::Utils::append_to_file("$dir/del.sql",
	"\\set k random(0, 2000000)\nDELETE FROM w WHERE k BETWEEN :k AND :k + 50;\n");
PostgreSQL::Test::Utils::append_to_file("$dir/ret.sql", "SELECT omen_index_retrain('w_omen');\n");
for my $round (1 .. $rounds)
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '3', '-T', '30', '-f', "$dir/ins.sql\@20", '-f', "$dir/del.sql\@2",
		  '-f', "$dir/ret.sql\@1", '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	sleep(1 + int(rand(3)));
	$node->stop('immediate');
	$h->finish;
	$node->start;
	is($node->safe_psql('postgres', 'SELECT omen_index_check(\'w_omen\', true)'), '',
		"round $round: the index passes the check after an immediate stop");
	my $cmp = 'SELECT md5(string_agg(k::text, \',\' ORDER BY k)) FROM w WHERE k BETWEEN 100000 AND 900000';
	is($node->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; $cmp"),
		$node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; $cmp"),
		"round $round: the index answers like a sequential scan");
}
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'omen retrain launcher'}),
	'the launcher is back after the restarts');

$node->stop;
done_testing();
