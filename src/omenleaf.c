/*
 * omenleaf.c
 *	  The leaf page format: per-leaf encoding of keys and TIDs, the sorted
 *	  entries and the pending area, searching and collecting entries.
 *
 * A PLAIN leaf stores each key as key - key_base in key_width bytes and
 * each TID as encoded TID - tid_base in tid_width bytes (omen.h).  The
 * widths are chosen from the range of what the leaf holds when it is
 * written in full (build, split, PLAIN merge, VACUUM; a RUNS leaf's merge
 * keeps its encoding when that holds the new entries).  An entry whose key or
 * TID falls outside that range (a far entry) waits in the pending area,
 * stored whole, in a leaf flagged OMEN_P_WIDE_PENDING (format 5); there,
 * or in a format-4 leaf at once, enough of them rewrite the leaf with
 * wider fields (omeninsert.c).
 * Decoding is an unaligned 8-byte load and a mask, so a search costs what
 * it would over a plain int64 array.
 *
 * A leaf of duplicate keys is written in the RUNS format instead when that
 * is much smaller: each distinct key once, in a directory searched like the
 * PLAIN keys, and its ascending heap TIDs as bit-packed gaps.  A random
 * heap spreads a key's rows over the whole table, so a TID costs its gap's
 * log2 (about 21 bits for 50 rows a key in a 10M-row table) instead of the
 * table's (28).  Pending entries stay plain in both formats, so an insert
 * into a RUNS leaf is the same few bytes; the merge of a full pending area
 * rewrites the runs of the keys it adds to (omen_leaf_merge_runs).
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

/* The offset number of an encoded TID (its low OMEN_TID_OFFSET_BITS). */
static inline uint32
tid_offset(uint64 tid)
{
	return (uint32) (tid & ((UINT64CONST(1) << OMEN_TID_OFFSET_BITS) - 1));
}

/* The dense form of an encoded TID: block << off_bits | offset. */
static inline uint64
dense_tid(int64 tid, int off_bits)
{
	return (((uint64) tid >> OMEN_TID_OFFSET_BITS) << off_bits) | tid_offset((uint64) tid);
}

static inline int64
sparse_tid(uint64 d, int off_bits)
{
	return (int64) (((d >> off_bits) << OMEN_TID_OFFSET_BITS) | (d & ((UINT64CONST(1) << off_bits) - 1)));
}

/* Bits a dense TID needs for an offset number (at least one). */
static inline int
offset_bits(uint32 off)
{
	return off == 0 ? 1 : pg_leftmost_one_pos32(off) + 1;
}

/* Bits a dense TID needs for this TID's offset. */
int
omen_tid_off_bits(int64 tid)
{
	return offset_bits(tid_offset((uint64) tid));
}

/* Bits that hold v (0 for 0). */
static inline int
bits_for(uint64 v)
{
	return v == 0 ? 0 : pg_leftmost_one_pos64(v) + 1;
}

/*
 * Bytes of the count and the directory of nruns runs: where the runs'
 * data starts, and where directory entry nruns would.
 */
static inline int
runs_dir_bytes(int nruns, int key_width)
{
	return (int) sizeof(uint16) + nruns * (key_width + OMEN_RUN_DIR_EXTRA);
}

/* Bytes of a run's gaps: count - 1 (>= 0) of 'bits' each. */
static inline int
run_gap_bytes(int count, int bits)
{
	return (int) (((uint32) (count - 1) * (uint32) bits + 7) >> 3);
}

/*
 * OR v, which has at most 'bits' bits, into the zeroed bit field at
 * bitpos: one unaligned 8-byte read and write (bits + 7 <= 64).  The write
 * may reach 7 bytes past the runs, into the page's hole or special space;
 * it ORs zero bits there, so it changes nothing.
 */
