/*
 * omenscan.c
 *	  Index scans: amgettuple, amgetbitmap, mark/restore.
 *
 * The scan keys are reduced to a sorted list of disjoint int64 ranges (one
 * range, or one per element of an = ANY array: a point, or the keys equal
 * to an element of another time type) plus whether NULL entries take part.
 * Each range starts at the leaf the model predicts for its first
 * position; the scan then reads whole leaves (page at a time),
 * copying the matching entries and keeping only a pin on the leaf while its
 * entries are returned, which is the interlock with VACUUM.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "access/stratnum.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/tidbitmap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "omen.h"

/* items a position starts with: a probe needs one or a few */
#define SCANPOS_INITIAL_ITEMS	64

/*
 * How many items ahead of the executor a plain index scan has the heap
 * pages of its rows prefetched (prefetch_heap_pages): on a leaf, first
 * the row about to be returned (a scan that stops after one row, a LIMIT
 * 1 or a semi-join, looks up no page for nothing), then
 * OMEN_PREFETCH_GROWTH times as many at each refill, up to
 * OMEN_PREFETCH_ROWS.  A refill comes when half the window is left (at
 * once for a window of one).  Measured on 10M rows, ~50 duplicates a
 * key: a window of 32 from the first row and this ramp gained alike; a
 * ramp doubling from 1 or from 4 gave up part of the gain, or cost a
 * LIMIT 1 probe a microsecond.
 */
#define OMEN_PREFETCH_FIRST		1
#define OMEN_PREFETCH_GROWTH	8
#define OMEN_PREFETCH_ROWS		32
StaticAssertDecl(OMEN_PREFETCH_FIRST >= 1 && OMEN_PREFETCH_FIRST <= OMEN_PREFETCH_ROWS &&
				 OMEN_PREFETCH_GROWTH >= 2,
				 "a prefetch window starts with a row and grows");

static const OmenScanRange full_range = {PG_INT64_MIN, PG_INT64_MAX};

typedef struct OmenScanExtra
{
	IndexTuple	itup;			/* preformed tuple for index-only scans */
	IndexTuple	nulltup;
	Size		data_off;
	int16		attlen;
} OmenScanExtra;

static inline uint16
tree_want(int tree)
{
	return tree == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF;
}

/* ---------------------------------------------------------------------
 * Scan key preprocessing
 * ---------------------------------------------------------------------
 */

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Narrow [lo, hi] by one comparison; false if nothing can match. */
static bool
apply_bound(StrategyNumber strategy, int64 v, int64 *lo, int64 *hi)
{
	switch (strategy)
	{
		case BTLessStrategyNumber:
			if (v == PG_INT64_MIN)
				return false;
			*hi = Min(*hi, v - 1);
			break;
		case BTLessEqualStrategyNumber:
			*hi = Min(*hi, v);
			break;
		case BTEqualStrategyNumber:
			*lo = Max(*lo, v);
			*hi = Min(*hi, v);
			break;
		case BTGreaterEqualStrategyNumber:
			*lo = Max(*lo, v);
			break;
		case BTGreaterStrategyNumber:
			if (v == PG_INT64_MAX)
				return false;
			*lo = Max(*lo, v + 1);
			break;
		default:
			elog(ERROR, "omen: unrecognized strategy number %d", strategy);
	}
	return *lo <= *hi;
}

/*
 * Cross-type comparisons between the time types.
 *
 * An argument of another time type is not turned into a key by a
 * conversion of our own: a timestamp falls between two dates, where a date
 * begins as a timestamptz depends on the session's TimeZone, and each
 * conversion has its own rules at the infinities and beyond the other
 * type's range.  The family's comparison function for the pair decides, as
 * it does in btree's descent: cmp(k, arg) does not decrease as the key k
 * grows, so the keys that compare >= (or >) the argument are a suffix of
 * the key type's order, found by a search over the values the type can
 * hold at each rescan (cross_type_hint, least_key_reaching), twice for
 * "=".  The comparison function is the only judge of where a bound lies.
 *
 * The pairs answered are those whose comparison is monotone in the key
 * (omen_cross_type_bounded): not timestamp keys against a timestamptz, as
 * a local time in a daylight-saving gap converts to an instant after the
 * gap's end.  The conversion of the argument need not be monotone, and
 * is not for a timestamp against timestamptz keys: = ANY and < ANY take
 * each element's bound (array_key_ranges, apply_array_bound).
 */

/* The values a time type can hold, in order: -infinity, finite, +infinity. */
typedef struct KeyDomain
{
	int64		minus_infinity;
	int64		finite_lo;
	int64		finite_hi;
	int64		plus_infinity;
} KeyDomain;

static void
time_key_domain(Oid keytype, KeyDomain *d)
{
	if (keytype == DATEOID)
	{
		d->minus_infinity = DATEVAL_NOBEGIN;
		d->finite_lo = DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE;
		d->finite_hi = DATE_END_JULIAN - POSTGRES_EPOCH_JDATE - 1;
		d->plus_infinity = DATEVAL_NOEND;
	}
	else if (keytype == TIMESTAMPOID || keytype == TIMESTAMPTZOID)
	{
		d->minus_infinity = DT_NOBEGIN;
		d->finite_lo = MIN_TIMESTAMP;
		d->finite_hi = END_TIMESTAMP - 1;
		d->plus_infinity = DT_NOEND;
	}
	else
		elog(ERROR, "omen: %s keys have no time domain", format_type_be(keytype));
}

/* A time type's value as a Datum: the inverse of omen_datum_to_key(). */
static inline Datum
time_key_datum(int64 v, Oid type)
{
	return type == DATEOID ? DateADTGetDatum((DateADT) v) : Int64GetDatum(v);
}

/*
 * Whether the search may answer "key op arg": the comparison must not
 * decrease as the key grows (see above).  An operator family altered by
 * hand could hold other pairs; omenvalidate() reports them.
 */
bool
omen_cross_type_bounded(Oid keytype, Oid argtype)
{
	switch (keytype)
	{
		case DATEOID:
			return argtype == TIMESTAMPOID || argtype == TIMESTAMPTZOID;
		case TIMESTAMPOID:
			return argtype == DATEOID;
		case TIMESTAMPTZOID:
			return argtype == DATEOID || argtype == TIMESTAMPOID;
		default:
			return false;
	}
}

/*
 * The family's comparison function for (key type, argtype), looked up once
 * per scan: a key type meets at most two other types.
 */
