# Crash safety: rounds of concurrent inserts, deletes, updates, VACUUM and
# retrains (by hand and by the background worker), killed with an
# immediate stop at a random moment.  After each restart the index must
# pass omen_index_check(idx, true) and answer random queries exactly as a
# sequential scan does.
#
#   OMEN_CRASH_ROUNDS   rounds (default 20)
#   OMEN_CRASH_SEED     seed of the workload and the crash moments
#                       (default: random, printed; replays the same
#                       statements, though not the same interleaving)
#   OMEN_CRASH_QUERIES  random queries compared after each round (default 200)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $rounds = $ENV{OMEN_CRASH_ROUNDS} // 20;
my $nqueries = $ENV{OMEN_CRASH_QUERIES} // 200;
my $seed = $ENV{OMEN_CRASH_SEED} // int(rand(2**31));
diag("OMEN_CRASH_SEED=$seed OMEN_CRASH_ROUNDS=$rounds");
srand($seed);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_buffers = 16MB
shared_preload_libraries = 'omen_index'
omen.retrain_threshold = 0.01
omen.retrain_naptime = 1
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE c (k int8, pad int);
    INSERT INTO c SELECT (g * 7919) % 200003, g FROM generate_series(1, 50000) g;
    INSERT INTO c SELECT NULL, g FROM generate_series(1, 500) g;
    INSERT INTO c VALUES (-9223372036854775808, 1), (9223372036854775807, 2),
                         (-9223372036854775807, 3), (9223372036854775806, 4);
    INSERT INTO c SELECT 77777, g FROM generate_series(1, 3000) g;
    CREATE INDEX c_omen ON c USING omen (k) WITH (fillfactor = 95);
});

sub pick { return $_[ int(rand(@_)) ]; }

# a random key: mostly in the table's range, sometimes at the extremes
sub rkey
{
	my $r = rand();
	return pick('-9223372036854775808', '9223372036854775807', '-9223372036854775807', '0', '77777')
	  if $r < 0.05;
	return int(rand(400000)) - 50000;
}

# one random write statement
sub random_write
{
	my $r = rand();
	my $k = rkey();
	my $n = 1 + int(rand(5000));
	return "INSERT INTO c SELECT (random() * 250000)::int8, 0 FROM generate_series(1, $n);" if $r < 0.20;
	return "INSERT INTO c SELECT $k + g, 1 FROM generate_series(1, $n) g;" if $r < 0.30 && $k < 9e18;
	return "INSERT INTO c SELECT 300000 + g + (SELECT coalesce(max(k), 0) FROM c WHERE k < 1000000000), 2 FROM generate_series(1, $n) g;"
	  if $r < 0.38;
	return "INSERT INTO c SELECT CASE WHEN g % 4 = 0 THEN NULL ELSE $k END, 3 FROM generate_series(1, " . int($n / 4 + 1) . ") g;"
	  if $r < 0.45;
	return "DELETE FROM c WHERE k BETWEEN $k AND $k + " . int(rand(20000)) . ";" if $r < 0.55 && $k < 9e18;
	return "DELETE FROM c WHERE pad % " . (2 + int(rand(20))) . " = 0 AND k < $k;" if $r < 0.62;
	return "UPDATE c SET k = k + " . (1 + int(rand(1000))) . " WHERE k BETWEEN $k AND $k + " . int(rand(3000)) . ";"
	  if $r < 0.72 && $k < 9e18;
	return "UPDATE c SET pad = pad + 1 WHERE k BETWEEN $k AND $k + " . int(rand(3000)) . ";" if $r < 0.78 && $k < 9e18;
	return "VACUUM c;" if $r < 0.86;
	return "SELECT omen_index_retrain('c_omen', " . (rand() < 0.2 ? 'true' : 'false') . ");" if $r < 0.92;
	return "BEGIN; INSERT INTO c SELECT $k, 4 FROM generate_series(1, $n); "
	  . (rand() < 0.5 ? 'ROLLBACK;' : 'COMMIT;');
}

# one random query, as a digest of its rows
sub random_query
{
	my $r = rand();
	my $a = rkey();
	my $b = rkey();
	($a, $b) = ($b, $a) if $a > $b;
	my $q;
	if ($r < 0.2) { $q = "SELECT k, pad FROM c WHERE k = $a"; }
	elsif ($r < 0.4) { $q = "SELECT k FROM c WHERE k BETWEEN $a AND $b"; }
	elsif ($r < 0.5) { $q = "SELECT k FROM c WHERE k " . pick('<', '<=', '>', '>=') . " $a"; }
	elsif ($r < 0.6) { $q = "SELECT k FROM c WHERE k IN ($a, $b, " . rkey() . ", 77777)"; }
	elsif ($r < 0.7) { $q = "SELECT k FROM c WHERE k > $a ORDER BY k LIMIT " . (1 + int(rand(500))); }
	elsif ($r < 0.8) { $q = "SELECT k FROM c WHERE k < $b ORDER BY k DESC LIMIT " . (1 + int(rand(500))); }
	elsif ($r < 0.85) { $q = "SELECT min(k), max(k) FROM c"; }
	elsif ($r < 0.9) { $q = "SELECT count(*) FROM c WHERE k IS NULL"; }
	elsif ($r < 0.95) { $q = "SELECT count(*) FROM c WHERE k IS NOT NULL AND k > $a"; }
	else { $q = "SELECT k FROM c WHERE k = ANY(ARRAY[$a, $b]::int8[]) AND k >= $a"; }
	return "SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM ($q) x;";
}

my ($compared, $writes) = (0, 0);
for my $round (1 .. $rounds)
{
	# three writers, each with its own random statements
	my @writers;
	for my $w (1 .. 3)
	{
		my $script = join("\n", map { random_write() } 1 .. 60);
		$writes += 60;
		my $s = $node->background_psql('postgres', on_error_stop => 0);
		$s->query_until(qr/started/, "\\echo started\n$script\n");
		push @writers, $s;
	}
	# let them run for a random moment, then crash
	usleep(int(100_000 + rand(1_500_000)));
	$node->stop('immediate');
	eval { $_->quit; } for @writers;
	$node->start;

	is($node->safe_psql('postgres', "SELECT omen_index_check('c_omen', true)"), '',
		"round $round: index passes the check after a crash");

	my @queries = map { random_query() } 1 .. $nqueries;
	my $script = join("\n", @queries);
	my $idx = $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET enable_bitmapscan = off;\n$script");
	my $seq = $node->safe_psql('postgres',
		"SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;\n$script");
	my @i = split /\n/, $idx;
	my @s = split /\n/, $seq;
	my $bad = 0;
	for my $j (0 .. $#queries)
	{
		next if defined $i[$j] && defined $s[$j] && $i[$j] eq $s[$j];
		diag("seed $seed round $round: mismatch: $queries[$j]") if $bad++ < 5;
	}
	is($bad, 0, "round $round: $nqueries random queries answer as a sequential scan does");
	$compared += @queries;
}
diag("OMEN_CRASH_SEED=$seed: $rounds crash rounds, $writes random writes, $compared random queries compared");

# the index plan is what was tested
like($node->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN SELECT k FROM c WHERE k = 5"),
	qr/c_omen/, 'queries above used the omen index');

done_testing();
