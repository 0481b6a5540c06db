/*
 * omenleaf.c
 *	  The leaf page format: per-leaf encoding of keys and TIDs, the sorted
 *	  entries and the pending area, searching and collecting entries.
 *
 * A leaf stores each key as key - key_base in key_width bytes and each
 * TID as encoded TID - tid_base in tid_width bytes (omen.h).  The widths
 * are chosen from the range of what the leaf holds when it is written in
 * full (build, split, merge, VACUUM); an insert whose key or TID falls
 * outside that range rewrites the leaf with wider fields.  Decoding is an
 * unaligned 8-byte load and a mask, so a search costs what it would over
 * a plain int64 array.
 */
#include "postgres.h"

#include "port/pg_bitutils.h"

#include "omen.h"

/* Bytes needed to store a difference of 'span'. */
int
omen_width_for(uint64 span)
{
	if (span == 0)
		return 1;
	return (pg_leftmost_one_pos64(span) + 8) / 8;
}

/*
 * The narrowest encoding that holds the given entries: bases at the least
 * key and TID, widths from the spans.
 */
void
omen_leaf_choose_enc(const int64 *keys, const int64 *tids, int n, OmenLeafEnc *enc)
{
	int64		kmin,
				kmax,
				tmin,
				tmax;
	int			i;

	if (n == 0)
	{
		enc->key_base = 0;
		enc->tid_base = 0;
		enc->key_width = 1;
		enc->tid_width = 1;
		return;
	}
	kmin = kmax = keys[0];
	tmin = tmax = tids[0];
	for (i = 1; i < n; i++)
	{
		if (keys[i] < kmin)
			kmin = keys[i];
		if (keys[i] > kmax)
			kmax = keys[i];
		if (tids[i] < tmin)
			tmin = tids[i];
		if (tids[i] > tmax)
			tmax = tids[i];
	}
	enc->key_base = kmin;
	enc->tid_base = tmin;
	enc->key_width = omen_width_for((uint64) kmax - (uint64) kmin);
	enc->tid_width = omen_width_for((uint64) tmax - (uint64) tmin);
}

/* Can the encoding store this entry? */
bool
omen_leaf_enc_holds(const OmenLeafEnc *enc, int64 key, int64 tid)
{
	return key >= enc->key_base && tid >= enc->tid_base &&
		((uint64) key - (uint64) enc->key_base) <= omen_width_mask(enc->key_width) &&
		((uint64) tid - (uint64) enc->tid_base) <= omen_width_mask(enc->tid_width);
}

void
omen_leaf_get_enc(Page page, OmenLeafEnc *enc)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);

	enc->key_base = h->key_base;
	enc->tid_base = h->tid_base;
	enc->key_width = h->key_width;
	enc->tid_width = h->tid_width;
}

int
omen_leaf_bytes(const OmenLeafEnc *enc, int n)
{
	return n * (enc->key_width + enc->tid_width);
}

/* The bytes a leaf is filled to by CREATE INDEX and by appends. */
int
omen_leaf_fill_bytes(int fillfactor)
{
	return (int) (OMEN_LEAF_SPACE * (int64) fillfactor / 100);
}

/* An empty leaf. */
void
omen_leaf_init(Page page, uint16 flags)
{
	OmenLeafEnc enc;

	omen_init_page(page, flags);
	omen_leaf_choose_enc(NULL, NULL, 0, &enc);
	omen_leaf_write(page, &enc, 0, NULL, NULL);
}

static inline void
store_value(char *p, uint64 v, int width)
{
#ifdef WORDS_BIGENDIAN
	int			i;

	for (i = 0; i < width; i++)
		p[i] = (char) (v >> (8 * i));
#else
	memcpy(p, &v, width);
#endif
}