static FmgrInfo *
cross_type_cmp(IndexScanDesc scan, Oid argtype)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	int			slot;
	Oid			proc;

	for (slot = 0; slot < lengthof(so->cross_argtype); slot++)
	{
		if (so->cross_argtype[slot] == argtype)
			return &so->cross_cmp[slot];
		if (!OidIsValid(so->cross_argtype[slot]))
			break;
	}
	if (!omen_cross_type_bounded(so->keytype, argtype))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("omen index \"%s\" cannot compare %s keys with a %s",
						RelationGetRelationName(scan->indexRelation),
						format_type_be(so->keytype), format_type_be(argtype))));
	proc = get_opfamily_proc(scan->indexRelation->rd_opfamily[0], so->keytype, argtype, 1);
	if (!OidIsValid(proc))
		elog(ERROR, "omen: missing comparison function for types %s and %s in the family of index \"%s\"",
			 format_type_be(so->keytype), format_type_be(argtype),
			 RelationGetRelationName(scan->indexRelation));
	if (slot == lengthof(so->cross_argtype))
		slot--;					/* not reached with the pairs above */
	fmgr_info_cxt(proc, &so->cross_cmp[slot], GetMemoryChunkContext(so));
	so->cross_argtype[slot] = argtype;
	return &so->cross_cmp[slot];
}

/* cmp(k, arg) >= threshold */
static inline bool
key_reaches(FmgrInfo *cmp, Oid keytype, int64 k, Datum arg, int threshold)
{
	return DatumGetInt32(FunctionCall2Coll(cmp, InvalidOid, time_key_datum(k, keytype), arg)) >= threshold;
}

/*
 * Where the search starts: the argument converted to the key type by
 * PostgreSQL's own conversion (or, for date keys, the UTC day), a guess
 * the search then checks, so that a wrong one costs calls, not answers.
 * Usually it is exact and a bound takes four to six calls; a plain
 * bisection takes up to 67, a start far off up to about 88 (GALLOP_MAX_STEP).
 */
static bool
cross_type_hint(Oid keytype, Oid argtype, Datum arg, int64 *hint)
{
	int			overflow = 0;

	if (keytype == DATEOID)
	{
		int64		t = DatumGetInt64(arg);	/* timestamp or timestamptz */

		if (TIMESTAMP_NOT_FINITE(t))
			return false;
		*hint = t / USECS_PER_DAY - (t % USECS_PER_DAY < 0 ? 1 : 0);
		return true;
	}
	if (argtype == DATEOID)
		*hint = keytype == TIMESTAMPOID ?
			date2timestamp_opt_overflow(DatumGetDateADT(arg), &overflow) :
			date2timestamptz_opt_overflow(DatumGetDateADT(arg), &overflow);
	else						/* timestamptz keys, a timestamp */
		*hint = timestamp2timestamptz_opt_overflow(DatumGetTimestamp(arg), &overflow);
	return overflow == 0;
}

/* past it a gallop has strayed: the bisection takes the bracket it has */
#define GALLOP_MAX_STEP		(UINT64CONST(1) << 20)

/*
 * The least finite key value f in [lo, hi] with cmp(f, arg) >= threshold,
 * where cmp(hi) reaches it, starting from hint: gallop from the hint to a
 * bracket (steps doubling), then halve it.
 */
static int64
least_finite_reaching(FmgrInfo *cmp, Oid keytype, Datum arg, int threshold,
					  int64 lo, int64 hi, const int64 *hint)
{
	int64		below = lo;		/* no value below it reaches; it may */
	uint64		step = 1;

	if (hint && *hint >= lo && *hint <= hi)
	{
		int64		h = *hint;

		if (key_reaches(cmp, keytype, h, arg, threshold))
		{
			/* down from h: hi reaches; find one below that does not */
			hi = h;
			for (;;)
			{
				int64		p;

				if ((uint64) hi - (uint64) lo <= step || step > GALLOP_MAX_STEP)
					break;		/* below stays lo */
				p = (int64) ((uint64) hi - step);	/* > lo: no overflow */
				if (!key_reaches(cmp, keytype, p, arg, threshold))
				{
					below = p + 1;
					break;
				}
				hi = p;
				step *= 2;
			}
		}
		else
		{
			/* up from h: h does not reach; find one above that does */
			below = h + 1;
			for (;;)
			{
				int64		p;

				if ((uint64) hi - (uint64) h <= step || step > GALLOP_MAX_STEP)
					break;		/* hi reaches */
				p = (int64) ((uint64) h + step);	/* < hi: no overflow */
				if (key_reaches(cmp, keytype, p, arg, threshold))
				{
					hi = p;
					break;
				}
				below = p + 1;
				step *= 2;
			}
		}
	}
	/* hi reaches; no value below "below" does */
	while (below < hi)
	{
		/* the finite timestamps span more than INT64_MAX: halve unsigned */
		int64		mid = below + (int64) (((uint64) hi - (uint64) below) / 2);

		if (key_reaches(cmp, keytype, mid, arg, threshold))
			hi = mid;
		else
			below = mid + 1;
	}
	return hi;
}

/*
 * The least key value k of the type with cmp(k, arg) >= threshold (0: the
 * keys >= arg; 1: the keys > arg), searched from *hint if given (NULL: a
 * plain bisection); false if there is none.
 */
static bool
least_key_reaching(FmgrInfo *cmp, Oid keytype, Datum arg, int threshold,
				   const int64 *hint, int64 *k)
{
	KeyDomain	d;

	time_key_domain(keytype, &d);
	if (key_reaches(cmp, keytype, d.minus_infinity, arg, threshold))
	{
		*k = d.minus_infinity;
		return true;
	}
	if (!key_reaches(cmp, keytype, d.finite_hi, arg, threshold))
	{
		if (!key_reaches(cmp, keytype, d.plus_infinity, arg, threshold))
			return false;
		*k = d.plus_infinity;
		return true;
	}
	*k = least_finite_reaching(cmp, keytype, arg, threshold, d.finite_lo, d.finite_hi, hint);
	return true;
}

/*
 * Narrow [lo, hi] by "key strategy arg" where arg is of another time type;
 * false if nothing can match.  Key values between those the type holds
 * never occur, so "below the least key that reaches" is "< that key".
 */
