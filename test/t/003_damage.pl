# Damaged index pages: queries raise an ERROR naming the index and the
# block, the server keeps running, omen_index_check reports the damage and
# REINDEX repairs it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('damage');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE d (k int8);
    INSERT INTO d SELECT g FROM generate_series(1, 5000) g;
    CREATE INDEX d_omen ON d USING omen (k);
    CREATE TABLE dr (k int8);
    INSERT INTO dr SELECT g % 100 FROM generate_series(1, 5000) g;
    CREATE INDEX dr_omen ON dr USING omen (k);
});
my $datadir = $node->data_dir;
my $BLCKSZ = 8192;
my $SPECIAL = $BLCKSZ - 56;    # MAXALIGN(sizeof(OmenPageOpaqueData))
my $LEAF_HEADER = 24;          # OmenLeafHeader, after the page header
my $LEAF_DATA = 48;            # stored keys start here
# keys 1..5000 in heap order: every leaf stores 2-byte keys.  dr_omen's
# leaves are RUNS (50 rows a key): after the leaf header a uint16 count of
# runs, then per run a 1-byte key, its first entry and data offset (uint16
# each) and the width of its gaps (a byte).
my $RUN_DIR = $LEAF_DATA + 2;
my $RUN_DIR_ENTRY = 1 + 5;

sub patch
{
	my ($block, $offset, $bytes, $index) = @_;
	$index //= 'd_omen';
	my $path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('$index')");
	$node->stop;
	open(my $fh, '+<', "$datadir/$path") or die "open: $!";
	binmode $fh;
	sysseek($fh, $block * $BLCKSZ + $offset, 0) or die;
	syswrite($fh, $bytes) == length($bytes) or die;
	close $fh;
	$node->start;
}

sub probe
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET enable_seqscan = off; SET enable_bitmapscan = off; $sql");
	return $err;
}

sub repair
{
	my ($label) = @_;
	$node->safe_psql('postgres', 'REINDEX INDEX d_omen');
	is($node->safe_psql('postgres', "SELECT omen_index_check('d_omen', true)"), '',
		"$label: REINDEX repairs the index");
	is($node->safe_psql('postgres', 'SET enable_seqscan = off; SELECT count(*) FROM d WHERE k BETWEEN 1 AND 5000'),
		'5000', "$label: nothing was lost");
}

# 1. wrong magic number in the metapage
patch(0, 24, pack('V', 0xDEADBEEF));
like(probe('SELECT * FROM d WHERE k = 42'),
	qr/index "d_omen" contains corrupted page at block 0/, 'wrong magic: ERROR names index and block');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server keeps running');
like(probe("SELECT omen_index_check('d_omen')"), qr/corrupted page at block 0/, 'wrong magic: the check reports it');
repair('wrong magic');

# 2. wrong format version
patch(0, 28, pack('V', 99));
like(probe('SELECT * FROM d WHERE k = 42'),
	qr/index "d_omen" has on-disk format version 99 at block 0, expected 4 to 5/, 'wrong version: ERROR names index, block, version');
repair('wrong version');

# 3. wrong page identifier on a leaf
patch(1, $SPECIAL + 50, pack('v', 0x1234));
like(probe('SELECT * FROM d WHERE k = 1'),
	qr/index "d_omen" contains corrupted page at block 1/, 'wrong page id: ERROR names index and block');
repair('wrong page id');

# 4. torn entries: pd_lower no longer matches the heap pointer array
patch(2, 12, pack('v', $LEAF_DATA + 2 * 3 + 1));
like(probe('SELECT * FROM d WHERE k BETWEEN 1 AND 5000'),
	qr/index "d_omen" contains corrupted page at block 2/, 'torn entries: ERROR names index and block');
repair('torn entries');

# 5. out-of-order keys: the check finds them
patch(3, $LEAF_DATA + 2 * 5, pack('v', 0xFFFF));
like(probe("SELECT omen_index_check('d_omen')"),
	qr/corrupted page at block 3.*\n.*out of order|corrupted page at block 3/s, 'out-of-order keys: the check names the block');
repair('out-of-order keys');

# 6. an impossible field width in a leaf header
patch(1, $LEAF_HEADER + 18, pack('C', 9));
like(probe('SELECT * FROM d WHERE k = 1'),
	qr/index "d_omen" contains corrupted page at block 1/, 'bad field width: ERROR names index and block');
repair('bad field width');

# 7. a broken sibling link
patch(4, $SPECIAL + 4, pack('V', 4));
like(probe("SELECT omen_index_check('d_omen')"),
	qr/corrupted page at block 4/, 'broken right link: the check names the block');
repair('broken sibling link');

# 8. a RUNS leaf whose run has an impossible gap width
patch(1, $RUN_DIR + $RUN_DIR_ENTRY * 3 + 5, pack('C', 60), 'dr_omen');
like(probe('SELECT * FROM dr WHERE k = 3'),
	qr/index "dr_omen" contains corrupted page at block 1/, 'bad gap width: ERROR names index and block');
like(probe("SELECT omen_index_check('dr_omen')"), qr/corrupted page at block 1/, 'bad gap width: the check reports it');
$node->safe_psql('postgres', 'REINDEX INDEX dr_omen');

# 9. a RUNS leaf whose run's data offset points elsewhere
patch(1, $RUN_DIR + $RUN_DIR_ENTRY * 2 + 3, pack('v', 7000), 'dr_omen');
like(probe('SELECT * FROM dr WHERE k = 2'),
	qr/index "dr_omen" contains corrupted page at block 1/, 'misplaced run: ERROR names index and block');
$node->safe_psql('postgres', 'REINDEX INDEX dr_omen');
is($node->safe_psql('postgres', "SELECT omen_index_check('dr_omen', true)"), '',
	'RUNS damage: REINDEX repairs the index');
is($node->safe_psql('postgres', 'SET enable_seqscan = off; SELECT count(*) FROM dr WHERE k BETWEEN 0 AND 99'),
	'5000', 'RUNS damage: nothing was lost');

# a build cancelled midway leaves nothing behind
$node->safe_psql('postgres', 'CREATE TABLE big (k int8); INSERT INTO big SELECT g FROM generate_series(1, 2000000) g;');
my ($ret, $out, $err) = $node->psql('postgres',
	"SET statement_timeout = '30ms'; CREATE INDEX big_omen ON big USING omen (k);");
like($err, qr/canceling statement due to statement timeout/, 'a slow build can be cancelled');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'big_omen'"), '0',
	'the cancelled build left no index');

# maintenance_work_mem at its minimum: the sort spills, the index is right;
# meanwhile pg_stat_progress_create_index shows the build's named phases
my $builder = $node->background_psql('postgres');
$builder->query_until(qr/go/, "\\echo go\nSET maintenance_work_mem = '1MB'; CREATE INDEX big_omen ON big USING omen (k);\n");
my %phases;
for (my $i = 0; $i < 2000; $i++)
{
	my $p = $node->safe_psql('postgres',
		"SELECT phase FROM pg_stat_progress_create_index WHERE relid = 'big'::regclass");
	last if $p eq '' && %phases;
	$phases{$p} = 1 if $p ne '';
	usleep(5_000);
}
$builder->quit;
ok((grep { /^building index: (scanning table|sorting keys|writing leaves|fitting model)$/ } keys %phases),
	'progress shows named build phases: ' . join(', ', sort keys %phases));
is($node->safe_psql('postgres', "SELECT omen_index_check('big_omen', true)"), '',
	'a build at minimum maintenance_work_mem passes the check');

$node->stop;
done_testing();