static inline void
store_entry(Page page, const OmenLeafHeader *h, int i, int64 key, int64 tid)
{
	char	   *tids = (char *) page + ((PageHeader) page)->pd_special;

	store_value((char *) page + OMEN_LEAF_DATA + i * h->key_width,
				(uint64) key - (uint64) h->key_base, h->key_width);
	store_value(tids - (i + 1) * h->tid_width,
				(uint64) tid - (uint64) h->tid_base, h->tid_width);
}

/* Set pd_lower and pd_upper for n entries and zero the hole between. */
static void
set_bounds(Page page, const OmenLeafHeader *h, int n)
{
	PageHeader	ph = (PageHeader) page;

	ph->pd_lower = OMEN_LEAF_DATA + n * h->key_width;
	ph->pd_upper = ph->pd_special - n * h->tid_width;
	Assert(ph->pd_lower <= ph->pd_upper);
	memset((char *) page + ph->pd_lower, 0, ph->pd_upper - ph->pd_lower);
}

/*
 * Write n entries, in position order, with the given encoding (which must
 * hold them all and fit the page).  Fences and links are untouched.
 */
void
omen_leaf_write(Page page, const OmenLeafEnc *enc, int n, const int64 *keys, const int64 *tids)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			i;

	Assert(omen_leaf_bytes(enc, n) <= (int) OMEN_LEAF_SPACE);
	MemSet(h, 0, sizeof(OmenLeafHeader));
	h->key_base = enc->key_base;
	h->tid_base = enc->tid_base;
	h->key_width = (uint8) enc->key_width;
	h->tid_width = (uint8) enc->tid_width;
	h->nsorted = (uint16) n;
	for (i = 0; i < n; i++)
	{
		Assert(omen_leaf_enc_holds(enc, keys[i], tids[i]));
		store_entry(page, h, i, keys[i], tids[i]);
	}
	set_bounds(page, h, n);
}

/*
 * Rewrite entries [from, n) in the page's own encoding, all of them
 * sorted; entries before 'from' are already what they should be.  Used by
 * a merge, which changes only what lies after its first new entry.
 */
void
omen_leaf_write_from(Page page, int from, int n, const int64 *keys, const int64 *tids)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			i;

	Assert(n * (h->key_width + h->tid_width) <= (int) OMEN_LEAF_SPACE);
	for (i = from; i < n; i++)
		store_entry(page, h, i, keys[i], tids[i]);
	h->nsorted = (uint16) n;
	set_bounds(page, h, n);
}

/*
 * Append one entry beside the hole: to the sorted entries (it must follow
 * all of them and nothing may be pending) or to the pending area.  The
 * page's encoding must hold it and the page must have room.
 */
void
omen_leaf_append(Page page, int64 key, int64 tid, bool sorted)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	PageHeader	ph = (PageHeader) page;
	int			n = OmenLeafNEntries(page);

	Assert(ph->pd_upper - ph->pd_lower >= h->key_width + h->tid_width);
	store_entry(page, h, n, key, tid);
	ph->pd_lower += h->key_width;
	ph->pd_upper -= h->tid_width;
	if (sorted)
	{
		Assert(h->nsorted == n);
		h->nsorted++;
	}
}

/*
 * Is the leaf's layout self-consistent?  Checked on every read of a leaf:
 * it keeps every later access inside the page.
 */
