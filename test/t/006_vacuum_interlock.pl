# The VACUUM interlock: a scan keeps its pin on the leaf whose TIDs it is
# returning, so VACUUM waits (wait event BufferPin) before removing entries
# from it, and the scan never sees a TID VACUUM freed under it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('interlock');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE v (k int8, pad int);
    INSERT INTO v SELECT g, g FROM generate_series(1, 2000) g;
    CREATE INDEX v_omen ON v USING omen (k);
    VACUUM v;
});

# Rows deleted (and committed) before the scan starts: dead to the scan's
# snapshot and removable by VACUUM.  The scan pauses on the first leaf,
# whose copied TIDs include the dead rows' TIDs.
$node->safe_psql('postgres', 'DELETE FROM v WHERE k BETWEEN 20 AND 200');
my $reader = $node->background_psql('postgres');
$reader->query_safe('SET enable_seqscan = off');
$reader->query_safe('SET enable_bitmapscan = off');
$reader->query_safe('BEGIN');
$reader->query_safe('DECLARE c CURSOR FOR SELECT k FROM v WHERE k BETWEEN 1 AND 2000 ORDER BY k');
is($reader->query_safe('FETCH 10 FROM c'), join("\n", 1 .. 10), 'the cursor returns the first rows');

# VACUUM must not remove the dead TIDs from that leaf (after which the heap
# could reuse them) while the scan still holds them: it waits for the pin
my $vacuum = $node->background_psql('postgres');
$vacuum->query_until(qr/started/, "\\echo started\nVACUUM v;\n\\echo vacuumed\n");
my $waiting = 0;
for (my $i = 0; $i < 500; $i++)
{
	my $ev = $node->safe_psql('postgres',
		"SELECT wait_event FROM pg_stat_activity WHERE query = 'VACUUM v;' AND state = 'active'");
	if ($ev eq 'BufferPin')
	{
		$waiting = 1;
		last;
	}
	usleep(20_000);
}
ok($waiting, 'VACUUM waits for the pin the scan holds on the leaf');

my $rest = $reader->query_safe('FETCH ALL FROM c');
my @rows = split /\n/, $rest;
is(scalar(@rows), 1809, 'the paused scan returns exactly the live rows after its position');
is($rows[0], '11', 'continuing where it paused');
is($rows[9], '201', 'skipping the deleted rows');
$reader->query_safe('COMMIT');
$reader->quit;
$vacuum->quit;

is($node->safe_psql('postgres', "SELECT omen_index_check('v_omen', true)"), '', 'the index passes the check');
is($node->safe_psql('postgres', 'SET enable_seqscan = off; SELECT count(*) FROM v WHERE k BETWEEN 1 AND 2000'),
	'1819', 'the deleted rows are gone from index scans');
$node->stop;
done_testing();

sub usleep { Time::HiRes::usleep(@_); }
use Time::HiRes ();
