# An index of on-disk format 4 (written by an earlier 0.2): its leaves
# store pending entries in their sorted entries' fields, not whole.  This
# library reads it and writes it in that format (no leaf gains the
# WIDE_PENDING flag, the metapage stays at 4) through updates, late rows,
# VACUUM and splits, answering like a sequential scan; REINDEX makes it
# format 5.  A format-4 index is made here from a new one: before any
# insert no leaf holds pending entries, so clearing the flag and setting
# the version is exactly what the earlier library wrote.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('format4');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION omen_index;
    CREATE TABLE f (k int8, pad int);
    INSERT INTO f SELECT g, 0 FROM generate_series(1, 30000) g;
    INSERT INTO f SELECT NULL, g FROM generate_series(1, 500) g;
    CREATE INDEX f_omen ON f USING omen (k);
});
my $datadir = $node->data_dir;
my $path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('f_omen')");
my $BLCKSZ = 8192;
my $FLAGS = $BLCKSZ - 56 + 48;    # OmenPageOpaqueData.flags
my $P_LEAF = 1 << 1;
my $P_WIDE_PENDING = 1 << 6;
my $VERSION = 24 + 4;             # after the page header and the magic

# the metapage's format version and how many leaves have the flag, of how many
sub read_pages
{
	open(my $fh, '<', "$datadir/$path") or die "open: $!";
	binmode $fh;
	my ($version, $leaves, $wide) = (undef, 0, 0);
	my $block = 0;
	while (sysread($fh, my $page, $BLCKSZ) == $BLCKSZ)
	{
		$version = unpack('V', substr($page, $VERSION, 4)) if $block == 0;
		my $flags = unpack('v', substr($page, $FLAGS, 2));
		if ($block > 0 && ($flags & $P_LEAF))
		{
			$leaves++;
			$wide++ if $flags & $P_WIDE_PENDING;
		}
		$block++;
	}
	close $fh;
	return ($version, $leaves, $wide);
}

# make it format 4
$node->safe_psql('postgres', 'CHECKPOINT');
$node->stop;
my ($version, $leaves, $wide) = read_pages();
is($version, 5, 'a new index is format 5');
is($wide, $leaves, "its $leaves leaves store pending entries whole");
{
	open(my $fh, '+<', "$datadir/$path") or die "open: $!";
	binmode $fh;
	my $block = 0;
	while (sysread($fh, my $page, $BLCKSZ) == $BLCKSZ)
	{
		if ($block == 0)
		{
			sysseek($fh, $VERSION, 0) or die;
			syswrite($fh, pack('V', 4)) == 4 or die;
		}
		else
		{
			my $flags = unpack('v', substr($page, $FLAGS, 2));
			if ($flags & $P_LEAF)
			{
				sysseek($fh, $block * $BLCKSZ + $FLAGS, 0) or die;
				syswrite($fh, pack('v', $flags & ~$P_WIDE_PENDING)) == 2 or die;
			}
		}
		$block++;
		sysseek($fh, $block * $BLCKSZ, 0) or die;
	}
	close $fh;
}
$node->start;
is($node->safe_psql('postgres', "SELECT omen_index_check('f_omen', true)"), '',
	'the format-4 index passes the check');

# the writes that keep far entries pending in a format-5 index
$node->safe_psql('postgres', q{
    UPDATE f SET pad = 1 WHERE k % 100 = 7;
    INSERT INTO f SELECT g * 20, 2 FROM generate_series(1, 200) g;
    VACUUM f;
    DELETE FROM f WHERE k BETWEEN 2000 AND 2700;
    VACUUM f;
    INSERT INTO f SELECT 1000 + g, 3 FROM generate_series(1, 60) g;
    INSERT INTO f SELECT NULL, -g FROM generate_series(1, 100) g;
    UPDATE f SET pad = 4 WHERE k % 10 = 3;
    VACUUM f;
});
my @queries = (
	'SELECT k, pad FROM f WHERE k = 20',
	'SELECT k, pad FROM f WHERE k < 3000',
	'SELECT k, pad FROM f WHERE k BETWEEN 10000 AND 12000',
	'SELECT k, pad FROM f WHERE k IN (7, 13, 1001, 29997, 30000)',
	'SELECT pad FROM f WHERE k IS NULL',
	'SELECT k FROM f WHERE k > 25000 ORDER BY k DESC');
sub compare
{
	my ($label) = @_;
	foreach my $q (@queries)
	{
		my $agg = "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM ($q) x";
		is($node->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; $agg"),
			$node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_indexonlyscan = off; "
				  . "SET enable_bitmapscan = off; $agg"),
			"$label: $q");
	}
	is($node->safe_psql('postgres', "SELECT omen_index_check('f_omen', true)"), '',
		"$label: the check passes");
}
compare('format 4 after writes');
ok($node->safe_psql('postgres', 'SELECT leaf_pages FROM omen_index_stats(\'f_omen\')') > $leaves,
	'late rows widened and split its leaves, as the earlier library did');

$node->safe_psql('postgres', 'CHECKPOINT');
$node->stop;
($version, $leaves, $wide) = read_pages();
is($version, 4, 'the index is still format 4');
is($wide, 0, "none of its $leaves leaves stores pending entries whole");
$node->start;

$node->safe_psql('postgres', 'REINDEX INDEX f_omen; CHECKPOINT');
$path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('f_omen')");
$node->stop;
($version, $leaves, $wide) = read_pages();
is($version, 5, 'REINDEX makes it format 5');
is($wide, $leaves, 'with every leaf storing pending entries whole');
$node->start;
compare('after REINDEX');

# a leaf without the flag in a format-5 index is damage the check reports
$path = $node->safe_psql('postgres', "SELECT pg_relation_filepath('f_omen')");
$node->stop;
{
	open(my $fh, '+<', "$datadir/$path") or die "open: $!";
	binmode $fh;
	sysseek($fh, 1 * $BLCKSZ + $FLAGS, 0) or die;
	sysread($fh, my $raw, 2) == 2 or die;
	my $flags = unpack('v', $raw);
	die "block 1 is not a leaf" unless $flags & $P_LEAF;
	sysseek($fh, 1 * $BLCKSZ + $FLAGS, 0) or die;
	syswrite($fh, pack('v', $flags & ~$P_WIDE_PENDING)) == 2 or die;
	close $fh;
}
$node->start;
my ($ret, $out, $err) = $node->psql('postgres', "SELECT omen_index_check('f_omen')");
like($err, qr/index "f_omen" contains corrupted page at block 1.*\n.*lacks the WIDE_PENDING flag in an index of format 5/,
	'the check reports a leaf whose flag does not match the format');

$node->stop;
done_testing();