static inline void
put_bits(char *p, uint64 bitpos, uint64 v, int bits)
{
	char	   *q = p + (bitpos >> 3);
	uint64		w;

	Assert(bits + 7 <= 64 && (bits == 64 || v >> bits == 0));
	if (bits == 0)
		return;
	memcpy(&w, q, sizeof(w));
#ifdef WORDS_BIGENDIAN
	w = pg_bswap64(w);
#endif
	w |= v << (bitpos & 7);
#ifdef WORDS_BIGENDIAN
	w = pg_bswap64(w);
#endif
	memcpy(q, &w, sizeof(w));
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

/*
 * Does a run of 'count' entries with gaps of 'bits' take one more gap of
 * 'gap_bits', or does a new run (of the same key) start there?  Widening
 * every gap of a long run for one far TID (a row appended at the heap's
 * end to an old key) would cost more than a new run's directory entry and
 * first TID, about OMEN_RUN_SPLIT_BITS.  Without this a leaf plus one
 * entry could take any amount of room, and neither format nor a split
 * might fit it.  The rule looks at the run alone, so CREATE INDEX's
 * incremental sizer (OmenRunSizer) divides runs exactly as the writer.
 */
#define OMEN_RUN_SPLIT_BITS		96

static inline bool
run_takes_gap(int count, int bits, int gap_bits)
{
	return gap_bits <= bits ||
		(int64) count * gap_bits - (int64) (count - 1) * bits <= OMEN_RUN_SPLIT_BITS;
}

/* The stored gap from prev to tid, the next TID of its run. */
static inline uint64
tid_gap(int64 prev, int64 tid, int off_bits)
{
	return dense_tid(tid, off_bits) - dense_tid(prev, off_bits) - 1;
}

static inline int
gap_bits(int64 prev, int64 tid, int off_bits)
{
	return bits_for(tid_gap(prev, tid, off_bits));
}

/*
 * The run that starts at entry a: returns its end, and its gap width in
 * *bits.
 */
static int
run_extent(const OmenLeafEnc *enc, int n, const int64 *keys, const int64 *tids, int a, int *bits)
{
	int			b = a + 1;

	*bits = 0;
	while (b < n && keys[b] == keys[a])
	{
		int			g = gap_bits(tids[b - 1], tids[b], enc->off_bits);

		if (!run_takes_gap(b - a, *bits, g))
			break;
		*bits = Max(*bits, g);
		b++;
	}
	return b;
}

/*
 * Write a run's directory entry at d: its key, its first entry's index,
 * where its data lies (from the start of the runs) and its gap width.
 */
static inline void
write_run_dir(char *d, const OmenLeafEnc *enc, int64 key, int start, int off, int bits)
{
	uint16		s = (uint16) start;
	uint16		o = (uint16) off;

	store_value(d, (uint64) key - (uint64) enc->key_base, enc->key_width);
	memcpy(d + OMEN_RUN_DIR_START(enc->key_width), &s, sizeof(s));
	memcpy(d + OMEN_RUN_DIR_OFFSET(enc->key_width), &o, sizeof(o));
	d[OMEN_RUN_DIR_BITS(enc->key_width)] = (char) bits;
}

/*
 * Write a run's data at p (zeroed): the first of its 'count' ascending
 * TIDs, then the gaps, 'bits' each.
 */
static inline void
write_run_data(char *p, const OmenLeafEnc *enc, const int64 *tids, int count, int bits)
{
	char	   *gaps = p + enc->tid_width;
	int			i;

	store_value(p, (uint64) tids[0] - (uint64) enc->tid_base, enc->tid_width);
	for (i = 1; i < count; i++)
		put_bits(gaps, (uint64) (i - 1) * bits, tid_gap(tids[i - 1], tids[i], enc->off_bits), bits);
}

/*
 * Lay out the runs of n sorted entries at dst (zeroed, big enough), or
 * with dst NULL only size them: returns the bytes they take.  Sizing sets
 * *nruns_io to the number of runs; writing takes it from there (the
 * directory comes first, so its size must be known).  See omen.h for the
 * layout.
 */
static int
runs_layout(char *dst, const OmenLeafEnc *enc, int n, const int64 *keys, const int64 *tids,
			int *nruns_io)
{
	int			dirw = enc->key_width + OMEN_RUN_DIR_EXTRA;
	int			nruns = 0;
	int			data;
	int			bits;
	int			r;
	int			a;

	/* writing: the directory's size is known from the sizing */
	if (dst)
		nruns = *nruns_io;
	data = runs_dir_bytes(nruns, enc->key_width);
	if (dst)
	{
		uint16		v = (uint16) nruns;

		memcpy(dst, &v, sizeof(v));
	}
	for (r = 0, a = 0; a < n; r++)
	{
		int			b = run_extent(enc, n, keys, tids, a, &bits);

		if (dst)
		{
			write_run_dir(dst + runs_dir_bytes(r, enc->key_width), enc, keys[a], a, data, bits);
			write_run_data(dst + data, enc, tids + a, b - a, bits);
			Assert(r < nruns);
		}
		data += enc->tid_width + run_gap_bytes(b - a, bits);
		a = b;
	}
	if (!dst)
	{
		/* sizing: data counted no directory; r is the number of runs */
		data += r * dirw;
		*nruns_io = r;
	}
	Assert(!dst || r == nruns);
	return data;
}

/*
 * Is RUNS worth it?  If it saves an eighth: a probe into a RUNS leaf
 * decodes a run, so a leaf of mostly distinct keys stays PLAIN.  And
 * whenever it is smaller and PLAIN would not fit a page (VACUUM's
 * survivors of a RUNS leaf must stay in it if they can).
 */
bool
omen_leaf_runs_wins(int plain_bytes, int runs_bytes)
{
	return (int64) runs_bytes * 8 < (int64) plain_bytes * 7 ||
		(plain_bytes > (int) OMEN_LEAF_SPACE && runs_bytes < plain_bytes);
}

/*
 * The smallest encoding that holds the given entries (in position order):
 * bases at the least key and TID, widths from the spans, and RUNS if that
 * is much smaller than PLAIN.  enc->bytes is what the entries take in it.
 */
void
omen_leaf_choose_enc(const int64 *keys, const int64 *tids, int n, OmenLeafEnc *enc)
{
	int64		kmin,
				kmax,
				tmin,
				tmax;
	uint32		off_max = 0;
	int			ndup = 0;
	int			i;

	enc->n = n;
	enc->nfar = 0;
	enc->wide_pending = false;
	enc->format = OMEN_LEAF_PLAIN;
	enc->off_bits = 0;
	enc->nruns = 0;
	if (n == 0)
	{
		enc->key_base = 0;
		enc->tid_base = 0;
		enc->key_width = 1;
		enc->tid_width = 1;
		enc->bytes = 0;
		return;
	}
	kmin = kmax = keys[0];
	tmin = tmax = tids[0];
	for (i = 0; i < n; i++)
	{
		if (keys[i] < kmin)
			kmin = keys[i];
		if (keys[i] > kmax)
			kmax = keys[i];
		if (tids[i] < tmin)
			tmin = tids[i];
		if (tids[i] > tmax)
			tmax = tids[i];
		/* the widest offset needs the most bits: one count after the loop */
		off_max = Max(off_max, tid_offset((uint64) tids[i]));
		if (i > 0 && keys[i] == keys[i - 1])
			ndup++;
	}
	enc->key_base = kmin;
	enc->tid_base = tmin;
	enc->key_width = omen_width_for((uint64) kmax - (uint64) kmin);
	enc->tid_width = omen_width_for((uint64) tmax - (uint64) tmin);
	enc->bytes = omen_leaf_plain_bytes(enc, n);

	/* runs gain only where keys repeat */
	if (ndup > 0 && n <= OMEN_LEAF_MAX_ENTRIES)
	{
		OmenLeafEnc runs = *enc;

		runs.format = OMEN_LEAF_RUNS;
		runs.off_bits = offset_bits(off_max);
		runs.bytes = runs_layout(NULL, &runs, n, keys, tids, &runs.nruns);
		if (omen_leaf_runs_wins(enc->bytes, runs.bytes))
			*enc = runs;
	}
}

/* Do the entries the encoding was chosen for fit a leaf? */
bool
omen_leaf_fits(const OmenLeafEnc *enc)
{
	return enc->bytes <= (int) OMEN_LEAF_SPACE && enc->n <= OMEN_LEAF_MAX_ENTRIES &&
		enc->nfar <= OMEN_PENDING_MAX;
}

/* Can fields with these bases and widths store (key, tid)? */
static inline bool
fields_hold(int64 key_base, int key_width, int64 tid_base, int tid_width, int64 key, int64 tid)
{
	return key >= key_base && tid >= tid_base &&
		((uint64) key - (uint64) key_base) <= omen_width_mask(key_width) &&
		((uint64) tid - (uint64) tid_base) <= omen_width_mask(tid_width);
}

/*
 * Divide entries (in position order) into those fields with these bases
 * and widths store and the far ones, each kept in order (either pair of
 * arrays may be NULL, to only count).  Returns how many are held.
 */
int
omen_leaf_divide_far(int64 key_base, int key_width, int64 tid_base, int tid_width,
					 const int64 *keys, const int64 *tids, int n,
					 int64 *hkeys, int64 *htids, int64 *fkeys, int64 *ftids)
{
	int			nheld = 0;
	int			nfar = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (fields_hold(key_base, key_width, tid_base, tid_width, keys[i], tids[i]))
		{
			if (hkeys)
			{
				hkeys[nheld] = keys[i];
				htids[nheld] = tids[i];
			}
			nheld++;
		}
		else
		{
			if (fkeys)
			{
				fkeys[nfar] = keys[i];
				ftids[nfar] = tids[i];
			}
			nfar++;
		}
	}
	return nheld;
}

/*
 * An encoding for the entries (in position order) that stores those the
 * fields of 'ref' hold as omen_leaf_choose_enc would store them alone,
 * and the others -- far entries -- pending, whole (the leaf is written
 * OMEN_P_WIDE_PENDING).  For a leaf whose narrow fields met a few far
 * entries (rows updated or inserted late into a heap in key order: TIDs
 * at the heap's end among neighbours'): it lets a split or VACUUM keep
 * them pending instead of widening every entry, so that each half of a
 * leaf takes at most the bytes its entries took in the leaf.  'ref' is
 * the leaf's own encoding (omen_leaf_get_enc).  False if the leaf cannot
 * store far entries (a format-4 index) or more entries are far than a
 * pending area holds.
 */
bool
omen_leaf_choose_enc_near(const int64 *keys, const int64 *tids, int n,
						  const OmenLeafEnc *ref, OmenLeafEnc *enc)
{
	int64	   *hkeys;
	int64	   *htids;
	int			nheld;

	if (!ref->wide_pending)
		return false;
	hkeys = palloc(Max(n, 1) * sizeof(int64));
	htids = palloc(Max(n, 1) * sizeof(int64));
	nheld = omen_leaf_divide_far(ref->key_base, ref->key_width, ref->tid_base, ref->tid_width,
								 keys, tids, n, hkeys, htids, NULL, NULL);
	omen_leaf_choose_enc(hkeys, htids, nheld, enc);
	pfree(hkeys);
	pfree(htids);
	enc->n = n;
	enc->nfar = n - nheld;
	enc->bytes += enc->nfar * (OMEN_PENDING_KEY_WIDTH + OMEN_PENDING_TID_WIDTH);
	enc->hold_key_base = ref->key_base;
	enc->hold_tid_base = ref->tid_base;
	enc->hold_key_width = ref->key_width;
	enc->hold_tid_width = ref->tid_width;
	return enc->nfar <= OMEN_PENDING_MAX;
}