static bool
apply_cross_type_bound(IndexScanDesc scan, StrategyNumber strategy, Datum arg, Oid argtype,
					   int64 *lo, int64 *hi)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	FmgrInfo   *cmp = cross_type_cmp(scan, argtype);
	int64		k;
	int64		h;
	const int64 *hint = cross_type_hint(so->keytype, argtype, arg, &h) ? &h : NULL;

	switch (strategy)
	{
		case BTLessStrategyNumber:
			if (least_key_reaching(cmp, so->keytype, arg, 0, hint, &k))
				return apply_bound(BTLessStrategyNumber, k, lo, hi);
			return *lo <= *hi;	/* every key is below arg */
		case BTLessEqualStrategyNumber:
			if (least_key_reaching(cmp, so->keytype, arg, 1, hint, &k))
				return apply_bound(BTLessStrategyNumber, k, lo, hi);
			return *lo <= *hi;
		case BTEqualStrategyNumber:
			if (!least_key_reaching(cmp, so->keytype, arg, 0, hint, &k) ||
				!apply_bound(BTGreaterEqualStrategyNumber, k, lo, hi))
				return false;
			if (least_key_reaching(cmp, so->keytype, arg, 1, hint, &k))
				return apply_bound(BTLessStrategyNumber, k, lo, hi);
			return true;
		case BTGreaterEqualStrategyNumber:
			return least_key_reaching(cmp, so->keytype, arg, 0, hint, &k) &&
				apply_bound(BTGreaterEqualStrategyNumber, k, lo, hi);
		case BTGreaterStrategyNumber:
			return least_key_reaching(cmp, so->keytype, arg, 1, hint, &k) &&
				apply_bound(BTGreaterEqualStrategyNumber, k, lo, hi);
		default:
			elog(ERROR, "omen: unrecognized strategy number %d", strategy);
	}
	return false;				/* keep compiler quiet */
}

/*
 * Narrow [lo, hi] by "key strategy v", v being the value (widened as
 * omen_datum_to_key does) of an argument of type argtype.
 */
static bool
apply_key_bound(IndexScanDesc scan, StrategyNumber strategy, int64 v, Oid argtype,
				int64 *lo, int64 *hi)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;

	if (omen_same_key_domain(so->keytype, argtype))
		return apply_bound(strategy, v, lo, hi);
	return apply_cross_type_bound(scan, strategy, time_key_datum(v, argtype), argtype, lo, hi);
}

/*
 * The non-NULL elements of an array key, widened, sorted and unique.  Every
 * type's order is its widened value's, so the first is the least.
 */
static int64 *
array_key_values(ScanKey sk, Oid *elemtype, int *count)
{
	ArrayType  *arr = DatumGetArrayTypeP(sk->sk_argument);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int64	   *vals;
	int			n = 0;
	int			i;

	/* an array of a domain holds the domain's OID; the operator's type is its base */
	*elemtype = OidIsValid(sk->sk_subtype) ? sk->sk_subtype : ARR_ELEMTYPE(arr);
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign, &elems, &nulls, &nelems);
	vals = palloc(Max(nelems, 1) * sizeof(int64));
	for (i = 0; i < nelems; i++)
		if (!nulls[i])
			vals[n++] = omen_datum_to_key(elems[i], *elemtype);
	if (n > 1)
	{
		int			j = 0;

		qsort(vals, n, sizeof(int64), cmp_int64);
		for (i = 1; i < n; i++)
			if (vals[i] != vals[j])
				vals[++j] = vals[i];
		n = j + 1;
	}
	*count = n;
	return vals;
}

/* qsort comparator: ranges by their first key */
static int
cmp_range_lo(const void *a, const void *b)
{
	return cmp_int64(&((const OmenScanRange *) a)->lo, &((const OmenScanRange *) b)->lo);
}

/*
 * The key ranges of an = ANY array, sorted and disjoint: one point per
 * element, or for an element of another time type the keys equal to it.
 * Those come out of order when the elements' conversion to the key type
 * is not monotone (timestamps inside a daylight-saving gap, as
 * timestamptz, land after the gap's end), so they are sorted and merged.
 */
static OmenScanRange *
array_key_ranges(IndexScanDesc scan, const int64 *vals, int nvals, Oid elemtype, int *count)
{
	OmenScanRange *r = palloc(Max(nvals, 1) * sizeof(OmenScanRange));
	int			n = 0;
	int			merged = 0;
	int			i;

	for (i = 0; i < nvals; i++)
	{
		int64		lo = PG_INT64_MIN;
		int64		hi = PG_INT64_MAX;

		if (apply_key_bound(scan, BTEqualStrategyNumber, vals[i], elemtype, &lo, &hi))
		{
			r[n].lo = lo;
			r[n].hi = hi;
			n++;
		}
	}
	if (n > 1 && !omen_same_key_domain(((OmenScanOpaque) scan->opaque)->keytype, elemtype))
		qsort(r, n, sizeof(OmenScanRange), cmp_range_lo);
	for (i = 0; i < n; i++)
	{
		if (merged > 0 && r[i].lo <= r[merged - 1].hi)
			r[merged - 1].hi = Max(r[merged - 1].hi, r[i].hi);
		else
			r[merged++] = r[i];
	}
	*count = merged;
	return r;
}

/*
 * Narrow [lo, hi] by "key strategy ANY(array)" for an inequality: by the
 * loosest of the elements' bounds.  For the key's own domain that is the
 * greatest element's (< ANY) or the least's (> ANY); an element of another
 * time type may convert out of order (array_key_ranges), so each one's
 * bound is found.
 */
static bool
apply_array_bound(IndexScanDesc scan, StrategyNumber strategy, const int64 *vals, int nvals,
				  Oid elemtype, int64 *lo, int64 *hi)
{
	bool		upper = strategy == BTLessStrategyNumber || strategy == BTLessEqualStrategyNumber;
	bool		any = false;
	int64		loosest = 0;
	int			i;

	if (omen_same_key_domain(((OmenScanOpaque) scan->opaque)->keytype, elemtype))
		return apply_bound(strategy, upper ? vals[nvals - 1] : vals[0], lo, hi);

	for (i = 0; i < nvals; i++)
	{
		int64		elo = PG_INT64_MIN;
		int64		ehi = PG_INT64_MAX;

		if (!apply_key_bound(scan, strategy, vals[i], elemtype, &elo, &ehi))
			continue;
		if (!any)
			loosest = upper ? ehi : elo;
		else
			loosest = upper ? Max(loosest, ehi) : Min(loosest, elo);
		any = true;
	}
	if (!any)
		return false;
	return apply_bound(upper ? BTLessEqualStrategyNumber : BTGreaterEqualStrategyNumber, loosest, lo, hi);
}

/* The intersection of two sorted lists of disjoint ranges. */
static OmenScanRange *
intersect_ranges(const OmenScanRange *a, int na, const OmenScanRange *b, int nb, int *count)
{
	OmenScanRange *r = palloc(Max(na + nb, 1) * sizeof(OmenScanRange));
	int			i = 0,
				j = 0,
				n = 0;

	while (i < na && j < nb)
	{
		int64		lo = Max(a[i].lo, b[j].lo);
		int64		hi = Min(a[i].hi, b[j].hi);

		if (lo <= hi)
		{
			r[n].lo = lo;
			r[n].hi = hi;
			n++;
		}
		if (a[i].hi < b[j].hi)
			i++;
		else
			j++;
	}
	*count = n;
	return r;
}

/*
 * The context of what array keys allocate, reset by each rescan.  It is
 * made on first use, under the scan's own context: a scan by plain keys,
 * such as every probe, never needs it.
 */
