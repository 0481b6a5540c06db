# Concurrent inserts, deletes, updates, selects and VACUUM from several
# pgbench clients, then the check (with heapallindexed) and a comparison
# with a sequential scan.  OMEN_CONCURRENT_SECONDS sets the duration.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{OMEN_CONCURRENT_SECONDS} // 15;
my $node = PostgreSQL::Test::Cluster->new('concurrent');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nshared_buffers = 32MB\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE c (k int8, pad int);
    INSERT INTO c SELECT g * 5, 0 FROM generate_series(1, 20000) g;
    CREATE INDEX c_omen ON c USING omen (k) WITH (fillfactor = 100);
});

my $dir = PostgreSQL::Test::Utils::tempdir;
my %scripts = (
	'insert.sql' => "\\set k random(-1000, 110000)\nINSERT INTO c VALUES (:k, 1);\n",
	'append.sql' => "INSERT INTO c SELECT max(k) + 1, 2 FROM c;\n",
	'delete.sql' => "\\set k random(0, 100000)\nDELETE FROM c WHERE k BETWEEN :k AND :k + 20;\n",
	'update.sql' => "\\set k random(0, 100000)\nUPDATE c SET k = k + 7 WHERE k = :k;\n",
	'select.sql' => "\\set k random(0, 100000)\nSET enable_seqscan = off;\nSELECT count(*) FROM c WHERE k BETWEEN :k AND :k + 100;\nSELECT k FROM c WHERE k > :k ORDER BY k LIMIT 5;\nSELECT k FROM c WHERE k < :k ORDER BY k DESC LIMIT 5;\n",
	'vacuum.sql' => "VACUUM c;\n",
	'retrain.sql' => "SELECT omen_index_retrain('c_omen');\n",
	'null.sql' => "INSERT INTO c VALUES (NULL, 3);\n");
my @args;
foreach my $name (sort keys %scripts)
{
	my $weight = { 'insert.sql' => 20, 'append.sql' => 5, 'delete.sql' => 5, 'update.sql' => 5,
		'select.sql' => 20, 'vacuum.sql' => 1, 'retrain.sql' => 1, 'null.sql' => 2 }->{$name};
	PostgreSQL::Test::Utils::append_to_file("$dir/$name", $scripts{$name});
	push @args, '-f', "$dir/$name\@$weight";
}

$node->command_ok([ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', $seconds, @args, 'postgres' ],
	"pgbench: 4 clients, $seconds s of inserts, deletes, updates, selects, VACUUM and retrains");

is($node->safe_psql('postgres', "SELECT omen_index_check('c_omen', true)"), '',
	'the index passes the check after the concurrent run');

foreach my $q ('SELECT k FROM c WHERE k BETWEEN 5000 AND 9000', 'SELECT k FROM c WHERE k > 100000',
	'SELECT count(*) FROM c WHERE k IS NULL', 'SELECT k FROM c WHERE k < 100')
{
	my $idx = $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ($q) s(x)");
	my $seq = $node->safe_psql('postgres',
		"SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ($q) s(x)");
	is($idx, $seq, "index answers like a sequential scan: $q");
}

# VACUUM VERBOSE reports the index's pages and removed entries
$node->safe_psql('postgres', 'DELETE FROM c WHERE k % 2 = 0');
my ($ret, $out, $err) = $node->psql('postgres', 'VACUUM (VERBOSE) c');
like($err, qr/index "c_omen": pages: \d+ in total/, 'VACUUM VERBOSE reports the omen index');

$node->stop;
done_testing();