void
omen_run_sizer_init(OmenRunSizer *sz, const int64 *keys, const int64 *tids, int n, int off_bits)
{
	int			i;

	memset(sz, 0, sizeof(*sz));
	sz->off_bits = off_bits;
	for (i = 0; i < n; i++)
		omen_run_sizer_add(sz, keys[i], tids[i]);
}

/* One more entry, after every entry so far; its offset must fit off_bits. */
void
omen_run_sizer_add(OmenRunSizer *sz, int64 key, int64 tid)
{
	bool		same_key = sz->nruns > 0 && key == sz->last_key;
	int			g = same_key ? gap_bits(sz->last_tid, tid, sz->off_bits) : 0;

	Assert(omen_tid_off_bits(tid) <= sz->off_bits);
	if (same_key && run_takes_gap(sz->run_count, sz->run_bits, g))
	{
		sz->run_bits = Max(sz->run_bits, g);
		sz->run_count++;
	}
	else
	{
		if (sz->nruns > 0)
			sz->closed_bytes += run_gap_bytes(sz->run_count, sz->run_bits);
		sz->nruns++;
		sz->run_count = 1;
		sz->run_bits = 0;
	}
	sz->last_key = key;
	sz->last_tid = tid;
}

/* What runs_layout() would return for the entries added so far. */
int
omen_run_sizer_bytes(const OmenRunSizer *sz, int key_width, int tid_width)
{
	return (int) sizeof(uint16) +
		sz->nruns * (key_width + OMEN_RUN_DIR_EXTRA + tid_width) +
		sz->closed_bytes + run_gap_bytes(sz->run_count, sz->run_bits);
}

/* Can the encoding store this entry? */
bool
omen_leaf_enc_holds(const OmenLeafEnc *enc, int64 key, int64 tid)
{
	return fields_hold(enc->key_base, enc->key_width, enc->tid_base, enc->tid_width, key, tid);
}

/*
 * Does (key, tid) extend the sorted entries of this leaf, as an append of
 * ascending keys does: a PLAIN leaf with nothing pending whose last entry
 * is before it (or no entry)?  If so, *fits says whether it can be stored
 * beside the hole as it is (omen_leaf_append, sorted): the fields hold it,
 * there is room, and the leaf is not at its entry limit.
 *
 * The insert fast path asks this of the leaf its last append went to, on
 * every append: it reads only the header, the last key and the last TID,
 * where opening the leaf (omen_leaf_open) and reading its encoding, twice,
 * cost a third of the instructions omen spent on an append, and divisions.
 * insert_into_leaf asks it too.  The page has been checked
 * (omen_check_scan_leaf: a PLAIN leaf's check is whole).
 */
bool
omen_leaf_extends_sorted(Page page, int64 key, int64 tid, bool *fits)
{
	PageHeader	ph = (PageHeader) page;
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			kw = h->key_width;
	int			tw = h->tid_width;
	int			n = h->nsorted;

	*fits = false;
	if (h->format != OMEN_LEAF_PLAIN || ph->pd_lower != OMEN_LEAF_DATA + n * kw)
		return false;			/* runs, or entries pending */
	if (n > 0)
	{
		int64		last_key = (int64) ((uint64) h->key_base +
										omen_load_stored((const char *) page + OMEN_LEAF_DATA + (n - 1) * kw,
														 omen_width_mask(kw)));
		int64		last_tid = (int64) ((uint64) h->tid_base +
										omen_load_stored((const char *) page + ph->pd_special - n * tw,
														 omen_width_mask(tw)));

		if (omen_pos_cmp(last_key, last_tid, key, tid) >= 0)
			return false;
	}
	*fits = n < OMEN_LEAF_MAX_ENTRIES && ph->pd_upper - ph->pd_lower >= kw + tw &&
		fields_hold(h->key_base, kw, h->tid_base, tw, key, tid);
	return true;
}

void
omen_leaf_get_enc(Page page, OmenLeafEnc *enc)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);

	enc->key_base = h->key_base;
	enc->tid_base = h->tid_base;
	enc->key_width = h->key_width;
	enc->tid_width = h->tid_width;
	enc->format = h->format;
	enc->off_bits = h->off_bits;
	enc->nruns = omen_leaf_nruns(page);
	enc->n = OmenLeafNEntries(page);
	enc->bytes = omen_leaf_used_bytes(page);
	enc->nfar = 0;
	enc->wide_pending = omen_leaf_wide_pending(page);
}

/* The bytes n entries take in a PLAIN leaf with enc's widths. */
int
omen_leaf_plain_bytes(const OmenLeafEnc *enc, int n)
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
store_entry(Page page, const OmenLeafHeader *h, int i, int64 key, int64 tid)
{
	char	   *tids = (char *) page + ((PageHeader) page)->pd_special;

	store_value((char *) page + OMEN_LEAF_DATA + i * h->key_width,
				(uint64) key - (uint64) h->key_base, h->key_width);
	store_value(tids - (i + 1) * h->tid_width,
				(uint64) tid - (uint64) h->tid_base, h->tid_width);
}

/*
 * Set pd_lower and pd_upper for n sorted entries (taking 'bytes' in a RUNS
 * leaf) and nothing pending, and zero the hole between.
 */
static void
set_bounds(Page page, const OmenLeafHeader *h, int n)
{
	PageHeader	ph = (PageHeader) page;

	if (h->format == OMEN_LEAF_RUNS)
	{
		ph->pd_lower = OMEN_LEAF_DATA + h->sorted_bytes;
		ph->pd_upper = ph->pd_special;
	}
	else
	{
		ph->pd_lower = OMEN_LEAF_DATA + n * h->key_width;
		ph->pd_upper = ph->pd_special - n * h->tid_width;
	}
	Assert(ph->pd_lower <= ph->pd_upper);
	memset((char *) page + ph->pd_lower, 0, ph->pd_upper - ph->pd_lower);
}

/*
 * Write n entries, in position order, with the encoding chosen for them
 * (omen_leaf_choose_enc, or a wider PLAIN one that holds them and fits the
 * page).  Fences and links are untouched.
 */
static void write_sorted(Page page, const OmenLeafEnc *enc, int n, const int64 *keys,
						 const int64 *tids);

void
omen_leaf_write(Page page, const OmenLeafEnc *enc, int n, const int64 *keys, const int64 *tids)
{
	/* callers write inside critical sections, where palloc is not allowed */
	static int64 hkeys[OMEN_LEAF_MAX_ENTRIES];
	static int64 htids[OMEN_LEAF_MAX_ENTRIES];
	static int64 fkeys[OMEN_PENDING_MAX];
	static int64 ftids[OMEN_PENDING_MAX];
	int			nheld;
	int			i;

	Assert(enc->n == n);
	Assert(enc->nfar == 0 || omen_leaf_wide_pending(page));
	if (enc->nfar == 0)
	{
		write_sorted(page, enc, n, keys, tids);
		return;
	}
	/* the entries the fields hold, sorted; then the far ones, pending */
	Assert(n <= OMEN_LEAF_MAX_ENTRIES && enc->nfar <= OMEN_PENDING_MAX);
	nheld = omen_leaf_divide_far(enc->hold_key_base, enc->hold_key_width, enc->hold_tid_base,
								 enc->hold_tid_width, keys, tids, n, hkeys, htids, fkeys, ftids);
	Assert(n - nheld == enc->nfar);
	write_sorted(page, enc, nheld, hkeys, htids);
	for (i = 0; i < enc->nfar; i++)
		omen_leaf_append(page, fkeys[i], ftids[i], false);
}