static MemoryContext
keys_context(OmenScanOpaque so)
{
	if (so->cxt == NULL)
		so->cxt = AllocSetContextCreate(GetMemoryChunkContext(so), "omen scan keys",
										ALLOCSET_SMALL_SIZES);
	return so->cxt;
}

static void
preprocess_keys(IndexScanDesc scan)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	int64		lo = PG_INT64_MIN;
	int64		hi = PG_INT64_MAX;
	OmenScanRange *sets = NULL;	/* = ANY arrays' ranges, intersected */
	int			nsets = 0;
	bool		have_sets = false;
	bool		key_qual = false;
	bool		nulls_only = false;
	bool		not_null = false;
	bool		ok = true;
	int			i;

	for (i = 0; i < scan->numberOfKeys && ok; i++)
	{
		ScanKey		sk = &scan->keyData[i];

		if (sk->sk_flags & SK_ISNULL)
		{
			if (sk->sk_flags & SK_SEARCHNULL)
				nulls_only = true;
			else if (sk->sk_flags & SK_SEARCHNOTNULL)
				not_null = true;
			else
				ok = false;		/* comparison with NULL: never true */
			continue;
		}

		key_qual = true;
		if (sk->sk_flags & SK_SEARCHARRAY)
		{
			int			n;
			Oid			elemtype;
			MemoryContext old = MemoryContextSwitchTo(keys_context(so));
			int64	   *vals = array_key_values(sk, &elemtype, &n);

			if (n == 0)
				ok = false;
			else if (sk->sk_strategy == BTEqualStrategyNumber)
			{
				int			nr;
				OmenScanRange *r = array_key_ranges(scan, vals, n, elemtype, &nr);

				if (have_sets)
					sets = intersect_ranges(sets, nsets, r, nr, &nsets);
				else
				{
					sets = r;
					nsets = nr;
					have_sets = true;
				}
				ok = nsets > 0;
			}
			else
				ok = apply_array_bound(scan, sk->sk_strategy, vals, n, elemtype, &lo, &hi);
			MemoryContextSwitchTo(old);
		}
		else
		{
			Oid			argtype = OidIsValid(sk->sk_subtype) ? sk->sk_subtype : so->keytype;

			ok = apply_key_bound(scan, sk->sk_strategy, omen_datum_to_key(sk->sk_argument, argtype),
								 argtype, &lo, &hi);
		}
	}

	so->nranges = 0;
	if (ok && nulls_only && (key_qual || not_null))
		ok = false;
	if (ok && lo > hi)
		ok = false;

	so->empty = !ok;
	so->want_nulls = ok && (nulls_only || (!key_qual && !not_null));
	so->want_keys = ok && !nulls_only;

	if (so->want_keys)
	{
		if (have_sets)
		{
			/* the = ANY arrays' ranges, clipped to the other keys' bounds */
			so->ranges = sets;
			for (i = 0; i < nsets; i++)
			{
				OmenScanRange r = sets[i];

				r.lo = Max(r.lo, lo);
				r.hi = Min(r.hi, hi);
				if (r.lo <= r.hi)
					so->ranges[so->nranges++] = r;
			}
			if (so->nranges == 0)
				so->want_keys = false;
		}
		else
		{
			/* the common case needs no allocation: probes stay palloc-free */
			so->ranges = &so->range1;
			so->ranges[0].lo = lo;
			so->ranges[0].hi = hi;
			so->nranges = 1;
		}
	}
	if (!so->want_keys && !so->want_nulls)
		so->empty = true;
	so->keys_ready = true;
}

/* ---------------------------------------------------------------------
 * Reading leaves
 * ---------------------------------------------------------------------
 */

/* The trees a scan visits, in its direction's order. */
static int
scan_trees(OmenScanOpaque so, ScanDirection dir, int *trees)
{
	int			n = 0;

	if (ScanDirectionIsBackward(dir))
	{
		if (so->want_nulls)
			trees[n++] = OMEN_TREE_NULLS;
		if (so->want_keys)
			trees[n++] = OMEN_TREE_KEYS;
	}
	else
	{
		if (so->want_keys)
			trees[n++] = OMEN_TREE_KEYS;
		if (so->want_nulls)
			trees[n++] = OMEN_TREE_NULLS;
	}
	return n;
}

static inline const OmenScanRange *
tree_ranges(OmenScanOpaque so, int tree, int *n)
{
	if (tree == OMEN_TREE_NULLS)
	{
		*n = 1;
		return &full_range;
	}
	*n = so->nranges;
	return so->ranges;
}

/* The first position past every entry with key <= hi. */
static inline OmenPos
upper_target(int64 hi)
{
	OmenPos		t;

	if (hi == PG_INT64_MAX)
	{
		t.key = PG_INT64_MAX;
		t.tid = OMEN_TID_MAX;
	}
	else
	{
		t.key = hi + 1;
		t.tid = OMEN_TID_MIN;
	}
	return t;
}

/* Make room for 'more' items after the ones pos holds. */
static void
reserve_items(OmenScanPos *pos, int more)
{
	int			need = pos->nitems + more;

	if (need > pos->maxitems)
	{
		int			cap = Max(need, pos->maxitems * 2);

		pos->items = repalloc(pos->items, cap * sizeof(OmenScanItem));
		pos->maxitems = cap;
	}
}

/*
 * Append the leaf's entries with lo <= key <= hi to pos, in the scan's
 * order.  When pos->bounded, only those >= pos->bound (forward) or
 * < pos->bound (backward): the entries the scan returned from the leaf it
 * read before, which may have moved here since (rebalance_right), are
 * skipped.
 */
static void
collect_range(OmenScanPos *pos, const OmenLeaf *lf, int64 lo, int64 hi, bool backward)
{
	int			first;
	int			end;
	int			n;
	OmenScanItem *a = pos->items + pos->nitems;
	int			skip = 0;

	if (pos->bounded)
	{
		if (backward)
			hi = Min(hi, pos->bound.key);
		else
			lo = Max(lo, pos->bound.key);
		if (lo > hi)
			return;
	}
	omen_leaf_sorted_range(lf, lo, hi, &first, &end);
	/* (a damaged run directory can give end < first: see omen_leaf_collect) */
	reserve_items(pos, Max(end - first, 0) + lf->n - lf->nsorted);
	a = pos->items + pos->nitems;
	n = omen_leaf_collect(lf, first, end, lo, hi, a);
	if (pos->bounded)
	{
		/* only items with the bound's key can be on the wrong side of it */
		if (backward)
		{
			while (n > 0 && omen_pos_cmp(a[n - 1].key, omen_tid_encode(&a[n - 1].tid),
										 pos->bound.key, pos->bound.tid) >= 0)
				n--;
		}
		else
		{
			while (skip < n && omen_pos_cmp(a[skip].key, omen_tid_encode(&a[skip].tid),
											pos->bound.key, pos->bound.tid) < 0)
				skip++;
			if (skip > 0)
			{
				memmove(a, a + skip, (n - skip) * sizeof(OmenScanItem));
				n -= skip;
			}
		}
	}
	if (backward)
	{
		int			i;

		for (i = 0; i < n / 2; i++)
		{
			OmenScanItem t = a[i];

			a[i] = a[n - 1 - i];
			a[n - 1 - i] = t;
		}
	}
	pos->nitems += n;
}

