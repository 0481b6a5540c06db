# WAL consistency: with wal_consistency_checking = 'generic' on the
# primary, every omen WAL record carries an image of the pages it changed,
# and the standby compares what its replay produced with that image.  Run
# the regression suite and a write workload that takes every leaf path
# (appends, pending entries, merges, widening rewrites, splits, VACUUM,
# retrains); the standby must replay it all without an inconsistency and
# answer every query like the primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('wcc_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'\nmax_wal_size = 4GB\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION omen_index');
# every record carries page images: the standby lags, so a slot keeps its WAL
$primary->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('wcc')");
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('wcc_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'wcc'\n");
$standby->start;

# the regression suite's SQL files, in its schedule's order (errors in
# errors.sql are expected; only the WAL they leave behind matters), all of
# them: the parallel build, the upgrade test and every type and scan file.
$primary->safe_psql('postgres', 'CREATE DATABASE regress');
$primary->safe_psql('regress', 'CREATE EXTENSION omen_index');
my ($schedule) = grep { /^REGRESS\s*=/ } split /\n/, slurp_file('Makefile');
$schedule =~ s/^REGRESS\s*=\s*//;
foreach my $test (split /\s+/, $schedule)
{
	my ($ret, $out, $err) = $primary->psql('regress', slurp_file("sql/$test.sql"));
	note "ran sql/$test.sql";
}

# a write workload over every leaf path
$primary->safe_psql('postgres', q{
    CREATE TABLE w (k int8, pad int);
    INSERT INTO w SELECT (g / 3) * 10, g FROM generate_series(1, 60000) g;
    INSERT INTO w SELECT NULL, g FROM generate_series(1, 2000) g;
    CREATE INDEX w_omen ON w USING omen (k) WITH (fillfactor = 70);
    -- pending entries and merges, then splits
    INSERT INTO w SELECT (hashint4(g) & 262143), -g FROM generate_series(1, 30000) g;
    -- appends at the right end
    INSERT INTO w SELECT 1000000 + g, 1 FROM generate_series(1, 20000) g;
    -- widening: keys 2^63 away, and heap pointers far from the leaves' own
    INSERT INTO w VALUES (-9223372036854775808, 2), (9223372036854775807, 2);
    INSERT INTO w SELECT g * 997 % 200000, 3 FROM generate_series(1, 500) g;
    -- duplicates, NULLs out of heap order, deletes and VACUUM
    INSERT INTO w SELECT 4242, g FROM generate_series(1, 5000) g;
    DELETE FROM w WHERE pad % 5 = 0;
    VACUUM w;
    INSERT INTO w SELECT NULL, -g FROM generate_series(1, 1000) g;
    INSERT INTO w SELECT (hashint4(g + 7) & 262143), -g FROM generate_series(1, 10000) g;
    SELECT omen_index_retrain('w_omen');
    INSERT INTO w SELECT (hashint4(g + 9) & 262143), -g FROM generate_series(1, 10000) g;
    SELECT omen_index_retrain('w_omen', true);
    VACUUM w;
    -- far entries: rows in key order, then updated and inserted late (at
    -- the heap's end): pending whole, merges and VACUUM that keep them
    -- there, then so many that leaves widen and split
    CREATE TABLE f (k int8, pad int);
    INSERT INTO f SELECT g, 0 FROM generate_series(1, 40000) g;
    CREATE INDEX f_omen ON f USING omen (k);
    UPDATE f SET pad = 1 WHERE k % 100 = 7;
    VACUUM f;
    INSERT INTO f SELECT g * 20, 2 FROM generate_series(1, 40) g;
    DELETE FROM f WHERE k BETWEEN 2000 AND 2700;
    VACUUM f;
    INSERT INTO f SELECT 1000 + g, 3 FROM generate_series(1, 60) g;
    UPDATE f SET pad = 4 WHERE k % 10 = 3;
    VACUUM f;
});
$primary->wait_for_catchup($standby, 'replay');

my $log = slurp_file($standby->logfile);
unlike($log, qr/inconsistent page/, 'no inconsistent page on the standby');
is($standby->safe_psql('postgres', 'SELECT 1'), '1', 'the standby is still running');

my @queries = (
	'SELECT k, pad FROM w WHERE k = 4242',
	'SELECT k, pad FROM w WHERE k BETWEEN 1000 AND 5000',
	'SELECT k, pad FROM w WHERE k > 1015000',
	'SELECT k, pad FROM w WHERE k < 100',
	'SELECT pad FROM w WHERE k IS NULL',
	'SELECT k FROM w WHERE k IN (-9223372036854775808, 0, 10, 9223372036854775807)',
	'SELECT k FROM w ORDER BY k DESC LIMIT 500',
	'SELECT k, pad FROM f WHERE k < 3000',
	'SELECT k, pad FROM f WHERE k % 10 = 3 AND k > 30000');
foreach my $q (@queries)
{
	my $sql = "SET enable_seqscan = off; "
	  . "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM ($q) x";
	is($standby->safe_psql('postgres', $sql), $primary->safe_psql('postgres', $sql),
		"standby answers like the primary: $q");
}
is($primary->safe_psql('postgres', "SELECT omen_index_check('w_omen', true)"), '',
	'the primary passes the check');
is($primary->safe_psql('postgres', "SELECT omen_index_check('f_omen', true)"), '',
	'the primary passes the check of the far entries\' index');

$standby->stop;
$primary->stop;
done_testing();