/* omen_leaf_write's entries that go sorted: all of them, or the near ones */
static void
write_sorted(Page page, const OmenLeafEnc *enc, int n, const int64 *keys, const int64 *tids)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			i;

	MemSet(h, 0, sizeof(OmenLeafHeader));
	h->key_base = enc->key_base;
	h->tid_base = enc->tid_base;
	h->key_width = (uint8) enc->key_width;
	h->tid_width = (uint8) enc->tid_width;
	h->nsorted = (uint16) n;
	h->format = (uint8) enc->format;
	if (enc->format == OMEN_LEAF_RUNS)
	{
		char	   *dst = (char *) page + OMEN_LEAF_DATA;
		int			nruns = enc->nruns;
		int			runs_bytes = enc->bytes - enc->nfar * (OMEN_PENDING_KEY_WIDTH + OMEN_PENDING_TID_WIDTH);

		Assert(enc->n - enc->nfar == n && omen_leaf_fits(enc));
		h->off_bits = (uint8) enc->off_bits;
		memset(dst, 0, runs_bytes);
		h->sorted_bytes = (uint16) runs_layout(dst, enc, n, keys, tids, &nruns);
		Assert(h->sorted_bytes == runs_bytes);
	}
	else
	{
		Assert(omen_leaf_plain_bytes(enc, n) <= (int) OMEN_LEAF_SPACE);
		for (i = 0; i < n; i++)
		{
			Assert(omen_leaf_enc_holds(enc, keys[i], tids[i]));
			store_entry(page, h, i, keys[i], tids[i]);
		}
	}
	set_bounds(page, h, n);
}

/*
 * Rewrite entries [from, n) of a PLAIN leaf in its own encoding, all of
 * them sorted; entries before 'from' are already what they should be.
 * Used by a merge, which changes only what lies after its first new entry.
 */
void
omen_leaf_write_from(Page page, int from, int n, const int64 *keys, const int64 *tids)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			i;

	Assert(h->format == OMEN_LEAF_PLAIN);
	Assert(n * (h->key_width + h->tid_width) <= (int) OMEN_LEAF_SPACE);
	for (i = from; i < n; i++)
		store_entry(page, h, i, keys[i], tids[i]);
	h->nsorted = (uint16) n;
	set_bounds(page, h, n);
}

/*
 * Append one entry beside the hole: to the sorted entries of a PLAIN leaf
 * (it must follow all of them and nothing may be pending) or to the
 * pending area.  The fields it goes into must hold it (a WIDE_PENDING
 * leaf's pending ones hold any entry) and the page must have room.
 */
void
omen_leaf_append(Page page, int64 key, int64 tid, bool sorted)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	PageHeader	ph = (PageHeader) page;
	int			kw = h->key_width;
	int			tw = h->tid_width;
	uint64		kbase = (uint64) h->key_base;
	uint64		tbase = (uint64) h->tid_base;

	Assert(!sorted || (h->format == OMEN_LEAF_PLAIN && h->nsorted == OmenLeafNEntries(page)));
	if (!sorted)
		omen_leaf_pending_fields(page, &kw, &tw, &kbase, &tbase);
	Assert(ph->pd_upper - ph->pd_lower >= kw + tw);
	store_value((char *) page + ph->pd_lower, (uint64) key - kbase, kw);
	store_value((char *) page + ph->pd_upper - tw, (uint64) tid - tbase, tw);
	ph->pd_lower += kw;
	ph->pd_upper -= tw;
	if (sorted)
		h->nsorted++;
}

/*
 * Where the bytes of entries [from, n) lie: the keys from *kstart to
 * pd_lower, the TIDs from pd_upper to *tend.  In a RUNS leaf a sorted
 * entry is somewhere in the runs, so any 'from' before the pending area
 * means all of it.
 */
void
omen_leaf_bytes_from(Page page, int from, Size *kstart, Size *tend)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			past = from - h->nsorted;	/* entries past the sorted ones */

	if (h->format == OMEN_LEAF_RUNS && past < 0)
	{
		*kstart = OMEN_LEAF_DATA;
		*tend = ((PageHeader) page)->pd_special;
		return;
	}
	if (past < 0)
	{
		/* sorted entry 'from' of a PLAIN leaf, and all after it */
		*kstart = (Size) (OMEN_LEAF_DATA + from * h->key_width);
		*tend = (Size) (((PageHeader) page)->pd_special - from * h->tid_width);
	}
	else
	{
		int			pkw;
		int			ptw;

		omen_leaf_pending_fields(page, &pkw, &ptw, NULL, NULL);
		*kstart = (Size) ((int) omen_leaf_pending_keys_at(page) + past * pkw);
		*tend = (Size) ((int) omen_leaf_pending_tids_end(page) - past * ptw);
	}
}

/* Run r's directory entry (omen.h: OMEN_RUN_DIR_*). */
static inline const char *
run_dir(const OmenLeaf *lf, int r)
{
	return lf->keys + runs_dir_bytes(r, lf->key_width);
}

/* The fields of a directory entry d. */
static inline int
dir_start(const OmenLeaf *lf, const char *d)
{
	return omen_load_u16(d + OMEN_RUN_DIR_START(lf->key_width));
}

static inline int
dir_offset(const OmenLeaf *lf, const char *d)
{
	return omen_load_u16(d + OMEN_RUN_DIR_OFFSET(lf->key_width));
}

static inline int
dir_bits(const OmenLeaf *lf, const char *d)
{
	return (uint8) d[OMEN_RUN_DIR_BITS(lf->key_width)];
}

static inline int64
run_key(const OmenLeaf *lf, int r)
{
	return (int64) (lf->key_base + omen_load_stored(run_dir(lf, r), lf->key_mask));
}

/* The first entry of run r; nsorted for r == nruns. */
static inline int
run_start(const OmenLeaf *lf, int r)
{
	return r >= lf->nruns ? lf->nsorted : dir_start(lf, run_dir(lf, r));
}

/*
 * Is a RUNS leaf's directory consistent: runs in key order, each starting
 * after the one before, their data back to back and ending where the runs
 * end, gap widths possible?  Then every decode stays inside the runs.
 */