/*
 * Collect matching entries of a locked leaf scanning forward, for range
 * pos->range and the ranges after it that start on this leaf.  Sets
 * pos->range_done and pos->next for the caller.
 */
static void
read_leaf_forward(OmenScanOpaque so, OmenScanPos *pos, Page page)
{
	OmenPageOpaque opaque = OmenPageGetOpaque(page);
	bool		rightmost = opaque->right == InvalidBlockNumber;
	int			nr;
	const OmenScanRange *ranges = tree_ranges(so, pos->tree, &nr);
	OmenLeaf	lf;

	omen_leaf_open_for_scan(so->index, page, pos->blkno, &lf);
	for (;;)
	{
		const OmenScanRange *r = &ranges[pos->range];

		collect_range(pos, &lf, r->lo, r->hi, false);
		if (!rightmost && opaque->high.key <= r->hi)
		{
			/* the range goes on in the right sibling */
			pos->range_done = false;
			pos->next = opaque->right;
			return;
		}
		pos->range++;
		pos->range_done = true;
		if (pos->range >= nr)
			return;
		/* does the next range start on this leaf? */
		if (!rightmost &&
			omen_pos_cmp(ranges[pos->range].lo, OMEN_TID_MIN, opaque->high.key, opaque->high.tid) >= 0)
			return;
	}
}

static void
read_leaf_backward(OmenScanOpaque so, OmenScanPos *pos, Page page)
{
	OmenPageOpaque opaque = OmenPageGetOpaque(page);
	bool		leftmost = opaque->left == InvalidBlockNumber;
	int			nr;
	const OmenScanRange *ranges = tree_ranges(so, pos->tree, &nr);
	OmenLeaf	lf;

	omen_leaf_open_for_scan(so->index, page, pos->blkno, &lf);
	for (;;)
	{
		const OmenScanRange *r = &ranges[pos->range];
		OmenPos		t;

		collect_range(pos, &lf, r->lo, r->hi, true);
		/* entries left of this leaf are < low: can any be >= r->lo? */
		if (!leftmost &&
			(opaque->low.key > r->lo ||
			 (opaque->low.key == r->lo && opaque->low.tid != OMEN_TID_MIN)))
		{
			pos->range_done = false;
			pos->next = opaque->left;
			return;
		}
		pos->range--;
		pos->range_done = true;
		if (pos->range < 0)
			return;
		t = upper_target(ranges[pos->range].hi);
		if (omen_pos_cmp(t.key, t.tid, opaque->low.key, opaque->low.tid) <= 0)
			return;				/* the next range lies wholly left */
	}
}

static void
release_pos(OmenScanPos *pos)
{
	if (BufferIsValid(pos->buf))
	{
		ReleaseBuffer(pos->buf);
		pos->buf = InvalidBuffer;
	}
}

static OmenScanPos *
new_pos(void)
{
	OmenScanPos *pos = palloc0(sizeof(OmenScanPos));

	pos->buf = InvalidBuffer;
	pos->maxitems = SCANPOS_INITIAL_ITEMS;
	pos->items = palloc(SCANPOS_INITIAL_ITEMS * sizeof(OmenScanItem));
	return pos;
}

static void
free_pos(OmenScanPos *pos)
{
	release_pos(pos);
	pfree(pos->items);
	pfree(pos);
}

/* Read a locked leaf into pos; keep the pin, drop the lock. */
static void
load_leaf(OmenScanOpaque so, OmenScanPos *pos, Buffer buf)
{
	Page		page = BufferGetPage(buf);
	OmenPageOpaque opaque = OmenPageGetOpaque(page);

	pos->buf = buf;
	pos->blkno = BufferGetBlockNumber(buf);
	pos->low = opaque->low;
	pos->high = opaque->high;
	pos->nitems = 0;
	pos->item = 0;
	if (ScanDirectionIsBackward(so->dir))
		read_leaf_backward(so, pos, page);
	else
		read_leaf_forward(so, pos, page);
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
}

/*
 * Lock a page reached through a link saved earlier, if it is still where
 * the link said: a leaf of the tree whose range starts at or before the
 * bound (forward) or before it (backward).  Otherwise (VACUUM unlinked it
 * and it was recycled since) return InvalidBuffer.
 */
static Buffer
lock_linked_leaf(Relation index, BlockNumber blkno, uint16 want, OmenPos bound, bool backward)
{
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	int			c;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (omen_page_is_leaf(page, want))
	{
		c = omen_pos_cmp(OmenPageGetOpaque(page)->low.key, OmenPageGetOpaque(page)->low.tid,
						 bound.key, bound.tid);
		if (backward ? c < 0 : c <= 0)
		{
			omen_check_scan_leaf(index, buf, blkno, want);
			return buf;
		}
	}
	UnlockReleaseBuffer(buf);
	return InvalidBuffer;
}

/*
 * The leaf that now holds the bound, found afresh.  A race (a leaf
 * unlinked and recycled between two steps) makes this happen once; a
 * chain whose links keep failing is broken.
 */
static Buffer
reseek_bound(IndexScanDesc scan, OmenScanPos *pos)
{
	if (++pos->reseeks > 100)
		omen_corrupt(scan->indexRelation, pos->blkno, "sibling links of tree %d lead nowhere near the scan",
					 pos->tree);
	return omen_find_leaf(scan->indexRelation, pos->tree, pos->bound.key, pos->bound.tid,
						  BUFFER_LOCK_SHARE, tree_want(pos->tree));
}

/*
 * Step right from the leaf we just read, to its saved right link: the
 * leaf that held the position of our high fence.  If that page is no
 * longer such a leaf, find the one that holds it now.
 */
static Buffer
step_right(IndexScanDesc scan, OmenScanPos *pos)
{
	Buffer		buf = lock_linked_leaf(scan->indexRelation, pos->next, tree_want(pos->tree),
									   pos->bound, false);

	if (!BufferIsValid(buf))
		return reseek_bound(scan, pos);
	pos->reseeks = 0;
	return buf;
}

