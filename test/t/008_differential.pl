# Seeded randomized differential test: every key type gets two tables with
# the same rows, one indexed with omen and one with btree.  Random writes
# (inserts of adversarial keys, appends, prepends, duplicate floods,
# deletes, key and HOT updates, VACUUM, retrains, REINDEX, index rebuilds
# with new options, TRUNCATE, CLUSTER, VACUUM FULL, some inside
# transactions that commit or roll back) go to both tables; random queries
# of every shape the README lists are answered by the omen index (index
# scan, index-only scan, bitmap scan, merge join, nested loop, cursor) and
# by an oracle (btree, or a sequential scan of the omen table), compared by
# digest, and every plan under enable_seqscan = off must use the omen
# index.  Also: ordered scans that insert into their own range halfway,
# cursors that a second session writes under, omen_index_check after
# writes, omen_index_stats' entry count after VACUUM, and after every
# round's writes a comparison of the two tables.
#
#   OMEN_FUZZ_SECONDS  how long to run (default 20)
#   OMEN_FUZZ_SEED     seed of the workload (default: random, printed)
#   OMEN_FUZZ_ROWS     largest initial load per table (default 20000)
#   OMEN_FUZZ_STEPS    stop after this many steps instead (optional)
#   OMEN_FUZZ_TYPES    comma-separated key types to test (default: all)
#   OMEN_FUZZ_PRELOAD  1: shared_preload_libraries = omen_index (the
#                      background retrain worker runs; timing then varies)
#   OMEN_FUZZ_MAX_FAILURES  stop after this many failures (default 10)
#
# A seed replays the same workload: all randomness comes from Perl's rand()
# after srand($seed).  Every failure prints the seed, the step and the SQL;
# the writes of the run are in tmp_check/log/008_differential_replay.sql.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

my $seconds = $ENV{OMEN_FUZZ_SECONDS} // 20;
my $max_rows = $ENV{OMEN_FUZZ_ROWS} // 20000;
my $max_steps = $ENV{OMEN_FUZZ_STEPS};
my $max_failures = $ENV{OMEN_FUZZ_MAX_FAILURES} // 10;
my $seed = $ENV{OMEN_FUZZ_SEED} // int(rand(2**31));
diag("OMEN_FUZZ_SEED=$seed OMEN_FUZZ_SECONDS=$seconds OMEN_FUZZ_ROWS=$max_rows"
	  . (defined $max_steps ? " OMEN_FUZZ_STEPS=$max_steps" : ''));

my $node = PostgreSQL::Test::Cluster->new('differential');
$node->init;
$node->append_conf('postgresql.conf', qq{
autovacuum = off
timezone = 'UTC'
datestyle = 'ISO, YMD'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_wal_size = 4GB
log_min_messages = warning
lock_timeout = '60s'
statement_timeout = '600s'
});
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'omen_index'\n")
  if $ENV{OMEN_FUZZ_PRELOAD};
$node->start;