static bool
check_runs(Page page, bool whole, char *why, Size whylen)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	OmenLeaf	lf;
	const char *dir;
	int			dirw;
	uint64		prev_key = 0;
	int			prev_start;
	int			prev_bits;
	int			r;
	int			off;

	if (h->off_bits < 1 || h->off_bits > OMEN_TID_OFFSET_BITS || h->sorted_bytes < sizeof(uint16))
	{
		snprintf(why, whylen, "leaf runs take %u bytes with %u offset bits", h->sorted_bytes, h->off_bits);
		return false;
	}
	omen_leaf_open(page, &lf);
	off = runs_dir_bytes(lf.nruns, lf.key_width);
	if ((lf.nruns == 0) != (lf.nsorted == 0) || off > h->sorted_bytes)
	{
		snprintf(why, whylen, "leaf has %d runs for %d entries in %u bytes", lf.nruns, lf.nsorted,
				 h->sorted_bytes);
		return false;
	}
	if (!whole)
		return true;

	/*
	 * One pass over the directory.  Run r's data length needs run r + 1's
	 * start, so each entry's checks finish the run before it.  Every read
	 * but a scan's makes this pass: kept to a few loads and compares a run.
	 */
	dirw = lf.key_width + OMEN_RUN_DIR_EXTRA;
	dir = run_dir(&lf, 0);
	prev_start = -1;
	prev_bits = 0;
	for (r = 0; r < lf.nruns; r++, dir += dirw)
	{
		uint64		key = omen_load_stored(dir, lf.key_mask);
		int			start = dir_start(&lf, dir);
		int			bits = dir_bits(&lf, dir);

		if (r > 0)
			off += lf.tid_width + run_gap_bytes(start - prev_start, prev_bits);
		if (start <= prev_start || (r == 0 && start != 0) || key < prev_key ||
			dir_offset(&lf, dir) != off || off > h->sorted_bytes)
		{
			snprintf(why, whylen, "leaf run %d of %d is out of place", r, lf.nruns);
			return false;
		}
		if (bits > OMEN_RUN_MAX_BITS)
		{
			snprintf(why, whylen, "leaf run %d has gaps of %d bits", r, bits);
			return false;
		}
		prev_key = key;
		prev_start = start;
		prev_bits = bits;
	}
	if (lf.nruns > 0)
	{
		if (lf.nsorted <= prev_start)
		{
			snprintf(why, whylen, "leaf run %d of %d is out of place", lf.nruns - 1, lf.nruns);
			return false;
		}
		off += lf.tid_width + run_gap_bytes(lf.nsorted - prev_start, prev_bits);
	}
	if (off != h->sorted_bytes)
	{
		snprintf(why, whylen, "leaf runs end at byte %d of %u", off, h->sorted_bytes);
		return false;
	}
	return true;
}

/*
 * Is the leaf's layout self-consistent?  Checked on every read of a leaf:
 * it keeps every later access inside the page.  Without whole_runs (a
 * scan's read) a RUNS leaf's directory is checked only to fit its bytes;
 * each run is then checked as it is decoded (run_reader_init).
 */
bool
omen_leaf_check_layout(Page page, bool whole_runs, char *why, Size whylen)
{
	PageHeader	ph = (PageHeader) page;
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			kw = h->key_width;
	int			tw = h->tid_width;
	int			sorted_k;		/* bytes of the sorted entries below pd_lower */
	int			sorted_t;		/* and above pd_upper */
	int			pk;
	int			pt;
	int			npending;

	if (kw < 1 || kw > 8 || tw < 1 || tw > 8 || h->format > OMEN_LEAF_RUNS)
	{
		snprintf(why, whylen, "leaf field widths are %d and %d bytes, format %d", kw, tw, h->format);
		return false;
	}
	omen_leaf_sorted_bytes(h, &sorted_k, &sorted_t);
	if (h->nsorted > OMEN_LEAF_MAX_ENTRIES || sorted_k + sorted_t > (int) OMEN_LEAF_SPACE ||
		ph->pd_special > BLCKSZ || ph->pd_lower > ph->pd_upper ||
		ph->pd_lower < OMEN_LEAF_DATA + sorted_k || ph->pd_upper + sorted_t > ph->pd_special)
	{
		snprintf(why, whylen, "leaf bounds are inconsistent (lower %u, upper %u, special %u, %d sorted)",
				 ph->pd_lower, ph->pd_upper, ph->pd_special, h->nsorted);
		return false;
	}
	/* the pending entries' bytes */
	pk = ph->pd_lower - OMEN_LEAF_DATA - sorted_k;
	pt = ph->pd_special - sorted_t - ph->pd_upper;
	omen_leaf_pending_fields(page, &kw, &tw, NULL, NULL);
	/* one division: every insert checks its leaf, and a division is slow */
	npending = pk / kw;
	if (npending * kw != pk || npending * tw != pt)
	{
		snprintf(why, whylen, "leaf holds %d keys but %d heap pointers (pending widths %d and %d)",
				 h->nsorted + pk / kw, h->nsorted + pt / tw, kw, tw);
		return false;
	}
	if (npending > OMEN_PENDING_MAX || h->nsorted + npending > OMEN_LEAF_MAX_ENTRIES)
	{
		snprintf(why, whylen, "leaf holds %d entries of which %d sorted", h->nsorted + npending, h->nsorted);
		return false;
	}
	if (h->format == OMEN_LEAF_RUNS)
		return check_runs(page, whole_runs, why, whylen);
	return true;
}

/* Reads the ascending TIDs of one run. */
typedef struct RunReader
{
	const char *gaps;
	uint64		d;				/* the dense TID last returned */
	uint64		mask;
	uint64		pos;			/* bit position of the next gap */
	int			bits;
	int			off_bits;
	int			left;			/* TIDs still to return */
	bool		started;
} RunReader;

/*
 * A run of a leaf whose directory was not checked as a whole is damaged
 * (see omen_check_scan_leaf).
 */
static void pg_attribute_noreturn()
run_damaged(const OmenLeaf *lf, int r)
{
	if (lf->rel)
		omen_corrupt(lf->rel, lf->blkno, "leaf run %d of %d is out of place", r, lf->nruns);
	elog(ERROR, "omen: leaf run %d of %d is out of place", r, lf->nruns);
}

/*
 * Start reading run r.  Its own directory entry is checked here, whatever
 * was checked before: it has entries, ends before the next run starts,
 * and its data lies after the directory and within the runs' bytes.  So
 * a reader of a leaf checked without its directory (a scan) decodes
 * nothing outside the runs, and returns each position of the leaf once.
 */
static inline void
run_reader_init(const OmenLeaf *lf, int r, RunReader *rd)
{
	const char *d = run_dir(lf, r);
	int			start = dir_start(lf, d);
	int			next = run_start(lf, r + 1);
	int			off = dir_offset(lf, d);
	int			bits = dir_bits(lf, d);
	const char *p = lf->keys + off;
	int64		first;

	if (unlikely(next <= start || next > lf->nsorted || bits > OMEN_RUN_MAX_BITS ||
				 off < runs_dir_bytes(lf->nruns, lf->key_width) ||
				 off + lf->tid_width + run_gap_bytes(next - start, bits) > lf->runs_bytes))
		run_damaged(lf, r);
	first = (int64) (lf->tid_base + omen_load_stored(p, lf->tid_mask));
	rd->left = next - start;
	rd->off_bits = lf->off_bits;
	rd->d = dense_tid(first, lf->off_bits);
	rd->pos = 0;
	rd->started = false;
	rd->bits = bits;
	rd->gaps = p + lf->tid_width;
	rd->mask = bits == 0 ? 0 : (UINT64CONST(1) << bits) - 1;
}

/*
 * The step from one dense TID of a run to the next: its gap, stored at bit
 * 'pos' of the gaps in 'mask' bits, plus one.
 */
static inline uint64
run_step_at(const char *gaps, uint64 pos, uint64 mask)
{
	return ((omen_load_stored(gaps + (pos >> 3), ~UINT64CONST(0)) >> (pos & 7)) & mask) + 1;
}

/* The run's next TID, dense; rd->left must be > 0. */
static inline uint64
run_reader_next_dense(RunReader *rd)
{
	if (rd->started)
	{
		rd->d += run_step_at(rd->gaps, rd->pos, rd->mask);
		rd->pos += rd->bits;
	}
	rd->started = true;
	rd->left--;
	return rd->d;
}

/* The run's next TID; rd->left must be > 0. */
static inline int64
run_reader_next(RunReader *rd)
{
	return sparse_tid(run_reader_next_dense(rd), rd->off_bits);
}