/*
 * Step left from the leaf we just read.  Its saved left link may be stale
 * if that sibling split since; the true left neighbour is the page whose
 * right link points back to us, found by moving right from the saved one.
 * If that neighbour's high fence is below the bound (the lowest fence the
 * scan read), it gave entries to our leaf since (rebalance_right): those
 * were not returned, so go instead to the leaf that now holds the position
 * of the bound, and collect below it.  The same if the saved link no
 * longer leads to a leaf left of ours (unlinked for reuse).
 */
static Buffer
step_left(IndexScanDesc scan, OmenScanPos *pos)
{
	Relation	index = scan->indexRelation;
	uint16		want = tree_want(pos->tree);
	Buffer		buf = lock_linked_leaf(index, pos->next, want, pos->bound, true);

	while (BufferIsValid(buf))
	{
		OmenPageOpaque opaque = OmenPageGetOpaque(BufferGetPage(buf));
		BlockNumber next = opaque->right;

		if (next == pos->blkno)
		{
			if (omen_pos_cmp(opaque->high.key, opaque->high.tid, pos->bound.key, pos->bound.tid) >= 0)
			{
				pos->reseeks = 0;
				return buf;
			}
			break;
		}
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
		if (next == InvalidBlockNumber)
			return reseek_bound(scan, pos);
		buf = lock_linked_leaf(index, next, want, pos->bound, true);
	}
	if (BufferIsValid(buf))
		UnlockReleaseBuffer(buf);
	return reseek_bound(scan, pos);
}

/* Position on the leaf where range pos->range starts, locked. */
static Buffer
seek_range(IndexScanDesc scan, OmenScanPos *pos)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	int			nr;
	const OmenScanRange *ranges = tree_ranges(so, pos->tree, &nr);
	const OmenScanRange *r = &ranges[pos->range];

	if (ScanDirectionIsBackward(so->dir))
	{
		OmenPos		t = upper_target(r->hi);

		return omen_find_leaf(scan->indexRelation, pos->tree, t.key, t.tid,
							  BUFFER_LOCK_SHARE, tree_want(pos->tree));
	}
	return omen_find_leaf(scan->indexRelation, pos->tree, r->lo, OMEN_TID_MIN,
						  BUFFER_LOCK_SHARE, tree_want(pos->tree));
}

static void
start_tree(OmenScanOpaque so, OmenScanPos *pos, int tree)
{
	int			nr;

	tree_ranges(so, tree, &nr);
	pos->tree = tree;
	pos->range = ScanDirectionIsBackward(so->dir) ? nr - 1 : 0;
	pos->range_done = true;		/* i.e. seek pos->range afresh */
	pos->next = InvalidBlockNumber;
}

/*
 * Load the next leaf with work to do.  Returns false at the end of the scan.
 */
static bool
advance(IndexScanDesc scan)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	OmenScanPos *pos = so->pos;
	int			trees[OMEN_NTREES];
	int			ntrees = scan_trees(so, so->dir, trees);

	release_pos(pos);
	for (;;)
	{
		int			nr;
		Buffer		buf;

		CHECK_FOR_INTERRUPTS();
		if (so->finished)
			return false;
		tree_ranges(so, pos->tree, &nr);
		if (!pos->range_done)
		{
			/*
			 * The current range continues on a sibling.  Everything on the
			 * near side of the fence of the leaf just read was returned
			 * (and of every leaf read before in this range: a leaf whose
			 * fence went down meanwhile can lie wholly behind the scan),
			 * so the bound is the furthest such fence.  Entries behind it
			 * that moved since (rebalance_right) are not returned twice.
			 */
			if (ScanDirectionIsBackward(so->dir))
			{
				if (!pos->bounded || omen_pos_cmp(pos->low.key, pos->low.tid,
												  pos->bound.key, pos->bound.tid) < 0)
					pos->bound = pos->low;
				pos->bounded = true;
				buf = step_left(scan, pos);
			}
			else
			{
				if (!pos->bounded || omen_pos_cmp(pos->high.key, pos->high.tid,
												  pos->bound.key, pos->bound.tid) > 0)
					pos->bound = pos->high;
				pos->bounded = true;
				buf = step_right(scan, pos);
			}
			load_leaf(so, pos, buf);
			return true;
		}
		if (pos->range >= 0 && pos->range < nr)
		{
			pos->bounded = false;
			buf = seek_range(scan, pos);
			load_leaf(so, pos, buf);
			return true;
		}
		/* this tree is done: on to the next one */
		if (so->phase + 1 >= ntrees)
		{
			so->finished = true;
			return false;
		}
		so->phase++;
		start_tree(so, pos, trees[so->phase]);
	}
}

static bool
scan_begin(IndexScanDesc scan, ScanDirection dir)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	int			trees[OMEN_NTREES];

	if (!so->keys_ready)
		preprocess_keys(scan);
	so->started = true;
	so->dir = dir;
	so->phase = 0;
	so->finished = so->empty;
	if (so->finished)
		return false;
	scan_trees(so, dir, trees);
	start_tree(so, so->pos, trees[0]);
	so->pos->nitems = 0;
	so->pos->item = 0;
	return true;
}

/* ---------------------------------------------------------------------
 * AM interface
 * ---------------------------------------------------------------------
 */

IndexScanDesc
omenbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	OmenScanOpaque so = palloc0(sizeof(OmenScanOpaqueData));

	so->keytype = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
	/* cross_argtype[] is InvalidOid: cross_type_cmp() */
	so->index = index;
	so->cxt = NULL;				/* keys_context() */
	so->pos = new_pos();
	so->mark = NULL;
	so->ranges = NULL;
	so->extra = NULL;			/* result_tuples() */
	so->key_dest = NULL;
	so->prefetch_at = INT_MAX;	/* start_heap_prefetch() */
	so->tuple_len = -1;
	scan->opaque = so;
	scan->xs_itupdesc = RelationGetDescr(index);
	scan->xs_itup = NULL;
	return scan;
}

void
omenrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;

	release_pos(so->pos);
	if (so->mark)
	{
		free_pos(so->mark);
		so->mark = NULL;
	}
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (so->cxt)
		MemoryContextReset(so->cxt);
	so->ranges = NULL;
	so->nranges = 0;
	so->keys_ready = false;
	so->started = false;
	so->finished = false;
	so->pos->nitems = 0;
	so->pos->item = 0;
}

/*
 * The preformed tuples of an index-only scan, made when it first returns
 * a result, in the scan's own context: a scan that returns no index tuple
 * (a plain index scan, a bitmap scan, a probe that finds nothing) never
 * forms them.
 */