# helpers in SQL: each runs a query under given planner settings and
# returns a digest (count, then a hash of the rows, in order or as a
# multiset) and the plan, catching errors so that one batch runs to its end
$node->safe_psql('postgres', q{
CREATE EXTENSION omen_index;

CREATE FUNCTION fz_set(gucs text) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE kv text;
BEGIN
    FOREACH kv IN ARRAY string_to_array(gucs, ',') LOOP
        PERFORM set_config(split_part(kv, '=', 1), split_part(kv, '=', 2), true);
    END LOOP;
END $f$;

CREATE FUNCTION fz_plan(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE l text; p text := '';
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        p := p || l || ' // ';
    END LOOP;
    RETURN p;
END $f$;

CREATE FUNCTION fz_wrap(q text, ordered bool) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
    SELECT CASE WHEN ordered
        THEN 'SELECT count(*) || '':'' || coalesce(md5(string_agg(s::text, '','')), ''-'') FROM (' || q || ') s'
        ELSE 'SELECT count(*) || '':'' || coalesce(sum(hashtext(s::text)::int8), 0) FROM (' || q || ') s'
    END
$f$;

CREATE FUNCTION fz_run(gucs text, q text, ordered bool, want_plan bool) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE d text; p text := ''; w text := fz_wrap(q, ordered);
BEGIN
    PERFORM fz_set(gucs);
    IF want_plan THEN p := fz_plan(w); END IF;
    EXECUTE w INTO d;
    RETURN d || chr(9) || p;
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || replace(SQLERRM, E'\n', ' ') || chr(9) || p;
END $f$;

-- the rows themselves, for the report of a mismatch
CREATE FUNCTION fz_rows(gucs text, q text, lim int) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM fz_set(gucs);
    RETURN QUERY EXECUTE 'SELECT s::text FROM (' || q || ') s LIMIT ' || lim;
EXCEPTION WHEN OTHERS THEN
    RETURN NEXT 'ERROR ' || SQLSTATE || ': ' || replace(SQLERRM, E'\n', ' ');
END $f$;

-- what differs between two unordered answers
CREATE FUNCTION fz_diff(ga text, qa text, gb text, qb text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM fz_set(ga);
    EXECUTE 'CREATE TEMP TABLE fz_da AS SELECT s::text AS r FROM (' || qa || ') s';
    PERFORM fz_set(gb);
    EXECUTE 'CREATE TEMP TABLE fz_db AS SELECT s::text AS r FROM (' || qb || ') s';
    RETURN QUERY SELECT 'n|' || (SELECT count(*) FROM fz_da) || '|' || (SELECT count(*) FROM fz_db)
        || '|' || (SELECT count(*) FROM (SELECT r FROM fz_da EXCEPT ALL SELECT r FROM fz_db) x)
        || '|' || (SELECT count(*) FROM (SELECT r FROM fz_db EXCEPT ALL SELECT r FROM fz_da) x);
    RETURN QUERY SELECT 'a|' || r FROM (SELECT r FROM fz_da EXCEPT ALL SELECT r FROM fz_db ORDER BY 1 LIMIT 10) x;
    RETURN QUERY SELECT 'b|' || r FROM (SELECT r FROM fz_db EXCEPT ALL SELECT r FROM fz_da ORDER BY 1 LIMIT 10) x;
    DROP TABLE fz_da;
    DROP TABLE fz_db;
EXCEPTION WHEN OTHERS THEN
    RETURN NEXT 'ERROR ' || SQLSTATE || ': ' || replace(SQLERRM, E'\n', ' ');
END $f$;

-- a scrollable cursor moved forward and backward: the keys it fetched
CREATE FUNCTION fz_cursor(gucs text, q text, moves int[], want_plan bool, raw bool DEFAULT false)
RETURNS text LANGUAGE plpgsql AS $f$
DECLARE c refcursor; v text; acc text := ''; m int; i int; n int := 0; p text := '';
BEGIN
    PERFORM fz_set(gucs);
    IF want_plan THEN p := fz_plan(q); END IF;
    OPEN c SCROLL FOR EXECUTE q;
    FOREACH m IN ARRAY moves LOOP
        FOR i IN 1 .. abs(m) LOOP
            IF m > 0 THEN FETCH NEXT FROM c INTO v; ELSE FETCH PRIOR FROM c INTO v; END IF;
            IF FOUND THEN
                acc := acc || coalesce(v, 'N') || ',';
                n := n + 1;
            ELSE
                acc := acc || '#,';
            END IF;
        END LOOP;
    END LOOP;
    CLOSE c;
    IF raw THEN RETURN acc; END IF;
    RETURN n || ':' || md5(acc) || chr(9) || p;
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || replace(SQLERRM, E'\n', ' ') || chr(9) || p;
END $f$;

-- an ordered scan that inserts into its own table after "chunk" rows
-- (splitting the leaves it is about to read); the cursor's snapshot does
-- not see the new rows
CREATE FUNCTION fz_splitscan(gucs text, q text, chunk int, ins text, want_plan bool)
RETURNS text LANGUAGE plpgsql AS $f$
DECLARE c refcursor; v text; acc text := ''; n int := 0; p text := ''; done bool := false;
BEGIN
    PERFORM fz_set(gucs);
    IF want_plan THEN p := fz_plan(q); END IF;
    OPEN c NO SCROLL FOR EXECUTE q;
    LOOP
        IF n = chunk AND NOT done THEN EXECUTE ins; done := true; END IF;
        FETCH c INTO v;
        EXIT WHEN NOT FOUND;
        acc := acc || coalesce(v, 'N') || ',';
        n := n + 1;
    END LOOP;
    CLOSE c;
    IF NOT done THEN EXECUTE ins; END IF;
    RETURN n || ':' || md5(acc) || chr(9) || p;
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || replace(SQLERRM, E'\n', ' ') || chr(9) || p;
END $f$;

-- a whole table, read sequentially
CREATE FUNCTION fz_tab(tbl text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE d text;
BEGIN
    PERFORM fz_set('enable_seqscan=on,enable_indexscan=off,enable_indexonlyscan=off,enable_bitmapscan=off');
    EXECUTE 'SELECT count(*) || '':'' || coalesce(sum(hashtext(t::text)::int8), 0) FROM ' || tbl || ' t' INTO d;
    RETURN d;
END $f$;

CREATE FUNCTION fz_check(idx text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    detail text;
BEGIN
    PERFORM omen_index_check(idx::regclass, true);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN 'ERROR ' || SQLSTATE || ': ' || replace(SQLERRM, E'\n', ' ')
        || CASE WHEN detail <> '' THEN ' DETAIL: ' || replace(detail, E'\n', ' ') ELSE '' END;
END $f$;
});

#
# Key types.  Values are handled as the integer the type stores: int2/int4/
# int8 themselves, days since 2000-01-01 for date, microseconds since
# 2000-01-01 for the timestamps; -infinity/infinity are INT32_MIN/MAX
# (date) and INT64_MIN/MAX (timestamps).
#
my $I64MIN = -9223372036854775807 - 1;
my $I64MAX = 9223372036854775807;
my $I32MIN = -2147483648;
my $I32MAX = 2147483647;
my %TYPES = (
	int8 => { lo => $I64MIN, hi => $I64MAX, sp => [], fam => 'int',
		scales => [ 10, 1000, 1e6, 1e9, 1e12, 1e15, 1e18 ] },
	int4 => { lo => $I32MIN, hi => $I32MAX, sp => [], fam => 'int',
		scales => [ 10, 1000, 1e6, 1e9 ] },
	int2 => { lo => -32768, hi => 32767, sp => [], fam => 'int',
		scales => [ 10, 100, 1000, 30000 ] },
	date => { lo => -2451545, hi => 2145031948, sp => [ $I32MIN, $I32MAX ], fam => 'date',
		scales => [ 10, 1000, 100000, 1e7, 2e9 ] },
	timestamp => { lo => -211813488000000000, hi => 9223371331199999999,
		sp => [ $I64MIN, $I64MAX ], fam => 'ts',
		scales => [ 1000, 1e6, 1e9, 1e12, 1e15, 1e18 ] },
	timestamptz => { lo => -211813488000000000, hi => 9223371331199999999,
		sp => [ $I64MIN, $I64MAX ], fam => 'ts',
		scales => [ 1000, 1e6, 1e9, 1e12, 1e15, 1e18 ] },
);
$TYPES{$_}{name} = $_ foreach keys %TYPES;
my %INTRANGE = (int2 => [ -32768, 32767 ], int4 => [ $I32MIN, $I32MAX ], int8 => [ $I64MIN, $I64MAX ]);
my @type_names = qw(int8 int4 int2 date timestamp timestamptz);
@type_names = split /,/, $ENV{OMEN_FUZZ_TYPES} if $ENV{OMEN_FUZZ_TYPES};
# int8 is the main one
my @type_weights = map { $_ eq 'int8' ? 5 : 1 } @type_names;

# Julian day to (year, month, day), as PostgreSQL's j2date
sub j2date
{
	use integer;
	my ($jd) = @_;
	my $julian = $jd + 32044;
	my $quad = $julian / 146097;
	my $extra = ($julian - $quad * 146097) * 4 + 3;
	$julian += 60 + $quad * 3 + $extra / 146097;
	$quad = $julian / 1461;
	$julian -= $quad * 1461;
	my $y = $julian * 4 / 1461;
	$julian = (($y != 0) ? (($julian + 305) % 365) : (($julian + 306) % 366)) + 123;
	$y += $quad * 4;
	my $year = $y - 4800;
	$quad = $julian * 2141 / 65536;
	my $day = $julian - 7834 * $quad / 256;
	my $month = ($quad + 10) % 12 + 1;
	return ($year, $month, $day);
}

sub ymd_str
{
	my ($days) = @_;
	my ($y, $m, $d) = j2date($days + 2451545);
	return $y <= 0 ? (sprintf('%04d-%02d-%02d', 1 - $y, $m, $d), ' BC') : (sprintf('%04d-%02d-%02d', $y, $m, $d), '');
}

# the text of a value of type $t
sub vstr
{
	my ($t, $v) = @_;
	if ($t->{fam} eq 'int')
	{
		return "$v";
	}
	elsif ($t->{fam} eq 'date')
	{
		return '-infinity' if $v == $I32MIN;
		return 'infinity' if $v == $I32MAX;
		my ($s, $bc) = ymd_str($v);
		return $s . $bc;
	}
	else
	{
		return '-infinity' if $v == $I64MIN;
		return 'infinity' if $v == $I64MAX;
		use integer;
		my $days = $v / 86400000000;
		my $rem = $v % 86400000000;
		if ($rem < 0) { $rem += 86400000000; $days -= 1; }
		my $us = $rem % 1000000;
		my $secs = $rem / 1000000;
		my ($s, $bc) = ymd_str($days);
		return sprintf('%s %02d:%02d:%02d.%06d%s', $s, $secs / 3600, ($secs / 60) % 60, $secs % 60, $us, $bc);
	}
}

# a constant of type $cast
sub lit
{
	my ($t, $v, $cast) = @_;
	$cast //= $t->{name};
	return "NULL::$cast" unless defined $v;
	return "'" . vstr($t, $v) . "'::$cast";
}

# an element of an array literal
sub elem
{
	my ($t, $v) = @_;
	return 'NULL' unless defined $v;
	return $t->{fam} eq 'int' ? "$v" : '"' . vstr($t, $v) . '"';
}

sub arr
{
	my ($t, $vals, $cast) = @_;
	$cast //= $t->{name};
	return "'{" . join(',', map { elem($t, $_) } @$vals) . "}'::${cast}[]";
}

#
# Randomness: only rand(), after srand($seed)
#
srand($seed);

sub rnd { return int(rand($_[0])); }
sub chance { return rand() < $_[0]; }
sub pick { return $_[ rnd(scalar @_) ]; }

sub wpick    # weighted: (weight, value, weight, value, ...)
{
	my @a = @_;
	my $total = 0;
	for (my $i = 0; $i < @a; $i += 2) { $total += $a[$i]; }
	my $r = rand($total);
	for (my $i = 0; $i < @a; $i += 2)
	{
		return $a[ $i + 1 ] if $r < $a[$i];
		$r -= $a[$i];
	}
	return $a[-1];
}

sub rand_u64
{
	use integer;
	my $hi = int(rand(4294967296));
	my $lo = int(rand(4294967296));
	return ($hi << 32) | $lo;
}

# uniform in [lo, hi], exactly, for any int64 bounds
sub rand_between
{
	my ($lo, $hi) = @_;
	return $lo if $lo >= $hi;
	my $spanf = ($hi + 0.0) - ($lo + 0.0);
	if ($spanf < 2**50)
	{
		my $span;
		{ use integer; $span = $hi - $lo; }
		return $lo + int(rand($span + 1));
	}
	if ($spanf < 2**61)
	{
		my $span;
		{ use integer; $span = $hi - $lo; }
		while (1)
		{
			my $r;
			{ use integer; $r = (int(rand(2**31)) << 31) | int(rand(2**31)); }
			next if $r > $span;
			{ use integer; return $lo + $r; }
		}
	}
	while (1)
	{
		my $v = rand_u64();
		return $v if $v >= $lo && $v <= $hi;
	}
}

# a + b, saturating at [lo, hi]; a is in [lo, hi]
sub sat_add
{
	my ($a, $b, $lo, $hi) = @_;
	use integer;
	if ($b > 0) { return $hi if $a > $hi - $b; }
	elsif ($b < 0) { return $lo if $a < $lo - $b; }
	return $a + $b;
}

# a float, clamped into [lo, hi], as an integer
sub f2i
{
	my ($f, $lo, $hi) = @_;
	return $lo if $f <= -9.2e18 || $f <= $lo + 0.0;
	return $hi if $f >= 9.2e18 || $f >= $hi + 0.0;
	my $i = int($f);
	return $lo if $i < $lo;
	return $hi if $i > $hi;
	return $i;
}

# a * f (f a float), saturating
sub sat_mul
{
	my ($a, $f, $lo, $hi) = @_;
	my $p = $a * $f;
	return f2i($p, $lo, $hi) if abs($p) > 2**52;
	return f2i(int($a) * int($f), $lo, $hi) if $f == int($f) && abs($p) <= 2**52;
	return f2i($p, $lo, $hi);
}

sub gauss
{
	my $u1 = rand() || 1e-12;
	my $u2 = rand();
	return sqrt(-2 * log($u1)) * cos(6.283185307179586 * $u2);
}

sub shuffle_list
{
	my @a = @_;
	for (my $i = $#a; $i > 0; $i--)
	{
		my $j = rnd($i + 1);
		@a[ $i, $j ] = @a[ $j, $i ];
	}
	return @a;
}

#
# Per-type state: a sample of the keys inserted so far (for constants that
# are present, and their neighbours that often are not), the highest key
# inserted (appends go above it), and a bound on the row count.
#
my %ST;
my $next_id = 1;

sub tstate
{
	my ($name) = @_;
	$ST{$name} //= { pool => [], hiwater => undef, rows => 0, init => 0 };
	return $ST{$name};
}

sub remember
{
	my ($t, $st, $vals) = @_;
	foreach my $v (@$vals)
	{
		next unless defined $v;
		if (@{ $st->{pool} } < 3000) { push @{ $st->{pool} }, $v; }
		elsif (chance(0.2)) { $st->{pool}[ rnd(3000) ] = $v; }
		next if grep { $_ == $v } @{ $t->{sp} };
		$st->{hiwater} = $v if !defined $st->{hiwater} || $v > $st->{hiwater};
		$st->{lowater} = $v if !defined $st->{lowater} || $v < $st->{lowater};
	}
}

sub extremes
{
	my ($t) = @_;
	return ($t->{lo}, $t->{hi}, $t->{lo} + 1, $t->{hi} - 1, @{ $t->{sp} }, @{ $t->{sp} }, 0, -1, 1);
}

# a "natural" center: 0 (the epoch for time types), a present key, an extreme
sub center
{
	my ($t, $st) = @_;
	my $r = rand();
	return 0 if $r < 0.4;
	return pick(@{ $st->{pool} }) if $r < 0.65 && @{ $st->{pool} };
	return pick($t->{lo}, $t->{hi}) if $r < 0.75;
	return rand_between($t->{lo}, $t->{hi});
}

sub finite
{
	my ($t, $v) = @_;
	return $v < $t->{lo} ? $t->{lo} : $v > $t->{hi} ? $t->{hi} : $v;
}

# n keys from one adversarial distribution
sub gen_keys
{
	my ($t, $st, $n, $kind) = @_;
	my ($lo, $hi) = ($t->{lo}, $t->{hi});
	$kind //= wpick(8 => 'uniform', 10 => 'local', 8 => 'dense', 6 => 'step', 6 => 'exp',
		5 => 'lognormal', 8 => 'dups', 3 => 'equal', 4 => 'extremes', 6 => 'append', 3 => 'prepend', 6 => 'pool');
	my @v;
	if ($kind eq 'uniform')
	{
		@v = map { rand_between($lo, $hi) } 1 .. $n;
	}
	elsif ($kind eq 'local')
	{
		my $c = finite($t, center($t, $st));
		my $w = int(pick(@{ $t->{scales} }));
		@v = map { sat_add($c, rand_between(-$w, $w), $lo, $hi) } 1 .. $n;
	}
	elsif ($kind eq 'dense')
	{
		my $c = finite($t, center($t, $st));
		my $step = pick(1, 1, 1, 2, 3, 10, 1000);
		$step = -$step if chance(0.2);
		@v = map { sat_add($c, sat_mul($_, $step, $I64MIN, $I64MAX), $lo, $hi) } 0 .. $n - 1;
	}
	elsif ($kind eq 'step')
	{
		my $c = finite($t, center($t, $st));
		my $gap = chance(0.3) ? (($hi + 0.0) - ($lo + 0.0)) / (2 + rnd(20)) : pick(@{ $t->{scales} }) * (1 + rnd(100));
		my $run = pick(1, 5, 50, 300, 1000);
		my $dir = chance(0.3) ? -1 : 1;
		@v = map { sat_add($c, sat_mul(int($_ / $run), $dir * $gap, $I64MIN, $I64MAX), $lo, $hi) } 0 .. $n - 1;
	}
	elsif ($kind eq 'exp')
	{
		my $c = finite($t, center($t, $st));
		my $scale = pick(@{ $t->{scales} }) / pick(1, 10, 1000);
		my $sign = chance(0.5) ? 1 : -1;
		@v = map { sat_add($c, f2i($sign * -log(1 - rand()) * $scale, $I64MIN + 1, $I64MAX), $lo, $hi) } 1 .. $n;
	}
	elsif ($kind eq 'lognormal')
	{
		my $c = finite($t, center($t, $st));
		my $sigma = pick(1, 2, 4, 8);
		my $sign = chance(0.5) ? 1 : -1;
		@v = map { sat_add($c, f2i($sign * exp(gauss() * $sigma), $I64MIN + 1, $I64MAX), $lo, $hi) } 1 .. $n;
	}
	elsif ($kind eq 'dups')
	{
		my @d = gen_keys($t, $st, 1 + rnd(6), pick('local', 'extremes', 'pool', 'uniform'));
		@v = map { $d[ rnd(scalar @d) ] } 1 .. $n;
		@v = sort { $a <=> $b } @v if chance(0.5);
	}
	elsif ($kind eq 'equal')
	{
		my ($x) = gen_keys($t, $st, 1, pick('local', 'extremes', 'pool'));
		@v = ($x) x $n;
	}
	elsif ($kind eq 'extremes')
	{
		my @e = extremes($t);
		@v = map { pick(@e) } 1 .. $n;
	}
	elsif ($kind eq 'append')
	{
		my $c = $st->{hiwater} // finite($t, center($t, $st));
		my $step = pick(1, 1, 2, 10, 1000, int(pick(@{ $t->{scales} })));
		my $x = $c;
		foreach (1 .. $n)
		{
			$x = sat_add($x, chance(0.1) ? 0 : $step, $lo, $hi);
			push @v, $x;
		}
	}
	elsif ($kind eq 'prepend')
	{
		# below the lowest key: new leaves at the left end
		my $c = $st->{lowater} // finite($t, center($t, $st));
		my $step = pick(1, 1, 2, 10, 1000, int(pick(@{ $t->{scales} })));
		my $x = $c;
		foreach (1 .. $n)
		{
			$x = sat_add($x, chance(0.1) ? 0 : -$step, $lo, $hi);
			push @v, $x;
		}
	}
	elsif ($kind eq 'pool')
	{
		return gen_keys($t, $st, $n, 'local') unless @{ $st->{pool} };
		@v = map { my $p = pick(@{ $st->{pool} }); chance(0.7) ? $p : sat_add(finite($t, $p), pick(-1, 1), $lo, $hi) } 1 .. $n;
	}
	return @v;
}

# a batch: one to three distributions, in some order, with NULLs
sub gen_batch
{
	my ($t, $st, $n, $kind) = @_;
	my @v;
	my $parts = $kind ? 1 : wpick(6 => 1, 3 => 2, 1 => 3);
	foreach my $p (1 .. $parts)
	{
		my $m = $p == $parts ? $n - @v : rnd($n - @v + 1);
		push @v, gen_keys($t, $st, $m, $kind);
	}
	my $order = wpick(5 => 'asis', 3 => 'shuffle', 2 => 'asc', 1 => 'desc');
	@v = shuffle_list(@v) if $order eq 'shuffle';
	@v = sort { $a <=> $b } @v if $order eq 'asc';
	@v = sort { $b <=> $a } @v if $order eq 'desc';
	my $pnull = wpick(5 => 0, 4 => 0.02, 2 => 0.2, 1 => ($n < 50 ? 1 : 0.5));
	@v = map { chance($pnull) ? undef : $_ } @v if $pnull > 0;
	return @v;
}

#
# psql sessions: long-lived (each backend keeps its own cached model while
# other sessions write and retrain), fed a script, read up to a banner
#
my $psql = $node->installed_command('psql');
my $script_dir = PostgreSQL::Test::Utils::tempdir;
my $replay_file = "$PostgreSQL::Test::Utils::log_path/008_differential_replay.sql";
open(my $replay, '>', $replay_file) or die "cannot open $replay_file: $!";
print $replay "-- seed $seed\n";

sub sess_open
{
	my ($name) = @_;
	my $s = { name => $name, in => '', out => '', err => '', n => 0 };
	$s->{timer} = IPC::Run::timeout(900);
	$s->{h} = IPC::Run::start(
		[ $psql, '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err}, $s->{timer});
	my ($o, $e, $alive) = sess_run($s, "SET client_min_messages = warning;", 1);
	die "psql session $name did not start: $e" unless $alive;
	return $s;
}

sub sess_close
{
	my ($s) = @_;
	eval { $s->{in} .= "\\q\n"; $s->{h}->finish; };
}

# (stdout, stderr, alive)
sub sess_run
{
	my ($s, $script, $nolog) = @_;
	$s->{n}++;
	my $banner = "FZEND_$s->{n}";
	$s->{out} = '';
	$s->{err} = '';
	# the script goes through a file: large writes into psql's stdin can
	# fail with EAGAIN inside IPC::Run
	my $file = "$script_dir/$s->{name}.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh "$script\n";
	close($fh);
	$s->{in} .= "\\i $file\n\\echo $banner\n\\warn $banner\n";
	print $replay "-- session $s->{name}\n$script\n" unless $nolog;
	$s->{timer}->start(900);
	my $alive = 1;
	eval {
		while (!($s->{out} =~ /^$banner$/m && $s->{err} =~ /^$banner$/m))
		{
			die "psql exited\n" unless $s->{h}->pumpable;
			$s->{h}->pump;
		}
		1;
	} or do {
		$alive = 0;
		$s->{why} = "psql session $s->{name} lost: $@ (stderr: " . substr($s->{err}, -1000) . ")";
		eval { $s->{h}->kill_kill; };
		my $res = eval { $s->{h}->full_result; };
		$s->{why} .= " exit status " . ($res // '?');
	};
	my ($out, $err) = ($s->{out}, $s->{err});
	$out =~ s/^$banner\n//m;
	$err =~ s/^$banner\n//m;
	return ($out, $err, $alive);
}

# errors in a script's stderr, each with the tag (\warn) before it
sub script_errors
{
	my ($err) = @_;
	my @errs;
	my $tag = '';
	foreach my $line (split /\n/, $err)
	{
		if ($line =~ /^(S\d+\w*|Q\d+:\w+|C\w+|T\w+)$/) { $tag = $1; next; }
		push @errs, [ $tag, $line ] if $line =~ /ERROR|FATAL|PANIC|server closed|connection|terminat/;
	}
	return @errs;
}

#
# Planner settings
#
my @KNOBS = qw(seqscan indexscan indexonlyscan bitmapscan hashjoin mergejoin nestloop);
my %MODES = (
	idx => [ 0, 1, 0, 0, 1, 1, 1 ],    # omen index scan
	ios => [ 0, 1, 1, 0, 1, 1, 1 ],    # omen index-only scan
	bmp => [ 0, 0, 0, 1, 1, 1, 1 ],    # omen bitmap scan
	mj  => [ 0, 1, 1, 0, 0, 1, 0 ],    # merge join over omen
	nl  => [ 0, 1, 1, 0, 0, 0, 1 ],    # nested loop, omen inner
	seq => [ 1, 0, 0, 0, 1, 1, 1 ],    # oracle: sequential scan of the omen table
	bt  => [ 1, 1, 1, 1, 1, 1, 1 ],    # oracle: the btree table, planner's choice
	bti => [ 0, 1, 1, 0, 1, 1, 1 ],    # oracle: the btree table through btree
);
my %ORACLE = (seq => 1, bt => 1, bti => 1);

sub gucs
{
	my ($mode) = @_;
	my @v = @{ $MODES{$mode} };
	return join(',', map { "enable_$KNOBS[$_]=" . ($v[$_] ? 'on' : 'off') } 0 .. $#KNOBS);
}

sub set_stmts
{
	my ($mode) = @_;
	my @v = @{ $MODES{$mode} };
	return join(' ', map { "SET enable_$KNOBS[$_] = " . ($v[$_] ? 'on' : 'off') . ';' } 0 .. $#KNOBS);
}

# the query of one run: omen modes and the seq oracle read the omen table
sub subst
{
	my ($sql, $tname, $mode) = @_;
	my $tt = ($mode eq 'bt' || $mode eq 'bti') ? "b_$tname" : "o_$tname";
	my $pre = ($mode eq 'bt' || $mode eq 'bti') ? 'b' : 'o';
	$sql =~ s/\{T\}/$tt/g;
	$sql =~ s/\{B\}/b_$tname/g;
	$sql =~ s/\{T:(\w+)\}/${pre}_$1/g;    # another type's table under test
	$sql =~ s/\{B:(\w+)\}/b_$1/g;
	return $sql;
}

#
# Constants and predicates
#
sub cval
{
	my ($t, $st) = @_;
	my $r = rand();
	my @pool = @{ $st->{pool} };
	return undef if $r < 0.015;
	return pick(@pool) if $r < 0.35 && @pool;
	return sat_add(finite($t, pick(@pool)), pick(-1, 1, -2, 2, 100), $t->{lo}, $t->{hi}) if $r < 0.5 && @pool;
	return pick(extremes($t)) if $r < 0.62;
	my ($v) = gen_keys($t, $st, 1, pick('local', 'local', 'uniform', 'exp'));
	return $v;
}

# a constant to compare the key with, cross-type for the integers, maybe
# outside the column's range, maybe a runtime key (an InitPlan)
sub cexpr
{
	my ($t, $st, $v) = @_;
	$v = cval($t, $st) if @_ < 3;
	my $sql;
	if ($t->{fam} eq 'int')
	{
		if (defined $v && $t->{name} ne 'int8' && chance(0.08))
		{
			$v = pick($I64MIN, $I64MAX, $I32MIN, $I32MAX, $t->{hi} + 1, $t->{lo} - 1,
				rand_between($I64MIN, $I64MAX), 40000, -40000, 3000000000);
		}
		if (!defined $v)
		{
			$sql = 'NULL::' . pick('int8', 'int4', 'int2', $t->{name});
		}
		else
		{
			my @casts = grep { $v >= $INTRANGE{$_}[0] && $v <= $INTRANGE{$_}[1] } qw(int2 int4 int8);
			my $cast = pick(@casts, $t->{name});
			$cast = $casts[-1] unless grep { $_ eq $cast } @casts;
			if (chance(0.3) && $v != $I64MIN && $cast ne 'int2')
			{
				$sql = "$v";    # a bare literal: int4 or int8 by size
			}
			else
			{
				$sql = "'$v'::$cast";
			}
		}
	}
	else
	{
		$sql = lit($t, $v);
	}
	$sql = "(SELECT $sql)" if chance(0.07);
	return $sql;
}

# an array of constants for = ANY: same type or cross-type integers
sub carray
{
	my ($t, $st) = @_;
	my $n = wpick(1 => 0, 3 => 1, 6 => 2 + rnd(5), 2 => 8 + rnd(40), 1 => 100 + rnd(1500));
	my @v = map { cval($t, $st) } 1 .. $n;
	push @v, $v[0] if @v && chance(0.3);    # a duplicate
	push @v, undef if chance(0.15);
	my $cast = $t->{name};
	if ($t->{fam} eq 'int' && chance(0.5))
	{
		$cast = pick('int2', 'int4', 'int8');
		# a wider array type: elements outside the column's range too
		push @v, pick($INTRANGE{$cast}[0], $INTRANGE{$cast}[1], $t->{hi} + 1, $t->{lo} - 1)
		  if $INTRANGE{$cast}[1] > $t->{hi} && chance(0.5);
		@v = grep { !defined $_ || ($_ >= $INTRANGE{$cast}[0] && $_ <= $INTRANGE{$cast}[1]) } @v;
	}
	@v = shuffle_list(@v);
	return "(SELECT NULL::${cast}[])::${cast}[]" if chance(0.01);
	my $a = (chance(0.15) && @v) ? 'ARRAY[' . join(', ', map { lit($t, $_, $cast) } @v) . ']' : arr($t, \@v, $cast);
	$a = "(SELECT $a)::${cast}[]" if chance(0.05);    # a runtime array (InitPlan)
	return $a;
}

# (sql, uses OR)
sub gen_pred
{
	my ($t, $st) = @_;
	my $shape = wpick(18 => 'cmp', 12 => 'between', 16 => 'conj', 12 => 'any', 7 => 'in',
		6 => 'null', 6 => 'nullconj', 5 => 'eqconj', 5 => 'or', 6 => 'anyconj', 4 => 'narrow',
		4 => 'anyineq', 3 => 'anyany');
	my @ops = ('=', '<', '<=', '>', '>=');
	if ($shape eq 'cmp')
	{
		return ('k ' . pick(@ops) . ' ' . cexpr($t, $st), 0);
	}
	elsif ($shape eq 'between')
	{
		my ($a, $b) = (cval($t, $st), cval($t, $st));
		($a, $b) = ($b, $a) if defined $a && defined $b && $a > $b && chance(0.8);
		return ('k BETWEEN ' . cexpr($t, $st, $a) . ' AND ' . cexpr($t, $st, $b), 0);
	}
	elsif ($shape eq 'conj')
	{
		my $n = 2 + rnd(2);
		return (join(' AND ', map { 'k ' . pick(@ops[ 1 .. 4 ]) . ' ' . cexpr($t, $st) } 1 .. $n), 0);
	}
	elsif ($shape eq 'narrow')
	{
		# bounds close to each other: empty, one key, contradictory
		my $v = cval($t, $st) // 0;
		$v = finite($t, $v);
		my @b = map { sat_add($v, rnd(5) - 2, $t->{lo}, $t->{hi}) } 1 .. 3;
		my $n = 2 + rnd(2);
		return (join(' AND ', map { 'k ' . pick(@ops) . ' ' . cexpr($t, $st, $b[ $_ - 1 ]) } 1 .. $n), 0);
	}
	elsif ($shape eq 'any')
	{
		return ('k = ANY(' . carray($t, $st) . ')', 0);
	}
	elsif ($shape eq 'in')
	{
		my @c = map { cexpr($t, $st) } 1 .. 1 + rnd(6);
		push @c, $c[0] if chance(0.3);
		push @c, 'NULL' if chance(0.2);
		return ('k IN (' . join(', ', shuffle_list(@c)) . ')', 0);
	}
	elsif ($shape eq 'null')
	{
		return (pick('k IS NULL', 'k IS NOT NULL'), 0);
	}
	elsif ($shape eq 'nullconj')
	{
		return (pick('k IS NULL', 'k IS NOT NULL') . ' AND k ' . pick(@ops) . ' ' . cexpr($t, $st), 0);
	}
	elsif ($shape eq 'eqconj')
	{
		return ('k = ' . cexpr($t, $st) . ' AND k ' . pick(@ops) . ' ' . cexpr($t, $st), 0);
	}
	elsif ($shape eq 'anyineq')
	{
		# an inequality against any element: an index condition for btree
		return ('k ' . pick(@ops[ 1 .. 4 ]) . ' ANY(' . carray($t, $st) . ')'
			  . (chance(0.3) ? ' AND k ' . pick(@ops[ 1 .. 4 ]) . ' ' . cexpr($t, $st) : ''), 0);
	}
	elsif ($shape eq 'anyany')
	{
		# two arrays on the one column
		return ('k = ANY(' . carray($t, $st) . ') AND k ' . pick('=', '=', '<', '>=') . ' ANY(' . carray($t, $st) . ')', 0);
	}
	elsif ($shape eq 'anyconj')
	{
		return ('k = ANY(' . carray($t, $st) . ') AND k ' . pick(@ops[ 1 .. 4 ]) . ' ' . cexpr($t, $st), 0);
	}
	else
	{
		my @d = ('k ' . pick(@ops) . ' ' . cexpr($t, $st), 'k ' . pick(@ops) . ' ' . cexpr($t, $st));
		push @d, 'k IS NULL' if chance(0.3);
		return ('(' . join(' OR ', @d) . ')', 1);
	}
}

#
# Queries: { sql (with {T}, {B}), ordered, modes (omen), fn (run|cursor) }
#
sub gen_query
{
	my ($t, $st) = @_;
	my $shape = wpick(12 => 'rows', 12 => 'keys', 8 => 'count', 12 => 'order', 8 => 'orderrows',
		6 => 'minmax', 4 => 'agg', 3 => 'distinct', 2 => 'countall', 4 => 'mj', 5 => 'nl',
		3 => 'nlrange', 3 => 'lateral', 2 => 'lateralany', 4 => 'cursor', 2 => 'semi', 3 => 'mjsemi', ($t->{fam} eq 'int' ? (3 => 'mjx') : ()));
	my ($p, $or) = gen_pred($t, $st);
	my $w = "WHERE $p";
	my $q = { shape => $shape, ordered => 0, fn => 'run' };
	my $desc = chance(0.4) ? ' DESC' : '';
	my $lim = pick(1, 1, 2, 5, 10, 50, 500, 5000);
	# OR: only a bitmap scan uses the index (or the order of an index scan)
	my @qual_modes = $or ? ('bmp') : ('idx', 'bmp');
	if ($shape eq 'rows')
	{
		$q->{sql} = "SELECT * FROM {T} $w";
		$q->{modes} = [@qual_modes];
	}
	elsif ($shape eq 'keys')
	{
		$q->{sql} = "SELECT k FROM {T} $w";
		$q->{modes} = $or ? ['bmp'] : [ 'idx', 'ios', 'bmp' ];
	}
	elsif ($shape eq 'count')
	{
		$q->{sql} = "SELECT count(*) FROM {T} $w";
		$q->{modes} = $or ? ['bmp'] : [ 'idx', 'ios', 'bmp' ];
	}
	elsif ($shape eq 'countall')
	{
		$q->{sql} = "SELECT count(*), count(k) FROM {T}";
		$q->{modes} = ['ios'];
	}
	elsif ($shape eq 'order')
	{
		my $where = chance(0.75) ? " $w" : '';
		my $l = chance(0.7) ? " LIMIT $lim" : '';
		$l .= ' OFFSET ' . pick(1, 3, 100) if $l && chance(0.15);
		$q->{sql} = "SELECT k FROM {T}$where ORDER BY k$desc$l";
		$q->{ordered} = 1;
		$q->{modes} = [ 'idx', 'ios', ($where ? ('bmp') : ()) ];
	}
	elsif ($shape eq 'orderrows')
	{
		my $where = chance(0.75) ? " $w" : '';
		my $l = ($where && chance(0.3)) ? '' : " LIMIT $lim";
		$q->{sql} = "SELECT * FROM {T}$where ORDER BY k$desc, id$desc$l";
		$q->{ordered} = 1;
		$q->{modes} = [ 'idx', ($where ? ('bmp') : ()) ];
	}
	elsif ($shape eq 'minmax')
	{
		my $where = chance(0.6) ? " $w" : '';
		my $sel = pick('min(k)', 'max(k)', 'min(k), max(k)');
		$q->{sql} = "SELECT $sel FROM {T}$where";
		$q->{ordered} = 1;
		$q->{modes} = [ 'idx', 'ios', ($where ? ('bmp') : ()) ];
	}
	elsif ($shape eq 'agg')
	{
		$q->{sql} = "SELECT min(k), max(k), count(*), count(k) FROM {T} $w";
		$q->{ordered} = 1;
		$q->{modes} = $or ? ['bmp'] : [ 'idx', 'ios', 'bmp' ];
	}
	elsif ($shape eq 'distinct')
	{
		$q->{sql} = pick("SELECT DISTINCT k FROM {T} $w ORDER BY k$desc",
			"SELECT k, count(*) FROM {T} $w GROUP BY k ORDER BY k$desc");
		$q->{ordered} = 1;
		$q->{modes} = $or ? ['bmp'] : [ 'idx', 'ios' ];
	}
	elsif ($shape eq 'mj')
	{
		# merge join on k; the id filters bound the size of duplicate groups
		my $n = $st->{rows} + 1;
		my $m1 = 1 + rnd(30) + int($n / 400);
		my $m2 = 1 + rnd(30) + int($n / 400);
		my ($r1, $r2) = (rnd($m1), rnd($m2));
		my $other = chance(0.3) ? '{T}' : '{B}';
		(my $xp = $p) =~ s/\bk\b/x.k/g;
		my $extra = chance(0.5) ? " AND $xp" : '';
		$extra = '' if $or;
		$q->{sql} = chance(0.5)
		  ? "SELECT x.id, x.k, y.id FROM {T} x JOIN $other y ON x.k = y.k WHERE x.id % $m1 = $r1 AND y.id % $m2 = $r2$extra"
		  : "SELECT x.id, x.k, y.id FROM $other y JOIN {T} x ON y.k = x.k WHERE x.id % $m1 = $r1 AND y.id % $m2 = $r2$extra";
		$q->{modes} = ['mj'];
	}
	elsif ($shape eq 'mjsemi')
	{
		# merge semi and anti joins
		my $m1 = 1 + rnd(10);
		my $r1 = rnd($m1);
		my $other = chance(0.5) ? '{B}' : '{T}';
		my $not = chance(0.5) ? 'NOT ' : '';
		$q->{sql} = chance(0.5)
		  ? "SELECT y.id, y.k FROM $other y WHERE y.id % $m1 = $r1 AND ${not}EXISTS (SELECT 1 FROM {T} x WHERE x.k = y.k)"
		  : "SELECT x.id, x.k FROM {T} x WHERE x.id % $m1 = $r1 AND ${not}EXISTS (SELECT 1 FROM $other y WHERE y.k = x.k AND y.id % 3 = 0)";
		$q->{modes} = ['mj'];
	}
	elsif ($shape eq 'mjx')
	{
		# cross-type merge join with another integer type's table
		my @others = grep { $_ ne $t->{name} && $TYPES{$_}{fam} eq 'int' && $ST{$_} && $ST{$_}{init} } @type_names;
		my $o = @others ? pick(@others) : $t->{name};
		my $n = $st->{rows} + ($ST{$o} ? $ST{$o}{rows} : 0) + 1;
		my $m1 = 1 + rnd(30) + int($n / 600);
		my $m2 = 1 + rnd(30) + int($n / 600);
		my ($r1, $r2) = (rnd($m1), rnd($m2));
		my $other = chance(0.5) ? "{T:$o}" : "{B:$o}";
		$q->{sql} = "SELECT x.id, x.k, y.id, y.k FROM {T} x JOIN $other y ON x.k = y.k WHERE x.id % $m1 = $r1 AND y.id % $m2 = $r2";
		$q->{modes} = ['mj'];
	}
	elsif ($shape eq 'semi')
	{
		# IN (subquery): unique-ified probes into the omen index
		my $a = carray($t, $st);
		$q->{sql} = "SELECT * FROM {T} WHERE k IN (SELECT unnest($a))";
		$q->{modes} = ['nl'];
	}
	elsif ($shape eq 'nl')
	{
		# equality probes from a list: omen is the inner side
		my $a = carray($t, $st);
		my $filter = $st->{rows} > 5000 ? ' AND t.id % ' . (2 + rnd(20)) . ' = 1' : '';
		$q->{sql} = "SELECT v.o, t.id, t.k FROM unnest($a) WITH ORDINALITY v(x, o) JOIN {T} t ON t.k = v.x$filter";
		$q->{modes} = [ 'nl', 'idx' ];
	}
	elsif ($shape eq 'nlrange')
	{
		# range probes: each outer row rescans the index with new bounds
		my $n = 1 + rnd(8);
		my (@x, @y);
		foreach (1 .. $n)
		{
			my $v = finite($t, cval($t, $st) // 0);
			push @x, $v;
			push @y, sat_add($v, rand_between(0, int(pick(@{ $t->{scales} }))), $t->{lo}, $t->{hi});
		}
		my ($o1, $o2) = (pick('>=', '>'), pick('<', '<='));
		$q->{sql} = "SELECT v.o, t.id, t.k FROM unnest(" . arr($t, \@x) . ', ' . arr($t, \@y)
		  . ") WITH ORDINALITY v(x, y, o) JOIN {T} t ON t.k $o1 v.x AND t.k $o2 v.y";
		$q->{modes} = [ 'nl', 'idx' ];
	}
	elsif ($shape eq 'lateral')
	{
		my $a = carray($t, $st);
		my ($op, $d) = chance(0.5) ? ('>=', '') : ('<=', ' DESC');
		my $l = pick(1, 2, 3, 10);
		$q->{sql} = "SELECT v.o, s.k FROM unnest($a) WITH ORDINALITY v(x, o) "
		  . "CROSS JOIN LATERAL (SELECT k FROM {T} WHERE k $op v.x ORDER BY k$d LIMIT $l) s";
		$q->{modes} = [ 'nl', 'ios' ];
	}
	elsif ($shape eq 'lateralany')
	{
		# a different array for each outer row: array keys on rescan
		my @rows = map { carray($t, $st) } 1 .. 1 + rnd(5);
		my $vals = join(', ', map { "($_, $rows[$_ - 1])" } 1 .. @rows);
		my $lim = chance(0.5) ? ' ORDER BY k LIMIT ' . pick(1, 3, 20) : '';
		$q->{sql} = "SELECT v.o, s.k FROM (VALUES $vals) v(o, a) CROSS JOIN LATERAL (SELECT k FROM {T} WHERE k = ANY(v.a)$lim) s";
		$q->{modes} = [ 'nl', 'ios' ];
	}
	elsif ($shape eq 'cursor')
	{
		my $where = chance(0.75) && !$or ? " $w" : '';
		$q->{sql} = "SELECT k FROM {T}$where ORDER BY k$desc";
		$q->{moves} = '{' . join(',', map { (chance(0.6) ? 1 : -1) * (1 + rnd(pick(3, 20, 200))) } 1 .. 1 + rnd(6)) . '}';
		$q->{fn} = 'cursor';
		$q->{ordered} = 1;
		$q->{modes} = [ 'idx', 'ios' ];
	}
	return $q;
}

#
# Statistics and failures
#
my %stat = (steps => 0, writes => 0, queries => 0, runs => 0, compared => 0, rows => 0,
	checks => 0, rounds => 0, splitscans => 0, xscans => 0, stale_rounds => 0);
my %plan_seen;
my %shape_seen;
my @failures;
my %fail_kinds;
my $step = 0;
my $stop = 0;

sub failure
{
	my ($kind, $msg) = @_;
	$fail_kinds{$kind}++;
	# at most three reports of one kind
	if ($fail_kinds{$kind} <= 3)
	{
		fail("$kind (seed $seed, step $step)");
		diag("$kind\nOMEN_FUZZ_SEED=$seed step=$step\n$msg\n(writes of the run: $replay_file)");
	}
	push @failures, $kind;
	$stop = 1 if @failures >= $max_failures;
}

sub server_alive
{
	my $ok = eval { $node->safe_psql('postgres', 'SELECT 1'); 1; };
	return $ok;
}

sub crash_report
{
	my ($what) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
	# the server's messages (not the statements it logged), the last ones
	my @lines = grep { /^\d{4}-\d\d-\d\d / && !/LOG:  statement: / || /TRAP/ } split /\n/, $log;
	@lines = @lines[ $#lines - 40 .. $#lines ] if @lines > 41;
	failure('crash', "$what\nserver log:\n" . join("\n", @lines));
	$stop = 1;
}

my ($W, $R);    # the writer's and the reader's sessions

# run statements on a session; report errors (and crashes)
sub run_writes
{
	my ($s, $script, $what) = @_;
	my ($out, $err, $alive) = sess_run($s, $script);
	my @errs = script_errors($err);
	if (!$alive || !server_alive())
	{
		my @tags = $err =~ /^(S\d+\w*)$/mg;
		my $stmt = '';
		if (@tags && $script =~ /\\warn $tags[-1]\n(.*?)(\n\\warn |\z)/s) { $stmt = $1; }
		crash_report("the server or psql died during: $what\n" . ($s->{why} // '') . "\nthe statement:\n"
			  . abbreviate($stmt) . "\nstderr:\n" . substr($err, -3000));
		return undef;
	}
	if (@errs)
	{
		my %bytag;
		push @{ $bytag{ $_->[0] } }, $_->[1] foreach @errs;
		my $detail = join("\n", map { "$_: " . join(' | ', @{ $bytag{$_} }) } sort keys %bytag);
		# the statement of the first failing tag
		my ($tag) = $errs[0][0];
		my $stmt = '';
		if ($script =~ /\\warn $tag\n(.*?)(\n\\warn |\z)/s) { $stmt = $1; }
		failure("error in write", "$what: $detail\nstatement:\n" . substr($stmt, 0, 4000));
	}
	return $out;
}

#
# Tables
#
sub table_sql
{
	my ($tname, $ff) = @_;
	my $with = $ff ? " WITH (fillfactor = $ff)" : '';
	my $unlogged = chance(0.1) ? ' UNLOGGED' : '';
	return "DROP TABLE IF EXISTS o_$tname, b_$tname;\n"
	  . "CREATE$unlogged TABLE o_$tname (id int8, k $tname, pay text, pad int)$with;\n"
	  . "CREATE$unlogged TABLE b_$tname (id int8, k $tname, pay text, pad int)$with;\n";
}

sub omen_index_sql
{
	my ($tname, $conc) = @_;
	my @opts;
	# small epsilons and fillfactors: more leaves, more model segments
	push @opts, 'epsilon = ' . pick(1, 1, 2, 4, 8, 16, 64, 1024, 65536) if chance(0.7);
	push @opts, 'fillfactor = ' . pick(10, 10, 20, 30, 50, 75, 90, 100) if chance(0.7);
	my $with = @opts ? ' WITH (' . join(', ', @opts) . ')' : '';
	my $c = $conc ? ' CONCURRENTLY' : '';
	return "CREATE INDEX$c o_${tname}_omen ON o_$tname USING omen (k)$with;";
}

# an INSERT of these keys into {X}, ids assigned here
sub insert_sql
{
	my ($t, $vals) = @_;
	my $base = $next_id - 1;
	$next_id += @$vals;
	return "INSERT INTO {X} (id, k, pay, pad) SELECT $base + u.o, u.x, repeat(md5(($base + u.o)::text), (($base + u.o) % 4)::int + 1), (($base + u.o) % 1000)::int FROM unnest("
	  . arr($t, $vals) . ") WITH ORDINALITY u(x, o);";
}

# a statement for both tables (o first), each behind a tag
sub both
{
	my ($tname, $sql) = @_;
	$step++;
	$stat{steps}++;
	$stat{writes}++;
	my ($o, $b) = ($sql, $sql);
	$o =~ s/\{X\}/o_$tname/g;
	$b =~ s/\{X\}/b_$tname/g;
	return "\\warn S${step}o\n$o\n\\warn S${step}b\n$b\n";
}

sub omen_only
{
	my ($sql) = @_;
	$step++;
	$stat{steps}++;
	$stat{writes}++;
	return "\\warn S${step}\n$sql\n";
}

sub load_size
{
	return wpick(4 => 0, 4 => 1, 6 => 2 + rnd(20), 20 => 20 + rnd(1000), 40 => 1000 + rnd($max_rows > 1000 ? $max_rows - 999 : 1), 16 => $max_rows);
}

# drop, create and load a table pair; index before, after or in between
sub setup_type
{
	my ($tname) = @_;
	my $t = $TYPES{$tname};
	my $st = tstate($tname);
	$st->{pool} = [];
	$st->{hiwater} = undef;
	$st->{lowater} = undef;
	my $n = load_size();
	my @vals = gen_batch($t, $st, $n);
	my $when = wpick(5 => 'after', 3 => 'before', 2 => 'between');
	my $split = $when eq 'after' ? scalar @vals : $when eq 'before' ? 0 : rnd(@vals + 1);
	my $script = table_sql($tname, chance(0.2) ? pick(50, 70) : 0);
	my @parts = ([ @vals[ 0 .. $split - 1 ] ], [ @vals[ $split .. $#vals ] ]);
	foreach my $part (0, 1)
	{
		if ($part == 1)
		{
			$script .= omen_only(omen_index_sql($tname, 0)) . "CREATE INDEX b_${tname}_bt ON b_$tname (k);\n";
		}
		my @p = @{ $parts[$part] };
		for (my $i = 0; $i < @p; $i += 5000)
		{
			my $end = $i + 4999 < $#p ? $i + 4999 : $#p;
			$script .= both($tname, insert_sql($t, [ @p[ $i .. $end ] ]));
		}
	}
	$script .= "ANALYZE o_$tname; ANALYZE b_$tname;\n" if chance(0.7);
	remember($t, $st, \@vals);
	$st->{rows} = scalar @vals;
	$st->{init} = 1;
	$st->{how} = "$n rows, index $when load";
	return $script;
}

#
# Writes
#
sub range_pred
{
	my ($t, $st) = @_;
	my ($p, $or) = gen_pred($t, $st);
	return $p;
}

sub gen_write
{
	my ($tname, $intxn) = @_;
	my $t = $TYPES{$tname};
	my $st = tstate($tname);
	my $op = wpick(30 => 'insert', 10 => 'append', 8 => 'dupflood', 8 => 'delete', 4 => 'deleteid',
		6 => 'update', 4 => 'updshift', 4 => 'hot', 6 => 'vacuum', 3 => 'analyze', 6 => 'retrain',
		3 => 'retrainfull', 2 => 'reindex', 2 => 'recreate', 1 => 'truncate', 1 => 'vacfull',
		1 => 'cluster', 1 => 'setup');
	if ($intxn && $op =~ /^(vacuum|vacfull|reindex|recreate|setup|cluster)$/)
	{
		$op = 'insert';
	}
	my $o = "o_$tname";
	my $omen = "o_${tname}_omen";
	if ($op eq 'insert')
	{
		my $n = wpick(3 => 1, 4 => 2 + rnd(30), 4 => 30 + rnd(500), 2 => 500 + rnd(3000));
		my @v = gen_batch($t, $st, $n);
		remember($t, $st, \@v);
		$st->{rows} += $n;
		return ("insert $n", both($tname, insert_sql($t, \@v)));
	}
	elsif ($op eq 'append')
	{
		my $n = wpick(3 => 1 + rnd(10), 4 => 10 + rnd(500), 2 => 500 + rnd(3000));
		my @v = gen_keys($t, $st, $n, chance(0.75) ? 'append' : 'prepend');
		remember($t, $st, \@v);
		$st->{rows} += $n;
		return ("append $n", both($tname, insert_sql($t, \@v)));
	}
	elsif ($op eq 'dupflood')
	{
		# many copies of one key: a long duplicate run across leaves
		my $n = wpick(3 => 50 + rnd(500), 2 => 500 + rnd(3000));
		my ($v) = @{ $st->{pool} } && chance(0.7) ? (pick(@{ $st->{pool} })) : gen_keys($t, $st, 1, 'extremes');
		my @v = ($v) x $n;
		remember($t, $st, [$v]);
		$st->{rows} += $n;
		return ("dupflood $n", both($tname, insert_sql($t, \@v)));
	}
	elsif ($op eq 'delete')
	{
		return ('delete', both($tname, 'DELETE FROM {X} WHERE ' . range_pred($t, $st) . ';'));
	}
	elsif ($op eq 'deleteid')
	{
		my $m = 2 + rnd(10);
		return ('deleteid', both($tname, "DELETE FROM {X} WHERE id % $m = " . rnd($m) . ';'));
	}
	elsif ($op eq 'update')
	{
		my $v = cval($t, $st);
		remember($t, $st, [$v]);
		return ('update', both($tname, 'UPDATE {X} SET k = ' . lit($t, $v) . ' WHERE ' . range_pred($t, $st)
			  . ' AND id % ' . (1 + rnd(5)) . ' = 0;'));
	}
	elsif ($op eq 'updshift')
	{
		# k = k + c over a range where it cannot overflow
		my $c = pick(1, -1, 2, 7, -100, int(pick(@{ $t->{scales} })));
		$c = -$c if chance(0.3);
		my ($lo, $hi) = ($t->{lo}, $t->{hi});
		my $a = finite($t, cval($t, $st) // 0);
		my $b = sat_add($a, rand_between(0, int(pick(@{ $t->{scales} }))), $lo, $hi);
		{
			use integer;
			$b = $hi - $c if $c > 0 && $b > $hi - $c;
			$a = $lo - $c if $c < 0 && $a < $lo - $c;
		}
		return ('updshift none', '') if $a > $b;
		my $expr = $t->{fam} eq 'int' ? "k + '$c'::$tname" : $t->{fam} eq 'date' ? "k + $c" : "k + interval '$c microseconds'";
		return ('updshift', both($tname, "UPDATE {X} SET k = $expr WHERE k BETWEEN " . lit($t, $a) . ' AND ' . lit($t, $b) . ';'));
	}
	elsif ($op eq 'hot')
	{
		return ('hot', both($tname, 'UPDATE {X} SET pad = pad + 1 WHERE ' . range_pred($t, $st) . ';'));
	}
	elsif ($op eq 'vacuum')
	{
		return ('vacuum', both($tname, pick('VACUUM {X};', 'VACUUM (FREEZE) {X};', 'VACUUM ANALYZE {X};',
			'VACUUM (INDEX_CLEANUP on) {X};')));
	}
	elsif ($op eq 'analyze')
	{
		return ('analyze', both($tname, 'ANALYZE {X};'));
	}
	elsif ($op eq 'retrain')
	{
		return ('retrain', omen_only("SELECT omen_index_retrain('$omen');"));
	}
	elsif ($op eq 'retrainfull')
	{
		return ('retrain full', omen_only("SELECT omen_index_retrain('$omen', true);"));
	}
	elsif ($op eq 'reindex')
	{
		return ('reindex', omen_only(pick("REINDEX INDEX $omen;", "REINDEX INDEX CONCURRENTLY $omen;", "REINDEX TABLE $o;")));
	}
	elsif ($op eq 'recreate')
	{
		return ('recreate index', omen_only("DROP INDEX $omen;") . omen_only(omen_index_sql($tname, chance(0.3))));
	}
	elsif ($op eq 'truncate')
	{
		$st->{rows} = 0;
		return ('truncate', both($tname, 'TRUNCATE {X};'));
	}
	elsif ($op eq 'vacfull')
	{
		return ('vacuum full', both($tname, 'VACUUM FULL {X};'));
	}
	elsif ($op eq 'cluster')
	{
		return ('cluster', omen_only("CLUSTER $o USING $omen;"));
	}
	else
	{
		return ('setup', setup_type($tname));
	}
}

#
# Running and comparing queries
#
my $qid = 0;

# one run of a query: the SELECT line
sub run_line
{
	my ($q, $tname, $mode, $want_plan) = @_;
	my $sql = subst($q->{sql}, $tname, $mode);
	my $g = gucs($mode);
	my $wp = $want_plan ? 'true' : 'false';
	my $call;
	if ($q->{fn} eq 'cursor')
	{
		$call = "fz_cursor('$g', \$fzq\$$sql\$fzq\$, '$q->{moves}', $wp)";
	}
	else
	{
		my $ord = $q->{ordered} ? 'true' : 'false';
		$call = "fz_run('$g', \$fzq\$$sql\$fzq\$, $ord, $wp)";
	}
	return "\\warn Q$q->{id}:$mode\nSELECT 'Q$q->{id}|$mode|' || $call;\n";
}

sub replay_text
{
	my ($q, $tname, $mode) = @_;
	my $sql = subst($q->{sql}, $tname, $mode);
	if ($q->{fn} eq 'cursor')
	{
		return set_stmts($mode) . "\nSELECT fz_cursor('', \$fzq\$$sql\$fzq\$, '$q->{moves}', false, true);  -- a SCROLL cursor moved by $q->{moves}";
	}
	return set_stmts($mode) . "\n$sql;";
}

# the rows, to show what differs
sub detail
{
	my ($s, $q, $tname, $ma, $mb) = @_;
	my ($sa, $sb) = (subst($q->{sql}, $tname, $ma), subst($q->{sql}, $tname, $mb));
	my $lines = '';
	if ($q->{fn} eq 'cursor')
	{
		$lines .= "SELECT 'D$_->[0]|' || fz_cursor('" . gucs($_->[0]) . "', \$fzq\$$_->[1]\$fzq\$, '$q->{moves}', false, true);\n"
		  foreach ([ $ma, $sa ], [ $mb, $sb ]);
	}
	elsif ($q->{ordered})
	{
		$lines .= "SELECT 'D$_->[0]|' || x FROM fz_rows('" . gucs($_->[0]) . "', \$fzq\$$_->[1]\$fzq\$, 50000) x;\n"
		  foreach ([ $ma, $sa ], [ $mb, $sb ]);
	}
	else
	{
		$lines .= "SELECT 'F|' || x FROM fz_diff('" . gucs($ma) . "', \$fzq\$$sa\$fzq\$, '" . gucs($mb) . "', \$fzq\$$sb\$fzq\$) x;\n";
	}
	$lines .= "SELECT 'P$_->[0]|' || fz_plan(\$fzq\$$_->[1]\$fzq\$) FROM (SELECT fz_set('" . gucs($_->[0]) . "')) s;\n"
	  foreach ([ $ma, $sa ], [ $mb, $sb ]);
	my ($out, $err, $alive) = sess_run($s, $lines, 1);
	my (%rows, %plan, @diff);
	foreach my $line (split /\n/, $out)
	{
		if ($line =~ /^D(\w+)\|(.*)$/) { push @{ $rows{$1} }, $2; }
		elsif ($line =~ /^P(\w+)\|(.*)$/) { $plan{$1} = $2; }
		elsif ($line =~ /^F\|(.*)$/) { push @diff, $1; }
	}
	my $txt = '';
	if ($q->{fn} eq 'cursor')
	{
		$txt .= "keys fetched ($ma): " . substr($rows{$ma}[0] // '', 0, 1500) . "\n";
		$txt .= "keys fetched ($mb): " . substr($rows{$mb}[0] // '', 0, 1500) . "\n";
	}
	elsif ($q->{ordered})
	{
		my @a = @{ $rows{$ma} // [] };
		my @b = @{ $rows{$mb} // [] };
		my $i = 0;
		$i++ while $i < @a && $i < @b && $a[$i] eq $b[$i];
		$txt .= sprintf("%s: %d rows, %s: %d rows; first difference at row %d\n", $ma, scalar @a, $mb, scalar @b, $i + 1);
		my $from = $i > 3 ? $i - 3 : 0;
		$txt .= "  $ma: " . join(' ', grep { defined } @a[ $from .. $i + 5 ]) . "\n";
		$txt .= "  $mb: " . join(' ', grep { defined } @b[ $from .. $i + 5 ]) . "\n";
	}
	else
	{
		foreach my $d (@diff)
		{
			if ($d =~ /^n\|(\d+)\|(\d+)\|(\d+)\|(\d+)/)
			{
				$txt .= "$ma: $1 rows, $mb: $2 rows; $3 rows only in $ma, $4 rows only in $mb\n";
			}
			elsif ($d =~ /^a\|(.*)/) { $txt .= "  only in $ma: $1\n"; }
			elsif ($d =~ /^b\|(.*)/) { $txt .= "  only in $mb: $1\n"; }
			else { $txt .= "  $d\n"; }
		}
	}
	foreach my $m ($ma, $mb)
	{
		my $p = $plan{$m} // '?';
		$p =~ s| // |\n    |g;
		$txt .= "plan ($m):\n    $p\n";
	}
	return $txt;
}

# run a batch of queries on session $s and compare
sub run_queries
{
	my ($s, $tname, $queries, $ctx) = @_;
	my $script = '';
	my %runs;
	foreach my $q (@$queries)
	{
		my @omen = @{ $q->{modes} };
		@omen = shuffle_list(@omen);
		splice(@omen, 1 + rnd(scalar @omen)) if chance(0.6);
		my @orc = (wpick(4 => 'seq', 3 => 'bt', 3 => 'bti'));
		push @orc, pick(grep { $_ ne $orc[0] } qw(seq bt bti)) if chance(0.15);
		$q->{runs} = [ @omen, @orc ];
		$script .= run_line($q, $tname, $_, 1) foreach @omen;
		$script .= run_line($q, $tname, $_, 0) foreach @orc;
	}
	my ($out, $err, $alive) = sess_run($s, $script, 1);
	my %res;
	foreach my $line (split /\n/, $out)
	{
		next unless $line =~ /^Q(\d+)\|(\w+)\|([^\t]*)\t?(.*)$/;
		$res{$1}{$2} = [ $3, $4 ];
	}
	my $dead = !$alive || !server_alive();
	foreach my $q (@$queries)
	{
		$step = $q->{step};
		my $r = $res{ $q->{id} } // {};
		my @missing = grep { !exists $r->{$_} } @{ $q->{runs} };
		if (@missing)
		{
			my @errs = grep { $_->[0] eq "Q$q->{id}:$missing[0]" } script_errors($err);
			my $msg = "no answer to query $q->{id} ($missing[0]); "
			  . (@errs ? join(' | ', map { $_->[1] } @errs) : 'stderr: ' . substr($err, -2000))
			  . "\n$ctx\nSQL:\n" . replay_text($q, $tname, $missing[0]);
			if ($dead) { crash_report(($s->{why} // '') . "\n$msg"); return; }
			failure('query not answered', $msg);
			next;
		}
		$stat{queries}++;
		$shape_seen{ $q->{shape} }++;
		my @omen = grep { !$ORACLE{$_} } @{ $q->{runs} };
		my @orc = grep { $ORACLE{$_} } @{ $q->{runs} };
		my $ref = $r->{ $orc[0] }[0];
		my @errmodes = grep { $r->{$_}[0] =~ /^ERROR/ } @{ $q->{runs} };
		if (@errmodes)
		{
			failure("ERROR in $q->{shape}", join("\n", map { "$_: $r->{$_}[0]" } @{ $q->{runs} })
				  . "\n$ctx\nSQL:\n" . replay_text($q, $tname, $errmodes[0]));
		}
		foreach my $m (@orc[ 1 .. $#orc ])
		{
			if ($r->{$m}[0] ne $ref)
			{
				failure('oracles disagree', "$orc[0]: $ref, $m: $r->{$m}[0]\n$ctx\nSQL:\n" . replay_text($q, $tname, $m)
					  . "\n" . detail($s, $q, $tname, $orc[0], $m));
			}
		}
		foreach my $m (@omen)
		{
			my ($d, $plan) = @{ $r->{$m} };
			$stat{runs}++;
			$stat{compared}++;
			$stat{rows} += $1 if $d =~ /^(\d+):/;
			# the plan: omen, never a sequential scan of the omen table
			my @nodes = ($plan =~ /((?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) o_\w+_omen)/g);
			s/ (using|on) o_\w+_omen// foreach @nodes;
			my %u = map { $_ => 1 } @nodes;
			my $cat = "$m: " . (join(' + ', sort keys %u) || 'no scan');
			if ($ENV{OMEN_FUZZ_VERBOSE} && !$plan_seen{$cat})
			{
				(my $pl = $plan) =~ s| // |\n    |g;
				note("first plan of [$cat]:\n" . replay_text($q, $tname, $m) . "\n    $pl");
			}
			$plan_seen{$cat}++;
			$plan_seen{"$m: Merge Join"}++ if $plan =~ /Merge Join/;
			$plan_seen{"$m: Incremental Sort"}++ if $plan =~ /Incremental Sort/;
			$plan_seen{"$m: Material"}++ if $plan =~ /Materialize/;
			if ($plan =~ /Seq Scan on o_/)
			{
				my $p = $plan;
				$p =~ s| // |\n    |g;
				failure("plan without omen: $q->{shape} ($m)",
					"the plan scans the omen table sequentially although enable_seqscan = off\n$ctx\nSQL:\n"
					  . replay_text($q, $tname, $m) . "\nplan:\n    $p");
			}
			if ($d ne $ref && $d !~ /^ERROR/ && $ref !~ /^ERROR/)
			{
				failure("wrong answer: $q->{shape} ($m)",
					"omen ($m) answered $d, $orc[0] answered $ref\n$ctx\nSQL (omen):\n"
					  . replay_text($q, $tname, $m) . "\nSQL (oracle):\n" . replay_text($q, $tname, $orc[0])
					  . "\n" . detail($s, $q, $tname, $m, $orc[0]));
			}
		}
		last if $stop;
	}
}

# an ordered scan of each table that inserts into it halfway
sub split_scan
{
	my ($s, $tname, $ctx) = @_;
	my $t = $TYPES{$tname};
	my $st = tstate($tname);
	my ($p, $or) = gen_pred($t, $st);
	$p = 'k IS NOT NULL' if $or;
	my $desc = chance(0.4) ? ' DESC' : '';
	my $qsql = "SELECT k FROM {T} WHERE $p ORDER BY k$desc";
	$qsql = "SELECT k FROM {T} ORDER BY k$desc" if chance(0.2);
	# keys into the range being scanned, enough to split leaves
	my $n = pick(50, 400, 1500, 4000);
	my @v = chance(0.5) && @{ $st->{pool} } ? gen_keys($t, $st, $n, 'pool') : gen_batch($t, $st, $n);
	remember($t, $st, \@v);
	$st->{rows} += $n;
	my $ins = insert_sql($t, \@v);
	my $chunk = pick(0, 1, 10, 100, 1000);
	my $mode = pick('idx', 'ios');
	$step++;
	$stat{steps}++;
	$stat{splitscans}++;
	my $script = '';
	my %sql;
	foreach my $m ($mode, 'bt')
	{
		my $tt = $m eq 'bt' ? "b_$tname" : "o_$tname";
		(my $q = $qsql) =~ s/\{T\}/$tt/g;
		(my $i = $ins) =~ s/\{X\}/$tt/g;
		$sql{$m} = [ $q, $i ];
		$script .= "\\warn T$m\nSELECT 'T$m|' || fz_splitscan('" . gucs($m) . "', \$fzq\$$q\$fzq\$, $chunk, \$fzi\$$i\$fzi\$, "
		  . ($m eq 'bt' ? 'false' : 'true') . ");\n";
	}
	my ($out, $err, $alive) = sess_run($s, $script);
	my %res;
	foreach my $line (split /\n/, $out)
	{
		$res{$1} = [ $2, $3 ] if $line =~ /^T(\w+)\|([^\t]*)\t?(.*)$/;
	}
	my $replay = join("\n", map { set_stmts($_) . "\nSELECT fz_splitscan('', \$fzq\$$sql{$_}[0]\$fzq\$, $chunk, \$fzi\$"
		  . substr($sql{$_}[1], 0, 1500) . (length($sql{$_}[1]) > 1500 ? '...' : '') . "\$fzi\$, false);" } ($mode, 'bt'));
	if (!$alive || !server_alive())
	{
		crash_report("died during an ordered scan with inserts halfway\n" . ($s->{why} // '') . "\n$ctx\n$replay");
		return;
	}
	my ($a, $b) = ($res{$mode}, $res{bt});
	if (!$a || !$b || $a->[0] =~ /^ERROR/ || $b->[0] =~ /^ERROR/)
	{
		failure('ERROR in split scan', ($a ? $a->[0] : 'no answer') . ' / ' . ($b ? $b->[0] : 'no answer') . "\n$err\n$ctx\n$replay");
		return;
	}
	$stat{compared}++;
	$stat{rows} += $1 if $a->[0] =~ /^(\d+):/;
	if ($a->[1] =~ /Seq Scan on o_/)
	{
		(my $pl = $a->[1]) =~ s| // |\n    |g;
		failure('plan without omen: split scan', "$ctx\n$replay\nplan:\n    $pl");
	}
	if ($a->[0] ne $b->[0])
	{
		failure('wrong answer: ordered scan with inserts into its range halfway',
			"omen ($mode): $a->[0], btree: $b->[0] (after $chunk rows, " . scalar(@v) . " rows inserted)\n$ctx\n$replay");
	}
}

# A cursor opened in one session, half read; another session writes into
# the range it scans (splitting its leaves), deletes, updates, retrains;
# then the cursor reads the rest.  It sees its snapshot: the omen cursor
# and the btree cursor return the same keys.
sub cross_session_scan
{
	my ($tname, $ctx) = @_;
	my $t = $TYPES{$tname};
	my $st = tstate($tname);
	my ($p, $or) = gen_pred($t, $st);
	$p = 'k IS NOT NULL' if $or;
	my $desc = chance(0.4) ? ' DESC' : '';
	my $where = chance(0.8) ? " WHERE $p" : '';
	my $mode = pick('idx', 'ios');
	my $chunk = pick(0, 1, 10, 100, 1000);
	my %q;
	foreach my $m ($mode, 'bt')
	{
		$q{$m} = subst("SELECT '$m|' || coalesce(k::text, 'N') FROM {T}$where ORDER BY k$desc", $tname, $m);
	}
	$step++;
	$stat{steps}++;
	$stat{xscans}++;
	my $open = "BEGIN;\n" . set_stmts($mode) . "\nDECLARE co NO SCROLL CURSOR FOR $q{$mode};\n"
	  . "EXPLAIN (COSTS OFF) $q{$mode};\n"
	  . set_stmts('bt') . "\nDECLARE cb NO SCROLL CURSOR FOR $q{bt};\n"
	  . "FETCH $chunk FROM co;\nFETCH $chunk FROM cb;\n";
	# writes that cannot wait for the reader's locks or pins
	my $writes = '';
	my @did;
	foreach (1 .. 1 + rnd(3))
	{
		my ($what, $sql);
		do { ($what, $sql) = gen_write($tname, 1); } while ($what eq 'truncate');
		push @did, $what;
		$writes .= $sql;
	}
	# and keys into the scanned range
	my $n = pick(100, 1000, 3000);
	my @v = gen_keys($t, $st, $n, @{ $st->{pool} } ? 'pool' : 'local');
	remember($t, $st, \@v);
	$st->{rows} += $n;
	$writes .= both($tname, insert_sql($t, \@v));
	push @did, "insert $n into the range";
	my $rest = "FETCH ALL FROM co;\nFETCH ALL FROM cb;\nCOMMIT;\n";
	my $what = "$ctx\ncursor in session R ($mode, FETCH $chunk), then in session W: " . join(', ', @did)
	  . ", then FETCH ALL\n" . set_stmts($mode) . "\nDECLARE co NO SCROLL CURSOR FOR $q{$mode};";

	my ($out1, $err1, $alive1) = sess_run($R, $open);
	if (!$alive1 || !server_alive()) { crash_report(($R->{why} // '') . "\n$what"); return; }
	# nothing here may wait for the reader: a timeout says it did
	run_writes($W, "SET statement_timeout = '120s';\n$writes\nRESET statement_timeout;", $what);
	return if $stop;
	my ($out2, $err2, $alive2) = sess_run($R, $rest);
	if (!$alive2 || !server_alive()) { crash_report(($R->{why} // '') . "\n$what"); return; }
	my (%keys, $plan);
	foreach my $line (split /\n/, "$out1\n$out2")
	{
		if ($line =~ /^(\w+)\|(.*)$/) { push @{ $keys{$1} }, $2; }
		else { $plan .= "    $line\n"; }
	}
	my @errs = grep { $_ =~ /ERROR|FATAL/ } split /\n/, "$err1\n$err2";
	if (@errs)
	{
		failure('ERROR in cross-session scan', join("\n", @errs) . "\n$what");
		sess_run($R, 'ROLLBACK;', 1);
		return;
	}
	$plan //= '';
	if ($plan =~ /Seq Scan on o_/)
	{
		failure('plan without omen: cross-session scan', "$what\nplan:\n$plan");
	}
	my @a = @{ $keys{$mode} // [] };
	my @b = @{ $keys{bt} // [] };
	$stat{compared}++;
	$stat{rows} += @a;
	if (join(',', @a) ne join(',', @b))
	{
		my $i = 0;
		$i++ while $i < @a && $i < @b && $a[$i] eq $b[$i];
		my $from = $i > 3 ? $i - 3 : 0;
		failure('wrong answer: cursor across writes of another session',
			sprintf("omen: %d keys, btree: %d keys; first difference at key %d\n  omen:  %s\n  btree: %s\n",
				scalar @a, scalar @b, $i + 1, join(' ', grep { defined } @a[ $from .. $i + 5 ]),
				join(' ', grep { defined } @b[ $from .. $i + 5 ]))
			  . "$what\nplan:\n$plan");
	}
}

# both tables hold the same rows (a sequential read of each)
sub compare_tables
{
	my ($s, $tname, $ctx) = @_;
	my ($out, $err, $alive) = sess_run($s, "SELECT 'X|' || fz_tab('o_$tname') || '|' || fz_tab('b_$tname');\n"
		  . "SELECT 'Y|' || leaf_pages || '|' || splits_since_retrain || '|' || model_segments FROM omen_index_stats('o_${tname}_omen');", 1);
	if (!$alive || !server_alive()) { crash_report("died comparing the tables\n" . ($s->{why} // '') . "\n$ctx"); return 0; }
	# how stale and how large the models were that the queries met
	if ($out =~ /^Y\|(\d+)\|(\d+)\|(\d+)$/m)
	{
		$stat{stale_rounds}++ if $2 > 0;
		$stat{max_leaves} = $1 if $1 > ($stat{max_leaves} // 0);
		$stat{max_splits} = $2 if $2 > ($stat{max_splits} // 0);
		$stat{max_segments} = $3 if $3 > ($stat{max_segments} // 0);
	}
	if ($out =~ /^X\|([^|]*)\|([^|\n]*)$/m)
	{
		return 1 if $1 eq $2;
		my ($o2) = sess_run($s, "SELECT 'o-b|' || x::text FROM (SELECT * FROM o_$tname EXCEPT ALL SELECT * FROM b_$tname LIMIT 10) x;\n"
			  . "SELECT 'b-o|' || x::text FROM (SELECT * FROM b_$tname EXCEPT ALL SELECT * FROM o_$tname LIMIT 10) x;", 1);
		failure('tables diverged', "o_$tname: $1, b_$tname: $2 after the writes of this round (a write through the omen index changed other rows than through btree)\n$ctx\n$o2");
		return 0;
	}
	failure('table comparison failed', "$out\n$err\n$ctx");
	return 0;
}

# a script, without the psql tags and with long arrays shortened
sub abbreviate
{
	my ($script) = @_;
	$script =~ s/^\\warn \S+\n//mg;
	$script =~ s/'\{([^}]{200,})\}'/"'{" . substr($1, 0, 120) . " ... (" . (() = $1 =~ m{,}g) . " more)}'"/ge;
	return length($script) > 6000 ? substr($script, 0, 6000) . "\n..." : $script;
}

sub check_index
{
	my ($s, $tname, $ctx, $in_txn) = @_;
	$stat{checks}++;
	my ($out, $err, $alive) = sess_run($s, "\\warn C$tname\nSELECT 'C|' || fz_check('o_${tname}_omen');", 1);
	if (!$alive || !server_alive()) { crash_report("died in omen_index_check('o_${tname}_omen', true)\n" . ($s->{why} // '') . "\n$ctx"); return; }
	my ($res) = $out =~ /^C\|(.*)$/m;
	if (!defined $res || $res ne 'ok')
	{
		my ($stats) = sess_run($s, "SELECT * FROM omen_index_stats('o_${tname}_omen');", 1);
		failure('omen_index_check failed', "omen_index_check('o_${tname}_omen', true): " . ($res // $err) . "\nstats: $stats\n$ctx");
		return;
	}
	return if $in_txn || $ENV{OMEN_FUZZ_PRELOAD} || !chance(0.3);
	# after a VACUUM that cleans the index, it holds one entry per row
	$step++;
	my $sql = "VACUUM (INDEX_CLEANUP on) o_$tname;\n"
	  . "SELECT 'E|' || s.entries || '|' || s.null_entries || '|' || (SELECT count(*) FROM o_$tname) || '|' || (SELECT count(*) FROM o_$tname WHERE k IS NULL) FROM omen_index_stats('o_${tname}_omen') s;";
	($out, $err, $alive) = sess_run($s, $sql);
	if (!$alive || !server_alive()) { crash_report("died in VACUUM or omen_index_stats\n" . ($s->{why} // '') . "\n$ctx"); return; }
	if ($out =~ /^E\|(\d+)\|(\d+)\|(\d+)\|(\d+)$/m)
	{
		failure('omen_index_stats entries after VACUUM',
			"omen_index_stats('o_${tname}_omen') after VACUUM (INDEX_CLEANUP on): entries $1, null_entries $2; the table has $3 rows, $4 with NULL keys\n$ctx\n$sql")
		  if $1 != $3 || $2 != $4;
	}
	else
	{
		failure('omen_index_stats failed', "$out\n$err\n$ctx\n$sql");
	}
}

#
# The rendering of keys must be what the server reads: a self-check
#
{
	my $sql = '';
	my @cases;
	foreach my $tname (qw(date timestamp))
	{
		my $t = $TYPES{$tname};
		my @v = ($t->{lo}, $t->{hi}, 0, -1, 1, $t->{lo} + 1, $t->{hi} - 1, map { rand_between($t->{lo}, $t->{hi}) } 1 .. 200);
		foreach my $v (@v)
		{
			my $expr;
			if ($tname eq 'date')
			{
				$expr = "(" . lit($t, $v) . " - '2000-01-01'::date)::text";
				push @cases, "$v";
			}
			else
			{
				my ($days, $us);
				{
					use integer;
					$days = $v / 86400000000;
					$us = $v % 86400000000;
					if ($us < 0) { $us += 86400000000; $days -= 1; }
				}
				$expr = "(" . lit($t, $v) . " = '2000-01-01'::timestamp + interval '$days days' + interval '$us microseconds')::text";
				push @cases, 'true';
			}
			$sql .= "SELECT $expr;\n";
		}
	}
	my @got = split /\n/, $node->safe_psql('postgres', $sql);
	my $bad = 0;
	for my $i (0 .. $#cases)
	{
		$bad++ if !defined $got[$i] || $got[$i] ne $cases[$i];
		diag("rendering: expected $cases[$i], server read " . ($got[$i] // 'nothing')) if $bad && $bad < 5 && (!defined $got[$i] || $got[$i] ne $cases[$i]);
	}
	is($bad, 0, 'dates and timestamps are rendered as the server reads them');
}

#
# The workload
#
$W = sess_open('W');
$R = sess_open('R');
my $t0 = time();
my $round = 0;
my $last_check = 0;
my $loop_ok = eval {
	while (!$stop)
	{
		last if time() - $t0 >= $seconds && !defined $max_steps;
		last if defined $max_steps && $step >= $max_steps;
		$round++;
		$stat{rounds}++;
		my $tname = $type_names[0];
		{
			my $total = 0;
			$total += $_ foreach @type_weights;
			my $r = rand($total);
			for my $i (0 .. $#type_names)
			{
				if ($r < $type_weights[$i]) { $tname = $type_names[$i]; last; }
				$r -= $type_weights[$i];
			}
		}
		my $t = $TYPES{$tname};
		my $st = tstate($tname);
		my $intxn = $st->{init} && chance(0.1);
		my @did;
		my $script = '';
		if (!$st->{init})
		{
			$script .= setup_type($tname);
			push @did, "setup ($st->{how})";
		}
		else
		{
			$script .= "BEGIN;\n" if $intxn;
			foreach (1 .. wpick(2 => 1, 3 => 2, 2 => 3, 1 => 6))
			{
				my ($what, $sql) = gen_write($tname, $intxn);
				$what .= " ($st->{how})" if $what eq 'setup';
				push @did, $what;
				$script .= $sql;
			}
		}
		my $ctx = "round $round, type $tname, " . ($intxn ? 'inside a transaction, ' : '') . "writes of this round: " . join(', ', @did);
		# queries mostly from the reader's session, writes mostly from the
		# writer's: each backend's cached model goes stale under the other
		my $s = $intxn ? $W : (chance(0.2) ? $W : $R);
		run_writes(($intxn || chance(0.85)) ? $W : $R, $script, $ctx) if $script ne '';
		last if $stop;

		split_scan($W, $tname, $ctx) if chance(0.08);
		last if $stop;
		cross_session_scan($tname, $ctx) if !$intxn && chance(0.1);
		last if $stop;
		# the writes went the same way through omen and btree
		compare_tables($intxn ? $W : $R, $tname, "$ctx\nstatements of this round:\n" . abbreviate($script)) or last;

		my $nq = wpick(1 => 5, 3 => 20, 3 => 40, 1 => 80);
		my @qs;
		foreach (1 .. $nq)
		{
			my $q = gen_query($t, $st);
			$q->{id} = ++$qid;
			$step++;
			$stat{steps}++;
			$q->{step} = $step;
			push @qs, $q;
		}
		run_queries($s, $tname, \@qs, $ctx);
		last if $stop;

		if ($intxn)
		{
			my $end = chance(0.5) ? 'ROLLBACK;' : 'COMMIT;';
			run_writes($W, "$end\n", $ctx);
			$ctx .= ", then $end";
		}
		compare_tables($R, $tname, $ctx) or last if $intxn;
		if (chance(0.15) || $round - $last_check > 10)
		{
			check_index($R, $tname, $ctx);
			$last_check = $round;
		}
		# a fresh reader now and then: a backend without a cached model
		if (chance(0.05))
		{
			sess_close($R);
			$R = sess_open('R');
		}
	}
	1;
};
if (!$loop_ok)
{
	failure('harness error', "the test itself died: $@");
	$stop = 1;
}

if (!$stop || !grep { $_ eq 'crash' } @failures)
{
	# a round that failed may have left the writer in a transaction
	sess_run($W, "ROLLBACK;", 1);
	foreach my $tname (@type_names)
	{
		next unless $ST{$tname} && $ST{$tname}{init};
		check_index($R, $tname, "end of the run, type $tname");
		compare_tables($R, $tname, "end of the run, type $tname");
	}
}
sess_close($W);
sess_close($R);
close($replay);

my $elapsed = sprintf('%.1f', time() - $t0);
note("seed $seed: $elapsed s, $stat{rounds} rounds, $stat{steps} steps ($stat{writes} writes, $stat{queries} queries, "
	  . "$stat{splitscans} scans with inserts halfway, $stat{xscans} cursors across another session's writes), $stat{compared} omen answers compared with an oracle, "
	  . "$stat{rows} rows compared, $stat{checks} index checks");
note("models: $stat{stale_rounds} rounds queried a model with leaf splits since its last fit; largest index "
	  . ($stat{max_leaves} // 0) . " leaves, " . ($stat{max_segments} // 0) . " model segments, "
	  . ($stat{max_splits} // 0) . " splits since a fit");
note("shapes: " . join(', ', map { "$_ $shape_seen{$_}" } sort keys %shape_seen));
note("plans: " . join(', ', map { "[$_] $plan_seen{$_}" } sort keys %plan_seen));
diag("OMEN_FUZZ_SEED=$seed: $stat{steps} random operations ($stat{writes} writes, $stat{queries} queries), "
	  . "$stat{compared} omen answers compared, $stat{rows} rows, " . scalar(@failures) . " failures");
ok(@failures == 0, "no differences between omen and btree/seq scan (seed $seed, $stat{steps} steps)");

$node->stop;
done_testing();
