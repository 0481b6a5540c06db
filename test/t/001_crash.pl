# Crash safety: an immediate stop while inserts, deletes, VACUUM and
# retrains run leaves an index that answers exactly what the heap holds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 16MB\nfsync = on\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE c (k int8, pad int);
    INSERT INTO c SELECT (g * 7919) % 200003, g FROM generate_series(1, 50000) g;
    INSERT INTO c SELECT NULL, g FROM generate_series(1, 500) g;
    CREATE INDEX c_omen ON c USING omen (k);
});

# the same queries through the index and through a sequential scan
sub compare_with_seqscan
{
	my ($n, $label) = @_;
	my @queries = (
		'SELECT k FROM c WHERE k = 4242',
		'SELECT k FROM c WHERE k BETWEEN 1000 AND 3000',
		'SELECT k FROM c WHERE k > 190000',
		'SELECT k FROM c WHERE k < 50',
		'SELECT count(*) FROM c WHERE k IS NULL',
		'SELECT k FROM c WHERE k IN (1, 2, 3, 99999, 150000)',
		'SELECT k FROM c ORDER BY k DESC LIMIT 100');
	foreach my $q (@queries)
	{
		my $idx = $n->safe_psql('postgres',
			"SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ($q) s(x)");
		my $seq = $n->safe_psql('postgres',
			"SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ($q) s(x)");
		is($idx, $seq, "$label: $q");
	}
}

my $rounds = $ENV{OMEN_CRASH_ROUNDS} // 3;
for my $round (1 .. $rounds)
{
	# a writer that splits leaves everywhere, deletes, vacuums and retrains
	my $writer = $node->background_psql('postgres', on_error_stop => 0);
	$writer->query_until(qr/started/, q{
		\echo started
		INSERT INTO c SELECT (random() * 250000)::int8, 0 FROM generate_series(1, 30000);
		DELETE FROM c WHERE pad % 5 = 0;
		VACUUM c;
		INSERT INTO c SELECT 300000 + g, 1 FROM generate_series(1, 30000) g;
		SELECT omen_index_retrain('c_omen');
		INSERT INTO c SELECT (random() * 250000)::int8, 2 FROM generate_series(1, 30000);
	});
	# let it run for a moment, then crash
	usleep(100_000 * (1 + ($round * 7) % 13));
	$node->stop('immediate');
	eval { $writer->quit; };
	$node->start;

	is($node->safe_psql('postgres', "SELECT omen_index_check('c_omen', true)"), '',
		"round $round: index passes the check after a crash");
	compare_with_seqscan($node, "round $round");
}

$node->stop;
done_testing();