static OmenScanExtra *
result_tuples(IndexScanDesc scan, OmenScanOpaque so)
{
	TupleDesc	desc = RelationGetDescr(scan->indexRelation);
	MemoryContext old;
	OmenScanExtra *extra;
	Datum		d = (Datum) 0;
	bool		isnull;

	if (so->extra)
		return so->extra;
	old = MemoryContextSwitchTo(GetMemoryChunkContext(so));
	extra = palloc0(sizeof(OmenScanExtra));
	isnull = false;
	extra->itup = index_form_tuple(desc, &d, &isnull);
	isnull = true;
	extra->nulltup = index_form_tuple(desc, &d, &isnull);
	MemoryContextSwitchTo(old);
	extra->data_off = IndexInfoFindDataOffset(extra->itup->t_info);
	extra->attlen = TupleDescAttr(desc, 0)->attlen;
	Assert(extra->attlen == 2 || extra->attlen == 4 || extra->attlen == 8);
	/* room for a whole int64 key after the header, whatever attlen (return_item) */
	Assert(MAXIMUM_ALIGNOF < 8 ||
		   IndexTupleSize(extra->itup) >= extra->data_off + sizeof(int64));
	so->extra = extra;
	return extra;
}

/*
 * Where the current tree's results go: an index-only scan of the key tree
 * gets each item's key written into the preformed tuple (so->key_dest);
 * the NULL tree's tuple is preformed whole.  Set by the slow path of
 * omengettuple (which is taken after every move to a leaf, so after every
 * change of tree) and after a restore, so that returning another item of
 * the leaf read last is a copy and nothing else.
 */
static void
set_result_target(IndexScanDesc scan)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	OmenScanExtra *extra;

	scan->xs_recheck = false;
	so->key_dest = NULL;
	if (!scan->xs_want_itup)
		return;
	extra = result_tuples(scan, so);
	if (so->pos->tree == OMEN_TREE_NULLS)
		scan->xs_itup = extra->nulltup;
	else
	{
		scan->xs_itup = extra->itup;
		so->key_dest = (char *) extra->itup + extra->data_off;
	}
}

/*
 * Return the next item of the leaf read last.  Every key type is an
 * integer of attlen bytes, by value (omen_datum_to_key).
 */
static inline bool
return_item(IndexScanDesc scan, OmenScanOpaque so, OmenScanPos *pos)
{
	const OmenScanItem *it = &pos->items[pos->item++];

	scan->xs_heaptid = it->tid;
	if (so->key_dest)
	{
#if !defined(WORDS_BIGENDIAN) && MAXIMUM_ALIGNOF >= 8
		/*
		 * The low attlen bytes of the int64 are the key's value; the rest
		 * land in the tuple's alignment padding: a tuple of one 2-, 4- or
		 * 8-byte key takes 16 bytes when MAXALIGN is 8 (result_tuples).
		 */
		memcpy(so->key_dest, &it->key, sizeof(int64));
#else
		int16		attlen = so->extra->attlen;

		if (attlen == sizeof(int64))
			*(int64 *) so->key_dest = it->key;
		else if (attlen == sizeof(int32))
			*(int32 *) so->key_dest = (int32) it->key;
		else
			*(int16 *) so->key_dest = (int16) it->key;
#endif
	}
	return true;
}

/* a cache line on most CPUs (PG_CACHE_LINE_SIZE is 128, for padding) */
#define ROW_GUESS_LINE		64

/*
 * Start loading the line pointer and the row at offset offnum of a heap
 * page that omen_prefetch_heap_blocks() found in shared buffers.
 *
 * Where the row lies on the page is in its line pointer, which is not
 * read (nothing is pinned): it is guessed.  PageAddItem stores rows from
 * the end of the page down, so until rows are pruned or updated, a page's
 * row at offset n ends where row n - 1 starts: n rows of tuple_len bytes
 * from the end (omen_heap_tuple_len).  With rows of one fixed length that
 * is exact, and the row's first and last bytes are fetched; with a mean
 * length the guess strays by the spread of the lengths before the row
 * (and by the free space the mean counts), and the line of the guess and
 * the lines either side are fetched.  A wrong guess costs those loads.
 */
static inline void
prefetch_heap_row(const char *page, OffsetNumber offnum, int tuple_len, bool exact)
{
	const char *row;

	if (offnum < FirstOffsetNumber || offnum > MaxHeapTuplesPerPage)
		return;
	omen_prefetch(page + SizeOfPageHeaderData + (offnum - 1) * sizeof(ItemIdData));
	/* (tuple_len <= BLCKSZ: these products cannot overflow) */
	Assert(tuple_len >= 0 && tuple_len <= BLCKSZ);
	if (tuple_len == 0)
		return;
	if (exact)
	{
		/* n rows and n line pointers fit after the page header */
		if (offnum * (tuple_len + (int) sizeof(ItemIdData)) > BLCKSZ - SizeOfPageHeaderData)
			return;
		row = page + BLCKSZ - offnum * tuple_len;
		omen_prefetch(row);
		omen_prefetch(row + tuple_len - 1);
	}
	else
	{
		if (offnum * tuple_len > BLCKSZ - SizeOfPageHeaderData - ROW_GUESS_LINE)
			return;
		row = page + BLCKSZ - offnum * tuple_len;
		omen_prefetch(row - ROW_GUESS_LINE);
		omen_prefetch(row);
		if (offnum * tuple_len > ROW_GUESS_LINE)
			omen_prefetch(row + ROW_GUESS_LINE);
	}
}

/*
 * Prefetch the rows of pos's items from first on, up to end or to the
 * item before the (OMEN_LOOKUP_BATCH + 1)th page change, whichever comes
 * first; returns the item after the last one prefetched.  The pages are
 * looked up in one batch (omen_prefetch_heap_blocks); an item on the page
 * of the item before it needs no lookup.
 */
static int
prefetch_heap_batch(Relation heap, OmenScanOpaque so, OmenScanPos *pos, int first, int end)
{
	BlockNumber blocks[OMEN_LOOKUP_BATCH];
	const char *pages[OMEN_LOOKUP_BATCH];
	BlockNumber last = so->prefetch_block;
	int			nblocks = 0;
	int			stop;
	int			b = 0;
	int			i;

	for (stop = first; stop < end; stop++)
	{
		BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&pos->items[stop].tid);

		if (blkno == last)
			continue;
		if (nblocks == OMEN_LOOKUP_BATCH)
			break;
		blocks[nblocks++] = last = blkno;
	}
	if (nblocks > 0)
		omen_prefetch_heap_blocks(heap, blocks, nblocks, pages);
	for (i = first; i < stop; i++)
	{
		ItemPointer tid = &pos->items[i].tid;

		if (ItemPointerGetBlockNumberNoCheck(tid) != so->prefetch_block)
		{
			Assert(b < nblocks && blocks[b] == ItemPointerGetBlockNumberNoCheck(tid));
			so->prefetch_block = blocks[b];
			so->prefetch_page = pages[b++];
		}
		if (so->prefetch_page)
			prefetch_heap_row(so->prefetch_page, ItemPointerGetOffsetNumberNoCheck(tid),
							  so->tuple_len, so->tuple_len_exact);
	}
	Assert(b == nblocks);
	return stop;
}