/* The first run whose key is >= key (nruns if none). */
static int
runs_first_at_least(const OmenLeaf *lf, int64 key)
{
	int			lo = 0;
	int			hi = lf->nruns;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (run_key(lf, mid) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* omen_leaf_lower_bound() of a RUNS leaf: find the run, then the TID in it. */
static int
runs_lower_bound(const OmenLeaf *lf, int64 key, int64 tid)
{
	int			r;

	/* a key's TIDs may go on in the runs after its first (run_takes_gap) */
	for (r = runs_first_at_least(lf, key); r < lf->nruns && run_key(lf, r) == key; r++)
	{
		int			i = run_start(lf, r);
		RunReader	rd;

		run_reader_init(lf, r, &rd);
		while (rd.left > 0)
		{
			if (run_reader_next(&rd) >= tid)
				return i;
			i++;
		}
	}
	return run_start(lf, r);
}

/* Decode the sorted entries of a RUNS leaf. */
static void
runs_entries(const OmenLeaf *lf, int64 *keys, int64 *tids)
{
	int			r;
	int			i = 0;

	for (r = 0; r < lf->nruns; r++)
	{
		int64		k = run_key(lf, r);
		RunReader	rd;

		run_reader_init(lf, r, &rd);
		while (rd.left > 0)
		{
			keys[i] = k;
			tids[i] = run_reader_next(&rd);
			i++;
		}
	}
	Assert(i == lf->nsorted);
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
 * How far a search may gallop from the guess its leaf's high fence gave
 * before it reads the leaf's last key for a better one: about two cache
 * lines of 4-byte keys, twice the typical stray (sqrt(n) / 2) of a guess
 * among ~1,000 keys spread at random.
 */
#define OMEN_FENCE_REACH		32

/* (key - lo) / (hi - lo) of the way from entry 0 to entry n - 1, for lo < key <= hi */
static inline int
interpolate(int64 key, int64 lo, int64 hi, int n)
{
	int			guess = (int) ((double) ((uint64) key - (uint64) lo) /
							   (double) ((uint64) hi - (uint64) lo) * (n - 1));

	return Max(0, Min(guess, n - 1));
}

/*
 * Narrow [*lo, *hi], which holds the first entry >= (key, tid), by
 * galloping from guess (*lo <= guess < *hi) 1, 2, 4, ... entries away,
 * towards the answer.  Returns true when [*lo, *hi] then holds the answer
 * within the last step; false if the gallop went more than reach entries
 * from the guess first, with [*lo, *hi] narrowed by what it read.
 */
static inline bool
gallop(const OmenLeaf *lf, int64 key, int64 tid, int guess, int reach, int *lo, int *hi)
{
	int			a;
	int			b;
	int			step;

	Assert(*lo <= guess && guess < *hi);
	if (entry_before(lf, guess, key, tid))
	{
		/* the answer is in [guess + 1, *hi] */
		a = b = guess + 1;
		for (step = 1; b < *hi && entry_before(lf, b, key, tid); step <<= 1)
		{
			a = b + 1;
			if (a - guess > reach)
			{
				*lo = a;
				return false;
			}
			b = a + step;
		}
		*lo = a;
		*hi = Min(b, *hi);
	}
	else
	{
		/* the answer is in [*lo, guess] */
		a = b = guess;
		for (step = 1; a > *lo && !entry_before(lf, a - 1, key, tid); step <<= 1)
		{
			b = a - 1;
			if (guess - b > reach)
			{
				*hi = b;
				return false;
			}
			a = Max(b - step, *lo);
		}
		*lo = a;
		*hi = b;
	}
	return true;
}

/*
 * Index of the first sorted entry >= (key, tid).
 *
 * (A RUNS leaf is searched by its runs: runs_lower_bound().)
 *
 * A leaf holds up to ~1,000 entries, and bisecting them touches a new
 * cache line at nearly every step: on a probe, most of the time spent in
 * the index once the model has named the leaf goes to those misses.  Keys
 * within one leaf are close to evenly spread (the leaf is a piece of the
 * key distribution the model fitted), so the position is guessed by
 * interpolation, bracketed by galloping from the guess and bisected within
 * the bracket.  A wrong guess only costs more steps.
 *
 * The guess interpolates between the leaf's first key, which shares a
 * cache line with the leaf header, and its high fence, which the lookup
 * has read: no other line is waited for, and the lines of the guessed
 * entry's key and TID are loaded together.  In a leaf whose keys stop well
 * short of its fence (sparse data) that guess is far off: once the gallop
 * strays more than OMEN_FENCE_REACH entries from it, the leaf's last key
 * is read and the guess made again between the first and last keys.  The
 * last leaf (whose fence is +infinity) and a key at or past the fence read
 * the last key at once.
 */
int
omen_leaf_lower_bound(const OmenLeaf *lf, int64 key, int64 tid)
{
	int			n = lf->nsorted;
	int			lo = 0;
	int			hi = n;

	if (lf->format == OMEN_LEAF_RUNS)
		return runs_lower_bound(lf, key, tid);
	if (n >= OMEN_INTERPOLATE_MIN)
	{
		int64		first = omen_leaf_key(lf, 0);
		int64		last;
		int			guess;
		int			reach = OMEN_FENCE_REACH;

		if (key <= first)
		{
			/* at entry 0 (or in a run of its key): no better guess to make */
			guess = 0;
			reach = n;
		}
		else if (lf->high_key != OMEN_POS_MAX_KEY && key < lf->high_key)
		{
			guess = interpolate(key, first, lf->high_key, n);
			omen_prefetch(lf->keys + guess * lf->key_width);
			omen_prefetch(lf->tids - (guess + 1) * lf->tid_width);
		}
		else
			guess = -1;
		if (guess < 0 || !gallop(lf, key, tid, guess, reach, &lo, &hi))
		{
			/* key > first here, so last > first if key <= last */
			if (lo < hi)
			{
				last = omen_leaf_key(lf, n - 1);
				if (key > last)
					return n;
				guess = Max(lo, Min(interpolate(key, first, last, n), hi - 1));
				gallop(lf, key, tid, guess, n, &lo, &hi);
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

	for (i = 0; i < lf->n - lf->nsorted; i++)
	{
		int64		k = omen_leaf_pending_key(lf, i);

		if (k >= lo && k <= hi)
		{
			keys[n] = k;
			tids[n] = omen_leaf_pending_tid(lf, i);
			n++;
		}
	}
	if (n > 1)
		sort_positions(keys, tids, n);
	return n;
}

/* The sorted entries of the leaf, either format.  Returns how many. */
int
omen_leaf_sorted_entries(Page page, int64 *keys, int64 *tids)
{
	OmenLeaf	lf;
	int			i;

	omen_leaf_open(page, &lf);
	if (lf.format == OMEN_LEAF_RUNS)
		runs_entries(&lf, keys, tids);
	else
	{
		for (i = 0; i < lf.nsorted; i++)
		{
			keys[i] = omen_leaf_key(&lf, i);
			tids[i] = omen_leaf_tid(&lf, i);
		}
	}
	return lf.nsorted;
}

/*
 * Merge np sorted entries (pk, pt) into the n sorted entries at the front
 * of (keys, tids), in place from the back: the arrays have room for n + np.
 * On equal positions the merged-in entry goes after.
 */
static void
merge_from_back(int64 *keys, int64 *tids, int n, const int64 *pk, const int64 *pt, int np)
{
	int			i = n - 1;
	int			j = np - 1;
	int			o;

	for (o = n + np - 1; j >= 0; o--)
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
}

/* Every entry of the leaf, in position order.  Returns how many. */
int
omen_leaf_entries(Page page, int64 *keys, int64 *tids)
{
	OmenLeaf	lf;
	int64		pk[OMEN_PENDING_MAX];
	int64		pt[OMEN_PENDING_MAX];
	int			np;

	omen_leaf_open(page, &lf);
	np = pending_in_range(&lf, PG_INT64_MIN, PG_INT64_MAX, pk, pt);
	Assert(np == lf.n - lf.nsorted);

	omen_leaf_sorted_entries(page, keys, tids);
	merge_from_back(keys, tids, lf.nsorted, pk, pt, np);
	return lf.n;
}

/*
 * The merge of a RUNS leaf's pending area, and the entry (key, tid) that
 * found it full, into its runs: what omen_leaf_write would lay out for all
 * the entries in the leaf's own encoding, made without decoding the runs
 * of keys that gain nothing.  A run's layout depends only on the TIDs of
 * its key (run_extent), so the runs of such a key are copied as they are,
 * and only the keys with new entries are decoded, merged and laid out
 * again.  With fifty rows a key, a merge of a full pending area used to
 * decode, size and write all ~3,000 entries of the leaf for a few dozen
 * new ones (two thirds of an insert's instructions into a 1M-row table of
 * duplicates).
 *
 * False, with the leaf untouched, unless the leaf is RUNS, its encoding
 * holds every new entry (fields and offset bits), and the result fits the
 * page and still saves on PLAIN as the writer requires: then the caller
 * rewrites the leaf in full (choosing a new encoding, or splitting).  The
 * leaf's whole directory must have been checked (omen_check_page).
 */
bool
omen_leaf_merge_runs(Page page, int64 key, int64 tid, OmenRunsMerge *m)
{
	/* one key's entries, and the new runs' data: a page at most (+ put_bits' reach) */
	static int64 gkeys[OMEN_LEAF_MAX_ENTRIES];
	static int64 gtids[OMEN_LEAF_MAX_ENTRIES];
	static char data[OMEN_LEAF_SPACE + sizeof(uint64)];
	int64		pk[OMEN_PENDING_MAX + 1];
	int64		pt[OMEN_PENDING_MAX + 1];
	OmenLeaf	lf;
	OmenLeafEnc enc;
	int			np;
	int			nr = 0;			/* runs written */
	int			out = 0;		/* entries written */
	int			bytes = 0;		/* data written */
	int			r = 0;
	int			j = 0;
	int			i;

	omen_leaf_open(page, &lf);
	if (lf.format != OMEN_LEAF_RUNS || lf.n >= OMEN_LEAF_MAX_ENTRIES)
		return false;
	omen_leaf_get_enc(page, &enc);
	np = pending_in_range(&lf, PG_INT64_MIN, PG_INT64_MAX, pk, pt);
	pk[np] = key;
	pt[np] = tid;
	sort_positions(pk, pt, ++np);
	for (i = 0; i < np; i++)
	{
		if (!fields_hold(enc.key_base, enc.key_width, enc.tid_base, enc.tid_width, pk[i], pt[i]) ||
			omen_tid_off_bits(pt[i]) > enc.off_bits)
			return false;
	}

	while (r < lf.nruns || j < np)
	{
		int64		rk = r < lf.nruns ? run_key(&lf, r) : 0;
		int64		k;
		int			ng;
		int			a;

		if (j == np || (r < lf.nruns && rk < pk[j]))
		{
			/* a run no new entry joins: copied */
			const char *d = run_dir(&lf, r);
			int			count = run_start(&lf, r + 1) - dir_start(&lf, d);
			int			bits = dir_bits(&lf, d);
			int			len = lf.tid_width + run_gap_bytes(count, bits);

			if (runs_dir_bytes(nr + 1, enc.key_width) + bytes + len > (int) OMEN_LEAF_SPACE)
				return false;
			write_run_dir(m->runs + runs_dir_bytes(nr, enc.key_width), &enc, rk, out, bytes, bits);
			memcpy(data + bytes, lf.keys + dir_offset(&lf, d), len);
			nr++;
			out += count;
			bytes += len;
			r++;
			continue;
		}

		/* key k's old TIDs (its runs), then its new ones merged in from the back */
		k = pk[j];
		ng = 0;
		for (; r < lf.nruns && run_key(&lf, r) == k; r++)
		{
			RunReader	rd;

			run_reader_init(&lf, r, &rd);
			while (rd.left > 0)
				gtids[ng++] = run_reader_next(&rd);
		}
		for (i = 0; i < ng; i++)
			gkeys[i] = k;
		a = j;
		while (j < np && pk[j] == k)
			j++;
		merge_from_back(gkeys, gtids, ng, pk + a, pt + a, j - a);
		ng += j - a;

		/* laid out as runs_layout would */
		for (a = 0; a < ng;)
		{
			int			bits;
			int			b = run_extent(&enc, ng, gkeys, gtids, a, &bits);
			int			len = enc.tid_width + run_gap_bytes(b - a, bits);

			if (runs_dir_bytes(nr + 1, enc.key_width) + bytes + len > (int) OMEN_LEAF_SPACE)
				return false;
			write_run_dir(m->runs + runs_dir_bytes(nr, enc.key_width), &enc, k, out + a, bytes, bits);
			memset(data + bytes, 0, len + sizeof(uint64));
			write_run_data(data + bytes, &enc, gtids + a, b - a, bits);
			nr++;
			bytes += len;
			a = b;
		}
		out += ng;
	}

	/* the directory's size is known now: data offsets move past it */
	{
		int			dir_bytes = runs_dir_bytes(nr, enc.key_width);
		uint16		count = (uint16) nr;

		for (i = 0; i < nr; i++)
		{
			char	   *d = m->runs + runs_dir_bytes(i, enc.key_width);
			uint16		off = (uint16) (omen_load_u16(d + OMEN_RUN_DIR_OFFSET(enc.key_width)) + dir_bytes);

			memcpy(d + OMEN_RUN_DIR_OFFSET(enc.key_width), &off, sizeof(off));
		}
		memcpy(m->runs, &count, sizeof(count));
		memcpy(m->runs + dir_bytes, data, bytes);
		m->bytes = dir_bytes + bytes;
	}
	m->nsorted = out;
	Assert(out == lf.n + 1);
#ifdef USE_ASSERT_CHECKING
	{
		/* the same bytes as runs_layout over all the entries */
		int64	   *ak = palloc((out + 1) * sizeof(int64));
		int64	   *at = palloc((out + 1) * sizeof(int64));
		char	   *full = palloc0(OMEN_LEAF_SPACE + sizeof(uint64));
		int			n = omen_leaf_entries(page, ak, at);
		int			nruns;

		for (i = n; i > 0 && omen_pos_cmp(ak[i - 1], at[i - 1], key, tid) > 0; i--)
		{
			ak[i] = ak[i - 1];
			at[i] = at[i - 1];
		}
		ak[i] = key;
		at[i] = tid;
		Assert(runs_layout(NULL, &enc, out, ak, at, &nruns) == m->bytes && nruns == nr);
		runs_layout(full, &enc, out, ak, at, &nruns);
		Assert(memcmp(full, m->runs, m->bytes) == 0);
		pfree(ak);
		pfree(at);
		pfree(full);
	}
#endif
	return omen_leaf_runs_wins(omen_leaf_plain_bytes(&enc, out), m->bytes);
}

/* Put a merge's runs into the leaf: every entry sorted, nothing pending. */
void
omen_leaf_put_runs(Page page, const OmenRunsMerge *m)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);

	Assert(h->format == OMEN_LEAF_RUNS && m->bytes <= (int) OMEN_LEAF_SPACE);
	memcpy((char *) page + OMEN_LEAF_DATA, m->runs, m->bytes);
	h->nsorted = (uint16) m->nsorted;
	h->sorted_bytes = (uint16) m->bytes;
	set_bounds(page, h, m->nsorted);
}

static inline void
put_item(OmenScanItem *it, int64 key, int64 tid)
{
	it->key = key;
	omen_tid_decode(tid, &it->tid);
}

/* Key i of the sorted entries, or of the runs in a RUNS leaf. */
static inline int64
key_at(const OmenLeaf *lf, int i, bool runs)
{
	return runs ? run_key(lf, i) : omen_leaf_key(lf, i);
}

/*
 * The first of keys [from, n) -- sorted entries, or runs -- with key > hi
 * (n if none).  Galloping from 'from' (1, 2, 4, ... on), then bisecting
 * the bracket: the answer is usually near, one on for an equality probe,
 * and a bisection of the rest of the leaf would touch a new cache line at
 * nearly every step.
 */
static inline int
first_above(const OmenLeaf *lf, int from, int n, int64 hi, bool runs)
{
	int			lo = from;
	int			end = from;
	int			step;

	for (step = 1; end < n && key_at(lf, end, runs) <= hi; step <<= 1)
	{
		lo = end + 1;
		end = Min(lo + step, n);
	}
	/* keys before lo are <= hi; key 'end' is > hi, or end == n */
	while (lo < end)
	{
		int			mid = lo + (end - lo) / 2;

		if (key_at(lf, mid, runs) <= hi)
			lo = mid + 1;
		else
			end = mid;
	}
	return lo;
}

/* The sorted entries with lo <= key <= hi are [*first, *end). */
void
omen_leaf_sorted_range(const OmenLeaf *lf, int64 lo, int64 hi, int *first, int *end)
{
	if (lf->format == OMEN_LEAF_RUNS)
	{
		/* the runs with lo <= key <= hi */
		int			r = runs_first_at_least(lf, lo);

		*first = run_start(lf, r);
		*end = run_start(lf, first_above(lf, r, lf->nruns, hi, true));
		return;
	}
	*first = omen_leaf_lower_bound(lf, lo, OMEN_TID_MIN);
	*end = first_above(lf, *first, lf->nsorted, hi, false);
}

/*
 * Put sorted entry (k, t) into out[*n], after the pending entries pk/pt
 * from *j on that come before it.
 */
static inline void
put_merged(OmenScanItem *out, int *n, const int64 *pk, const int64 *pt, int np, int *j,
		   int64 k, int64 t)
{
	while (*j < np && omen_pos_cmp(pk[*j], pt[*j], k, t) < 0)
	{
		put_item(&out[(*n)++], pk[*j], pt[*j]);
		(*j)++;
	}
	put_item(&out[(*n)++], k, t);
}

/*
 * Set an item's TID to (block, offset).  On a little-endian machine the
 * ItemPointerData (block's high half, block's low half, offset) and the
 * two bytes of padding after it are written in one store.
 */
static inline void
set_item_tid(OmenScanItem *it, uint64 block, uint64 offset)
{
#ifndef WORDS_BIGENDIAN
	uint64		w = (uint64) pg_rotate_left32((uint32) block, 16) | (offset << 32);

	StaticAssertStmt(offsetof(OmenScanItem, key) == sizeof(uint64),
					 "an OmenScanItem's TID and its padding are 8 bytes");
	memcpy(it, &w, sizeof(w));
#else
	ItemPointerSet(&it->tid, (BlockNumber) block, (OffsetNumber) offset);
#endif
	Assert(ItemPointerGetBlockNumberNoCheck(&it->tid) == (BlockNumber) block &&
		   ItemPointerGetOffsetNumberNoCheck(&it->tid) == (OffsetNumber) offset);
}

/*
 * Put entries [skip, count) of a run, all with key k, into out, from a
 * reader fresh from run_reader_init; return how many.  This is the loop
 * that returns the rows of a duplicated key: it reads the gaps straight
 * from the run and writes each TID without building its encoded form.
 */
static inline int
put_run(OmenScanItem *out, int64 k, const RunReader *rd, int skip, int count)
{
	uint64		d = rd->d;
	uint64		pos = 0;
	const char *gaps = rd->gaps;
	uint64		mask = rd->mask;
	int			bits = rd->bits;
	int			off_bits = rd->off_bits;
	uint64		off_mask = (UINT64CONST(1) << off_bits) - 1;
	int			i = 0;
	int			n = 0;

	if (skip < 0)
		skip = 0;
	if (skip >= count)
		return 0;
	for (; i < skip; i++)
	{
		d += run_step_at(gaps, pos, mask);
		pos += bits;
	}
	for (;;)
	{
		out[n].key = k;
		set_item_tid(&out[n], d >> off_bits, d & off_mask);
		n++;
		if (++i >= count)
			break;
		d += run_step_at(gaps, pos, mask);
		pos += bits;
	}
	return n;
}

/*
 * Put sorted entries [first, end) of a PLAIN leaf into out; return how
 * many.  The loop of a range scan over distinct keys, when no pending
 * entry is to be merged: keys and TIDs are read by stepping through their
 * arrays (what omen_leaf_key and omen_leaf_tid compute from i, without a
 * multiplication per entry), and each TID is written in one store.
 */
static inline int
put_plain(OmenScanItem *out, const OmenLeaf *lf, int first, int end)
{
	const char *kp = lf->keys + first * lf->key_width;
	const char *tp = lf->tids - (first + 1) * lf->tid_width;
	int			n = 0;
	int			i;

	for (i = first; i < end; i++)
	{
		uint64		t = lf->tid_base + omen_load_stored(tp, lf->tid_mask);

		out[n].key = (int64) (lf->key_base + omen_load_stored(kp, lf->key_mask));
		set_item_tid(&out[n], t >> OMEN_TID_OFFSET_BITS, tid_offset(t));
		n++;
		kp += lf->key_width;
		tp -= lf->tid_width;
	}
	return n;
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
	if (lf->format == OMEN_LEAF_RUNS)
	{
		int			r;

		/*
		 * omen_leaf_sorted_range() gave whole runs, from the first >= lo.
		 * Only entries [first, end) go out, whatever the runs say: out
		 * has room for those.
		 */
		for (r = runs_first_at_least(lf, lo); r < lf->nruns && run_start(lf, r) < end; r++)
		{
			int64		k = run_key(lf, r);
			RunReader	rd;

			i = run_start(lf, r);
			run_reader_init(lf, r, &rd);
			if (j >= np)
			{
				/* nothing pending is left to merge */
				n += put_run(&out[n], k, &rd, first - i, Min(rd.left, end - i));
				continue;
			}
			for (; rd.left > 0 && i < end; i++)
			{
				uint64		d = run_reader_next_dense(&rd);

				if (i >= first)
					put_merged(out, &n, pk, pt, np, &j, k, sparse_tid(d, rd.off_bits));
			}
		}
	}
	else if (np == 0)
		n = put_plain(out, lf, first, end);
	else
	{
		for (i = first; i < end; i++)
			put_merged(out, &n, pk, pt, np, &j, omen_leaf_key(lf, i), omen_leaf_tid(lf, i));
	}
	for (; j < np; j++)
		put_item(&out[n++], pk[j], pt[j]);
	return n;
}