bool
omen_leaf_check_layout(Page page, char *why, Size whylen)
{
	PageHeader	ph = (PageHeader) page;
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			nkeys;
	int			ntids;

	if (h->key_width < 1 || h->key_width > 8 || h->tid_width < 1 || h->tid_width > 8)
	{
		snprintf(why, whylen, "leaf field widths are %d and %d bytes", h->key_width, h->tid_width);
		return false;
	}
	if (ph->pd_lower < OMEN_LEAF_DATA || ph->pd_upper > ph->pd_special ||
		ph->pd_lower > ph->pd_upper ||
		(ph->pd_lower - OMEN_LEAF_DATA) % h->key_width != 0 ||
		(ph->pd_special - ph->pd_upper) % h->tid_width != 0)
	{
		snprintf(why, whylen, "leaf bounds are inconsistent (lower %u, upper %u, special %u, widths %d and %d)",
				 ph->pd_lower, ph->pd_upper, ph->pd_special, h->key_width, h->tid_width);
		return false;
	}
	nkeys = (ph->pd_lower - OMEN_LEAF_DATA) / h->key_width;
	ntids = (ph->pd_special - ph->pd_upper) / h->tid_width;
	if (nkeys != ntids)
	{
		snprintf(why, whylen, "leaf holds %d keys but %d heap pointers", nkeys, ntids);
		return false;
	}
	if (h->nsorted > nkeys || nkeys - h->nsorted > OMEN_PENDING_MAX)
	{
		snprintf(why, whylen, "leaf holds %d entries of which %d sorted", nkeys, h->nsorted);
		return false;
	}
	return true;
}

/* Does sorted entry i come before (key, tid)? */
static inline bool
entry_before(const OmenLeaf *lf, int i, int64 key, int64 tid)
{
	int64		k = omen_leaf_key(lf, i);

	return k < key || (k == key && omen_leaf_tid(lf, i) < tid);
}

/* leaves with fewer sorted entries are searched by plain bisection */
#define OMEN_INTERPOLATE_MIN	16

/*
 * Index of the first sorted entry >= (key, tid).
 *
 * A leaf holds up to ~1,000 entries, and bisecting them touches a new
 * cache line at nearly every step: on a probe that is most of the time
 * spent in the index once the model has named the leaf.  Keys within one
 * leaf are close to evenly spread (the leaf is a piece of the key
 * distribution the model fitted), so the position is first guessed by
 * interpolating between the leaf's least and greatest key, then bracketed
 * by galloping from the guess (1, 2, 4, ... entries away) and bisected
 * within the bracket.  A wrong guess only costs more steps.
 */