/*
 * Prefetch the heap rows of pos's items up to the window past the next
 * one to return, and set where to do it again: the pages' buffers, looked
 * up in batches (prefetch_heap_batch), then each row's line pointer and
 * its guessed place on the page (prefetch_heap_row).
 *
 * Why an index does this: each row an index scan returns costs the
 * executor a heap fetch whose cache misses (buffer mapping, descriptor,
 * page header, line pointer, tuple) come one after another, and a probe
 * that returns 50 rows of a duplicated key waits for 50 such chains in
 * turn.  The scan knows all those rows when it reads the leaf; started
 * ahead, their misses overlap.  10M rows, heap in shared buffers: a probe
 * of ~50 duplicates scattered over the heap took 0.95 of btree's time
 * without any of this, 0.62 with the pages prefetched and 0.46 with the
 * rows too (src/README.md, "Heap prefetch").
 */
static void
prefetch_heap_pages(Relation heap, OmenScanOpaque so, OmenScanPos *pos)
{
	int			window = so->prefetch_window;
	int			end = Min(pos->nitems, pos->item + window);
	int			i = Max(so->prefetch_next, pos->item);

	while (i < end)
		i = prefetch_heap_batch(heap, so, pos, i, end);
	so->prefetch_next = end;
	so->prefetch_at = end < pos->nitems ? end - window / 2 : INT_MAX;
	so->prefetch_window = Min(window * OMEN_PREFETCH_GROWTH, OMEN_PREFETCH_ROWS);
}

/*
 * Start prefetching the heap pages of the items pos now holds, when this
 * scan returns rows through the heap: a plain index scan of a heap (the
 * heap table AM: another AM's TIDs need not name its blocks) in shared
 * buffers, on a compiler that can give the hints.  An index-only scan
 * reads the visibility map instead, and a bitmap scan (omengetbitmap)
 * prefetches in the executor.  Otherwise prefetch_at stays INT_MAX and
 * omengettuple never refills.
 */
static void
start_heap_prefetch(IndexScanDesc scan, OmenScanOpaque so, OmenScanPos *pos)
{
	Relation	heap = scan->heapRelation;

	so->prefetch_at = INT_MAX;
	if (!OMEN_HAVE_PREFETCH || !omen_prefetch_heap || scan->xs_want_itup || heap == NULL ||
		heap->rd_rel->relam != HEAP_TABLE_AM_OID || RelationUsesLocalBuffers(heap))
		return;
	so->prefetch_next = pos->item;
	so->prefetch_block = InvalidBlockNumber;
	so->prefetch_page = NULL;
	so->prefetch_window = OMEN_PREFETCH_FIRST;
	if (so->tuple_len < 0)
		so->tuple_len = omen_heap_tuple_len(heap, &so->tuple_len_exact);
	prefetch_heap_pages(heap, so, pos);
}

/*
 * omengettuple() when the leaf read last has no items left, or when the
 * heap prefetch's window is to be refilled before the next item.
 */
static pg_noinline bool
gettuple_slow(IndexScanDesc scan, ScanDirection dir)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	OmenScanPos *pos = so->pos;

	if (pos->item < pos->nitems && dir == so->dir)
	{
		Assert(pos->item >= so->prefetch_at);
		prefetch_heap_pages(scan->heapRelation, so, pos);
		return return_item(scan, so, pos);
	}
	if (!so->started)
	{
		if (!scan_begin(scan, dir))
			return false;
	}
	else if (dir != so->dir)
		elog(ERROR, "omen: a scan cannot change direction");

	while (pos->item >= pos->nitems)
	{
		if (!advance(scan))
			return false;
	}
	set_result_target(scan);
	start_heap_prefetch(scan, so, pos);
	return return_item(scan, so, pos);
}

/*
 * Most calls return the next item of the leaf read last: that path makes
 * no call, so it saves no registers; everything else is a tail call.
 * (Before the first call, and after a rescan, the position has no items.)
 */
bool
omengettuple(IndexScanDesc scan, ScanDirection dir)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	OmenScanPos *pos = so->pos;

	if (likely(pos->item < pos->nitems && dir == so->dir && pos->item < so->prefetch_at))
		return return_item(scan, so, pos);
	return gettuple_slow(scan, dir);
}

int64
omengetbitmap(IndexScanDesc scan, TIDBitmap *tbm)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;
	OmenScanPos *pos = so->pos;
	int64		ntids = 0;

	if (!scan_begin(scan, ForwardScanDirection))
		return 0;
	for (;;)
	{
		int			i;

		for (i = pos->item; i < pos->nitems; i++)
			tbm_add_tuples(tbm, &pos->items[i].tid, 1, false);
		ntids += pos->nitems - pos->item;
		pos->item = pos->nitems;
		if (!advance(scan))
			break;
	}
	release_pos(pos);
	return ntids;
}

void
omenendscan(IndexScanDesc scan)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;

	free_pos(so->pos);
	if (so->mark)
		free_pos(so->mark);
	if (so->cxt)
		MemoryContextDelete(so->cxt);
	if (so->extra)
	{
		pfree(so->extra->itup);
		pfree(so->extra->nulltup);
		pfree(so->extra);
	}
	pfree(so);
	scan->opaque = NULL;
}

/* Mark/restore for merge joins: a copy of the position, with its own pin. */
static void
copy_pos(OmenScanPos *dst, OmenScanPos *src)
{
	OmenScanItem *items = dst->items;
	int			maxitems = dst->maxitems;

	memcpy(dst, src, offsetof(OmenScanPos, maxitems));
	dst->items = items;
	dst->maxitems = maxitems;
	dst->nitems = 0;
	reserve_items(dst, src->nitems);
	memcpy(dst->items, src->items, src->nitems * sizeof(OmenScanItem));
	dst->nitems = src->nitems;
	if (BufferIsValid(dst->buf))
		IncrBufferRefCount(dst->buf);
}

void
omenmarkpos(IndexScanDesc scan)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;

	if (so->mark == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(so));

		so->mark = new_pos();
		MemoryContextSwitchTo(old);
	}
	else
		release_pos(so->mark);
	copy_pos(so->mark, so->pos);
	so->mark_phase = so->phase;
	so->mark_finished = so->finished;
}

void
omenrestrpos(IndexScanDesc scan)
{
	OmenScanOpaque so = (OmenScanOpaque) scan->opaque;

	if (so->mark == NULL)
		elog(ERROR, "omen: restore without a marked position");
	release_pos(so->pos);
	copy_pos(so->pos, so->mark);
	so->phase = so->mark_phase;
	so->finished = so->mark_finished;
	set_result_target(scan);
	start_heap_prefetch(scan, so, so->pos);
}
