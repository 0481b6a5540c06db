# A streaming standby answers like its primary, through the omen index,
# after inserts, splits, deletes, VACUUM and a retrain on the primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE s (k int8, pad int);
    INSERT INTO s SELECT g * 3, g FROM generate_series(1, 30000) g;
    CREATE INDEX s_omen ON s USING omen (k);
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

my @queries = (
	'SELECT k FROM s WHERE k = 300',
	'SELECT k FROM s WHERE k BETWEEN 1000 AND 1300',
	'SELECT k FROM s WHERE k > 95000',
	'SELECT count(*) FROM s WHERE k IS NULL',
	'SELECT k FROM s ORDER BY k DESC LIMIT 50',
	'SELECT k FROM s WHERE k = ANY(\'{3, 6, 7, 90000}\')');

sub compare
{
	my ($label) = @_;
	$primary->wait_for_catchup($standby, 'replay');
	foreach my $q (@queries)
	{
		my $sql = "SET enable_seqscan = off; SET enable_bitmapscan = off; "
		  . "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM ($q) s(x)";
		my $p = $primary->safe_psql('postgres', $sql);
		my $s = $standby->safe_psql('postgres', $sql);
		is($s, $p, "$label: $q");
	}
	my $plan = $standby->safe_psql('postgres',
		"SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) SELECT * FROM s WHERE k = 300");
	like($plan, qr/s_omen/, "$label: the standby uses the omen index");
}

compare('after build');

# the standby keeps a session open across the changes: its cached model
# goes stale and must still answer correctly
my $session = $standby->background_psql('postgres');
$session->query_safe('SET enable_seqscan = off');
$session->query_safe('SELECT count(*) FROM s WHERE k = 300');

$primary->safe_psql('postgres', q{
    INSERT INTO s SELECT (random() * 100000)::int8, 0 FROM generate_series(1, 20000);
    INSERT INTO s SELECT NULL, 0 FROM generate_series(1, 1000);
    DELETE FROM s WHERE pad % 7 = 0;
    VACUUM s;
});
compare('after writes and VACUUM');
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe('SELECT count(*) FROM s WHERE k BETWEEN 1000 AND 1300'),
	$primary->safe_psql('postgres',
		'SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; SELECT count(*) FROM s WHERE k BETWEEN 1000 AND 1300'),
	'a standby session with a stale model answers like the primary');

$primary->safe_psql('postgres', "SELECT omen_index_retrain('s_omen')");
compare('after a retrain');
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe('SELECT count(*) FROM s WHERE k > 50000'),
	$primary->safe_psql('postgres', 'SELECT count(*) FROM s WHERE k > 50000'),
	'the standby session follows the new model');
$session->quit;

my ($ret, $out, $err) = $standby->psql('postgres', "SELECT omen_index_retrain('s_omen')");
like($err, qr/recovery is in progress/, 'retraining on a standby is refused');

is($primary->safe_psql('postgres', "SELECT omen_index_check('s_omen', true)"), '',
	'the primary passes the check');

$standby->stop;
$primary->stop;
done_testing();