int
omen_leaf_lower_bound(const OmenLeaf *lf, int64 key, int64 tid)
{
	int			n = lf->nsorted;
	int			lo = 0;
	int			hi = n;

	if (n >= OMEN_INTERPOLATE_MIN)
	{
		int64		first = omen_leaf_key(lf, 0);
		int64		last = omen_leaf_key(lf, n - 1);
		int			guess;
		int			step;

		if (key <= first)
			guess = 0;
		else if (key > last)
			return n;
		else
			guess = (int) ((double) ((uint64) key - (uint64) first) /
						   (double) ((uint64) last - (uint64) first) * (n - 1));
		guess = Max(0, Min(guess, n - 1));

		if (entry_before(lf, guess, key, tid))
		{
			/* the answer is in [guess + 1, n]: gallop right */
			lo = guess + 1;
			hi = lo;
			for (step = 1; hi < n && entry_before(lf, hi, key, tid); step <<= 1)
			{
				lo = hi + 1;
				hi = lo + step;
			}
			hi = Min(hi, n);
		}
		else
		{
			/* the answer is in [0, guess]: gallop left */
			hi = guess;
			lo = hi;
			for (step = 1; lo > 0 && !entry_before(lf, lo - 1, key, tid); step <<= 1)
			{
				hi = lo - 1;
				lo = Max(hi - step, 0);
			}
		}
	}

	/* the answer is in [lo, hi] */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (entry_before(lf, mid, key, tid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Sort a few positions (the pending area) by insertion. */
static void
sort_positions(int64 *keys, int64 *tids, int n)
{
	int			i;

	for (i = 1; i < n; i++)
	{
		int64		k = keys[i];
		int64		t = tids[i];
		int			j = i - 1;

		while (j >= 0 && omen_pos_cmp(keys[j], tids[j], k, t) > 0)
		{
			keys[j + 1] = keys[j];
			tids[j + 1] = tids[j];
			j--;
		}
		keys[j + 1] = k;
		tids[j + 1] = t;
	}
}

/* The pending entries with lo <= key <= hi, sorted.  Returns how many. */
static int
pending_in_range(const OmenLeaf *lf, int64 lo, int64 hi, int64 *keys, int64 *tids)
{
	int			n = 0;
	int			i;

	for (i = lf->nsorted; i < lf->n; i++)
	{
		int64		k = omen_leaf_key(lf, i);

		if (k >= lo && k <= hi)
		{
			keys[n] = k;
			tids[n] = omen_leaf_tid(lf, i);
			n++;
		}
	}
	if (n > 1)
		sort_positions(keys, tids, n);
	return n;
}

/* Every entry of the leaf, in position order.  Returns how many. */
int
omen_leaf_entries(Page page, int64 *keys, int64 *tids)
{
	OmenLeaf	lf;
	int64		pk[OMEN_PENDING_MAX];
	int64		pt[OMEN_PENDING_MAX];
	int			np;
	int			i,
				j,
				o;

	omen_leaf_open(page, &lf);
	np = pending_in_range(&lf, PG_INT64_MIN, PG_INT64_MAX, pk, pt);
	Assert(np == lf.n - lf.nsorted);

	/* merge from the back, in place: the sorted entries go first */
	for (i = 0; i < lf.nsorted; i++)
	{
		keys[i] = omen_leaf_key(&lf, i);
		tids[i] = omen_leaf_tid(&lf, i);
	}
	i = lf.nsorted - 1;
	j = np - 1;
	for (o = lf.n - 1; j >= 0; o--)
	{
		if (i >= 0 && omen_pos_cmp(keys[i], tids[i], pk[j], pt[j]) > 0)
		{
			keys[o] = keys[i];
			tids[o] = tids[i];
			i--;
		}
		else
		{
			keys[o] = pk[j];
			tids[o] = pt[j];
			j--;
		}
	}
	return lf.n;
}

static inline void
put_item(OmenScanItem *it, int64 key, int64 tid)
{
	it->key = key;
	omen_tid_decode(tid, &it->tid);
}

/* The sorted entries with lo <= key <= hi are [*first, *end). */
void
omen_leaf_sorted_range(const OmenLeaf *lf, int64 lo, int64 hi, int *first, int *end)
{
	int			a = omen_leaf_lower_bound(lf, lo, OMEN_TID_MIN);
	int			b = lf->nsorted;

	/* the first sorted entry with key > hi */
	{
		int			l = a;

		while (l < b)
		{
			int			mid = l + (b - l) / 2;

			if (omen_leaf_key(lf, mid) <= hi)
				l = mid + 1;
			else
				b = mid;
		}
	}
	*first = a;
	*end = b;
}

/*
 * Copy the entries with lo <= key <= hi into out, in position order, and
 * return how many: the sorted ones, [first, end) from
 * omen_leaf_sorted_range(), merged with the pending ones in the range.
 * out must have room for end - first entries plus every pending entry.
 */
int
omen_leaf_collect(const OmenLeaf *lf, int first, int end, int64 lo, int64 hi, OmenScanItem *out)
{
	int64		pk[OMEN_PENDING_MAX];
	int64		pt[OMEN_PENDING_MAX];
	int			np = 0;
	int			j = 0;
	int			i;
	int			n = 0;

	if (lf->n > lf->nsorted)
		np = pending_in_range(lf, lo, hi, pk, pt);
	for (i = first; i < end; i++)
	{
		int64		k = omen_leaf_key(lf, i);
		int64		t = omen_leaf_tid(lf, i);

		while (j < np && omen_pos_cmp(pk[j], pt[j], k, t) < 0)
		{
			put_item(&out[n++], pk[j], pt[j]);
			j++;
		}
		put_item(&out[n++], k, t);
	}
	for (; j < np; j++)
		put_item(&out[n++], pk[j], pt[j]);
	return n;
}
