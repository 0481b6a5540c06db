/*
 * omen.h
 *	  Learned index access method for int8-like keys: shared definitions.
 *
 * The on-disk format, the locking protocol and the WAL records are
 * described in src/README.md; keep the two in step.
 */
#ifndef OMEN_H
#define OMEN_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/itup.h"
#include "catalog/pg_type_d.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "parser/parsetree.h"
#include "utils/rel.h"
#include "storage/bufmgr.h"
#include "port/pg_bswap.h"
#include "storage/bufpage.h"
#include "utils/relcache.h"

/* ---------------------------------------------------------------------
 * Identification
 * ---------------------------------------------------------------------
 */
#define OMEN_MAGIC				0x4F4D454E	/* "OMEN" */
#define OMEN_FORMAT_VERSION		5
/*
 * Format 4 differs only in that its leaves store pending entries in the
 * sorted entries' fields (no OMEN_P_WIDE_PENDING): this library reads and
 * writes such an index as it is, and REINDEX makes it format 5.
 */
#define OMEN_FORMAT_VERSION_MIN	4
#define OMEN_PAGE_ID			0xFF8A		/* last 2 bytes of every page */

#define OMEN_METAPAGE_BLKNO		0

/* Build phases reported in pg_stat_progress_create_index.subphase */
#define OMEN_PHASE_SCAN			2
#define OMEN_PHASE_SORT			3
#define OMEN_PHASE_LOAD			4
#define OMEN_PHASE_FIT			5

/* Reloptions */
#define OMEN_DEFAULT_EPSILON	16
#define OMEN_MIN_EPSILON		1
#define OMEN_MAX_EPSILON		65536
#define OMEN_DEFAULT_FILLFACTOR 90
#define OMEN_MIN_FILLFACTOR		10
#define OMEN_MAX_FILLFACTOR		100

typedef struct OmenOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			epsilon;		/* model error bound, in leaves */
	int			fillfactor;		/* leaf fill at build, percent */
} OmenOptions;

/*
 * Two trees share one index: the key tree holds (key, heap TID) for non-NULL
 * keys; the null tree holds NULL entries, keyed by the encoded heap TID so
 * that the same leaf, split, scan and model code serves both.
 */
#define OMEN_TREE_KEYS			0
#define OMEN_TREE_NULLS			1
#define OMEN_NTREES				2

/* ---------------------------------------------------------------------
 * Positions: every entry and every fence is a (key, tid) pair compared
 * lexicographically as two int64s.  A heap TID is encoded as
 * (block << OMEN_TID_OFFSET_BITS | offset), which is >= 1 for every real
 * TID, so -1 is a "minus infinity" TID that sorts before every real entry
 * with that key.  The offset field is as narrow as MaxOffsetNumber allows,
 * so that the TIDs of a 16 GB heap differ by less than 2^32 and fit the
 * 4-byte stored width of a leaf (see the leaf layout below).
 * ---------------------------------------------------------------------
 */
#define OMEN_TID_MIN			((int64) -1)
#define OMEN_TID_MAX			PG_INT64_MAX
#define OMEN_TID_OFFSET_BITS	(BLCKSZ <= 8192 ? 12 : 16)

StaticAssertDecl(MaxOffsetNumber < (1 << OMEN_TID_OFFSET_BITS),
				 "every heap offset must fit the encoded TID's offset field");

typedef struct OmenPos
{
	int64		key;
	int64		tid;
} OmenPos;

static inline int64
omen_tid_encode(ItemPointer tid)
{
	return ((int64) ItemPointerGetBlockNumberNoCheck(tid) << OMEN_TID_OFFSET_BITS) |
		(int64) ItemPointerGetOffsetNumberNoCheck(tid);
}

static inline void
omen_tid_decode(int64 enc, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (enc >> OMEN_TID_OFFSET_BITS),
				   (OffsetNumber) (enc & ((1 << OMEN_TID_OFFSET_BITS) - 1)));
}

static inline int
omen_pos_cmp(int64 k1, int64 t1, int64 k2, int64 t2)
{
	if (k1 != k2)
		return k1 < k2 ? -1 : 1;
	if (t1 != t2)
		return t1 < t2 ? -1 : 1;
	return 0;
}

/* ---------------------------------------------------------------------
 * Page special space, shared by all page kinds.
 * ---------------------------------------------------------------------
 */
#define OMEN_P_META				(1 << 0)
#define OMEN_P_LEAF				(1 << 1)
#define OMEN_P_NULLS			(1 << 2)	/* leaf of the null tree */
#define OMEN_P_MODEL			(1 << 3)
#define OMEN_P_FREE				(1 << 4)	/* recyclable, in the FSM */
#define OMEN_P_PIECE			(1 << 5)	/* model page holding one piece */
#define OMEN_P_WIDE_PENDING		(1 << 6)	/* leaf: pending entries stored whole */
#define OMEN_P_KIND_MASK		(OMEN_P_META | OMEN_P_LEAF | OMEN_P_NULLS | OMEN_P_MODEL | OMEN_P_FREE)

typedef struct OmenPageOpaqueData
{
	BlockNumber left;			/* left sibling, or InvalidBlockNumber */
	BlockNumber right;			/* right sibling / next model page */
	OmenPos		low;			/* entries are >= low ... */
	OmenPos		high;			/* ... and < high */
	uint64		version;		/* model pages: model version */
	uint16		flags;
	uint16		page_id;		/* OMEN_PAGE_ID */
} OmenPageOpaqueData;

typedef OmenPageOpaqueData *OmenPageOpaque;

#define OmenPageGetOpaque(page) ((OmenPageOpaque) PageGetSpecialPointer(page))
#define OmenPageIsLeaf(page)	((OmenPageGetOpaque(page)->flags & OMEN_P_LEAF) != 0)
#define OmenPageIsRightmost(page) (OmenPageGetOpaque(page)->right == InvalidBlockNumber)

/* where an omen page's special space starts (omen_init_page) */
#define OMEN_SPECIAL_OFFSET		(BLCKSZ - MAXALIGN(sizeof(OmenPageOpaqueData)))

/*
 * Start loading the cache line at addr, to be read soon, so that its miss
 * overlaps others instead of following them.  Only a hint: where the
 * compiler has no such builtin it does nothing.
 *
 * The empty volatile asm that takes the address keeps the hint, as found
 * by reading the object code (gcc 12, -O2): without it gcc deleted, as
 * dead code and without a warning, every prefetch of a heap row behind the
 * offset's range check in prefetch_heap_row, a branch that did nothing
 * else.  The asm keeps the branch, and the prefetch with it.
 */
#if defined(__GNUC__) || defined(__clang__)
#define OMEN_HAVE_PREFETCH		1
#define omen_prefetch_rw(addr, rw) \
	do { \
		const void *omen_prefetch_addr_ = (addr); \
		__builtin_prefetch(omen_prefetch_addr_, (rw)); \
		__asm__ __volatile__("" : : "r" (omen_prefetch_addr_)); \
	} while (0)
#define omen_prefetch(addr)		omen_prefetch_rw(addr, 0)
/* the same, for a line about to be written (an atomic on it, say) */
#define omen_prefetch_write(addr)	omen_prefetch_rw(addr, 1)
#else
#define OMEN_HAVE_PREFETCH		0
#define omen_prefetch(addr)		((void) 0)
#define omen_prefetch_write(addr)	((void) 0)
#endif

/* The leftmost leaf's low fence and the rightmost leaf's high fence. */
#define OMEN_POS_MIN_KEY		PG_INT64_MIN
#define OMEN_POS_MAX_KEY		PG_INT64_MAX

/*
 * Leaf layout.  After the page header comes an OmenLeafHeader, then the
 * entries, in one of two formats (the writer takes the smaller):
 *
 * - PLAIN: the stored keys (key_width bytes each, little-endian, key -
 *   key_base) grow up to pd_lower; the stored TIDs (tid_width bytes each,
 *   encoded TID - tid_base) grow down from the special space to pd_upper,
 *   TID i in the i-th slot below the special space.  Widths are chosen per
 *   leaf from the range of what it holds, so a leaf of nearby keys and heap
 *   rows stores an entry in 4 to 6 bytes instead of 14.
 * - RUNS: for leaves of duplicate keys.  The sorted entries are one run
 *   per distinct key, in sorted_bytes bytes after the header: a uint16
 *   count of runs, a directory of runs (stored key, first entry, data
 *   offset, gap width b), then each run's data: its first TID as in
 *   PLAIN and the gaps between its ascending TIDs minus one, b bits each.
 *   A gap is taken between dense TIDs, block << off_bits | offset, so that
 *   a heap page's unused offset numbers cost nothing.  The pending entries
 *   follow the runs, keys growing up and TIDs down from the special space
 *   as in PLAIN.
 *
 * Pending entries are stored whole (8-byte key, 6-byte TID) in a leaf
 * flagged OMEN_P_WIDE_PENDING (format 5), in the sorted entries' fields
 * otherwise (format 4).
 *
 * Entries [0, nsorted) are in (key, tid) order; the entries after them
 * (at most OMEN_PENDING_MAX) are pending: in insertion order, each a
 * position that is in none of the others.  An insert appends (a few
 * bytes of WAL beside the hole, nothing shifts); when the pending area is
 * full, the next insert merges it into the sorted entries.  An insert
 * that goes after every entry of a PLAIN leaf with nothing pending extends
 * the sorted entries directly, so ascending keys never leave anything
 * pending.
 */
typedef struct OmenLeafHeader
{
	int64		key_base;		/* keys are stored as key - key_base */
	int64		tid_base;		/* TIDs as encoded TID - tid_base */
	uint16		nsorted;		/* entries [0, nsorted) are in order */
	uint8		key_width;		/* bytes a stored key takes, 1 - 8 */
	uint8		tid_width;		/* bytes a stored TID takes, 1 - 8 */
	uint16		sorted_bytes;	/* RUNS: bytes of the runs */
	uint8		format;			/* OMEN_LEAF_PLAIN or OMEN_LEAF_RUNS */
	uint8		off_bits;		/* RUNS: offset bits of a dense TID */
} OmenLeafHeader;

#define OMEN_LEAF_PLAIN			0
#define OMEN_LEAF_RUNS			1

#define OmenLeafGetHeader(page) ((OmenLeafHeader *) PageGetContents(page))
#define OMEN_LEAF_DATA			(MAXALIGN(SizeOfPageHeaderData) + MAXALIGN(sizeof(OmenLeafHeader)))
#define OMEN_LEAF_SPACE			(BLCKSZ - OMEN_LEAF_DATA - MAXALIGN(sizeof(OmenPageOpaqueData)))
/* most entries a leaf can hold: one byte of key and one of TID each */
#define OMEN_LEAF_MAX_ENTRIES	((int) (OMEN_LEAF_SPACE / 2))
#define OMEN_PENDING_MAX		64
/*
 * A leaf flagged OMEN_P_WIDE_PENDING (every leaf of a format-5 index: the
 * build sets it and a split's new leaf inherits it) stores a pending entry
 * whole, the key in 8 bytes and the encoded TID in 6, so that any entry
 * can wait there, not only those the sorted entries' fields hold.  A
 * merge leaves the entries those fields cannot hold pending, up to
 * OMEN_PENDING_FAR_MAX of them (omeninsert.c).
 */
#define OMEN_PENDING_KEY_WIDTH	8
#define OMEN_PENDING_TID_WIDTH	6
#define OMEN_PENDING_FAR_MAX	(OMEN_PENDING_MAX * 3 / 4)

/*
 * A run directory entry: the stored key (key_width bytes), then the run's
 * first entry and its data's offset (uint16 each) and the bits of its gaps
 * (uint8), at these offsets from the entry.
 */
#define OMEN_RUN_DIR_START(kw)	(kw)
#define OMEN_RUN_DIR_OFFSET(kw)	((kw) + 2)
#define OMEN_RUN_DIR_BITS(kw)	((kw) + 4)
#define OMEN_RUN_DIR_EXTRA		5
/* widest gap field of a run: a dense TID has 32 bits of block and an offset */
#define OMEN_RUN_MAX_BITS		(32 + OMEN_TID_OFFSET_BITS)

/*
 * A RUNS leaf's runs with its pending entries and one new entry merged
 * in, in its own encoding (omen_leaf_merge_runs), ready to be put in the
 * leaf (omen_leaf_put_runs) inside a critical section.
 */
typedef struct OmenRunsMerge
{
	int			nsorted;		/* the sorted entries, all of the leaf's */
	int			bytes;			/* their runs' bytes (sorted_bytes) */
	char		runs[OMEN_LEAF_SPACE];
} OmenRunsMerge;

/* How a leaf stores its entries. */
typedef struct OmenLeafEnc
{
	int64		key_base;
	int64		tid_base;
	int			key_width;
	int			tid_width;
	int			format;			/* OMEN_LEAF_PLAIN or OMEN_LEAF_RUNS */
	int			off_bits;		/* RUNS */
	int			nruns;			/* RUNS */
	int			n;				/* the entries the encoding was chosen for */
	int			bytes;			/* and the bytes they take in it */

	/*
	 * Far entries (omen_leaf_choose_enc_near): those the fields 'hold_*'
	 * cannot store are written pending, whole; nfar counts them.
	 */
	int			nfar;
	bool		wide_pending;	/* omen_leaf_get_enc: the leaf's flag */
	int64		hold_key_base;
	int64		hold_tid_base;
	int			hold_key_width;
	int			hold_tid_width;
} OmenLeafEnc;

/* A leaf opened for reading: where its arrays are and how to decode them. */
typedef struct OmenLeaf
{
	const char *keys;			/* PLAIN: stored key i at keys + i * key_width;
								 * RUNS: the runs start here */
	const char *tids;			/* PLAIN: stored TID i ends (i * tid_width) below */
	const char *pkeys;			/* pending key j at pkeys + j * pkey_width */
	const char *ptids;			/* pending TID j ends (j * ptid_width) below */
	uint64		key_base;
	uint64		tid_base;
	uint64		key_mask;
	uint64		tid_mask;
	int			key_width;
	int			tid_width;
	uint64		pkey_base;		/* the same for the pending entries: the */
	uint64		ptid_base;		/* sorted entries' unless the leaf is */
	uint64		pkey_mask;		/* OMEN_P_WIDE_PENDING */
	uint64		ptid_mask;
	int			pkey_width;
	int			ptid_width;
	int			format;
	int			off_bits;
	int			nruns;			/* RUNS */
	int			runs_bytes;		/* RUNS: bytes of the runs and their directory */
	int			n;				/* entries */
	int			nsorted;		/* of which sorted */
	int64		high_key;		/* the key of the leaf's high fence */

	/*
	 * Where a damaged run is reported: a scan checks the runs it decodes
	 * only (omen_check_scan_leaf); NULL when the leaf's whole directory was
	 * checked when it was locked.
	 */
	Relation	rel;
	BlockNumber blkno;
} OmenLeaf;

static inline uint64
omen_width_mask(int width)
{
	return width >= 8 ? ~UINT64CONST(0) : (UINT64CONST(1) << (8 * width)) - 1;
}

/* An unaligned little-endian load of 8 bytes, masked to a width. */
static inline uint64
omen_load_stored(const char *p, uint64 mask)
{
	uint64		v;

	memcpy(&v, p, sizeof(v));
#ifdef WORDS_BIGENDIAN
	v = pg_bswap64(v);
#endif
	return v & mask;
}

/*
 * The bytes the sorted entries take after the leaf header (*key_bytes:
 * PLAIN keys, or RUNS runs) and below the special space (*tid_bytes: PLAIN
 * TIDs; none in RUNS).  The pending entries lie beyond them.
 */
static inline void
omen_leaf_sorted_bytes(const OmenLeafHeader *h, int *key_bytes, int *tid_bytes)
{
	if (h->format == OMEN_LEAF_RUNS)
	{
		*key_bytes = h->sorted_bytes;
		*tid_bytes = 0;
	}
	else
	{
		*key_bytes = h->nsorted * h->key_width;
		*tid_bytes = h->nsorted * h->tid_width;
	}
}

/* Where the pending keys start and the pending TIDs end. */
static inline Size
omen_leaf_pending_keys_at(Page page)
{
	int			kb;
	int			tb;

	omen_leaf_sorted_bytes(OmenLeafGetHeader(page), &kb, &tb);
	return OMEN_LEAF_DATA + kb;
}

static inline Size
omen_leaf_pending_tids_end(Page page)
{
	int			kb;
	int			tb;

	omen_leaf_sorted_bytes(OmenLeafGetHeader(page), &kb, &tb);
	return ((PageHeader) page)->pd_special - tb;
}

/* Are the leaf's pending entries stored whole (OMEN_P_WIDE_PENDING)? */
static inline bool
omen_leaf_wide_pending(Page page)
{
	return (OmenPageGetOpaque(page)->flags & OMEN_P_WIDE_PENDING) != 0;
}

/*
 * The bytes a pending key and a pending TID take in the leaf and, if
 * kbase is given, the bases they are stored from: whole (no base) in a
 * WIDE_PENDING leaf, else in the sorted entries' fields.
 */
static inline void
omen_leaf_pending_fields(Page page, int *kw, int *tw, uint64 *kbase, uint64 *tbase)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	bool		wide = omen_leaf_wide_pending(page);

	*kw = wide ? OMEN_PENDING_KEY_WIDTH : h->key_width;
	*tw = wide ? OMEN_PENDING_TID_WIDTH : h->tid_width;
	if (kbase)
	{
		*kbase = wide ? 0 : (uint64) h->key_base;
		*tbase = wide ? 0 : (uint64) h->tid_base;
	}
}

static inline int
OmenLeafNEntries(Page page)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	int			kw;
	int			tw;

	omen_leaf_pending_fields(page, &kw, &tw, NULL, NULL);
	return h->nsorted + (int) ((((PageHeader) page)->pd_lower - omen_leaf_pending_keys_at(page)) / kw);
}

static inline uint16
omen_load_u16(const char *p)
{
	uint16		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The number of runs of a RUNS leaf (0 for PLAIN). */
static inline int
omen_leaf_nruns(Page page)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);

	return h->format == OMEN_LEAF_RUNS && h->sorted_bytes >= sizeof(uint16) ?
		omen_load_u16((const char *) page + OMEN_LEAF_DATA) : 0;
}

static inline void
omen_leaf_open(Page page, OmenLeaf *lf)
{
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	PageHeader	ph = (PageHeader) page;
	int			sorted_k;
	int			sorted_t;

	omen_leaf_sorted_bytes(h, &sorted_k, &sorted_t);
	lf->key_width = h->key_width;
	lf->tid_width = h->tid_width;
	lf->key_base = (uint64) h->key_base;
	lf->tid_base = (uint64) h->tid_base;
	lf->key_mask = omen_width_mask(h->key_width);
	lf->tid_mask = omen_width_mask(h->tid_width);
	lf->format = h->format;
	lf->off_bits = h->off_bits;
	lf->keys = (const char *) page + OMEN_LEAF_DATA;
	lf->tids = (const char *) page + ph->pd_special;
	lf->pkeys = lf->keys + sorted_k;
	lf->ptids = lf->tids - sorted_t;
	omen_leaf_pending_fields(page, &lf->pkey_width, &lf->ptid_width,
							 &lf->pkey_base, &lf->ptid_base);
	lf->pkey_mask = omen_width_mask(lf->pkey_width);
	lf->ptid_mask = omen_width_mask(lf->ptid_width);
	lf->nruns = omen_leaf_nruns(page);
	lf->runs_bytes = h->sorted_bytes;
	lf->nsorted = h->nsorted;
	lf->n = h->nsorted + (int) ((ph->pd_lower - OMEN_LEAF_DATA - sorted_k) / lf->pkey_width);
	lf->high_key = OmenPageGetOpaque(page)->high.key;
	lf->rel = NULL;
	lf->blkno = InvalidBlockNumber;
}

/*
 * Open a leaf that a scan holds locked, checked by omen_check_scan_leaf():
 * a damaged run it decodes is reported with the index and block.
 */
static inline void
omen_leaf_open_for_scan(Relation index, Page page, BlockNumber blkno, OmenLeaf *lf)
{
	omen_leaf_open(page, lf);
	lf->rel = index;
	lf->blkno = blkno;
}

/* Sorted entry i of a PLAIN leaf. */
static inline int64
omen_leaf_key(const OmenLeaf *lf, int i)
{
	Assert(lf->format == OMEN_LEAF_PLAIN);
	return (int64) (lf->key_base + omen_load_stored(lf->keys + i * lf->key_width, lf->key_mask));
}

static inline int64
omen_leaf_tid(const OmenLeaf *lf, int i)
{
	Assert(lf->format == OMEN_LEAF_PLAIN);
	return (int64) (lf->tid_base +
					omen_load_stored(lf->tids - (i + 1) * lf->tid_width, lf->tid_mask));
}

/* Pending entry j, 0 <= j < n - nsorted, of a leaf of either format. */
static inline int64
omen_leaf_pending_key(const OmenLeaf *lf, int j)
{
	return (int64) (lf->pkey_base + omen_load_stored(lf->pkeys + j * lf->pkey_width, lf->pkey_mask));
}

static inline int64
omen_leaf_pending_tid(const OmenLeaf *lf, int j)
{
	return (int64) (lf->ptid_base +
					omen_load_stored(lf->ptids - (j + 1) * lf->ptid_width, lf->ptid_mask));
}

/* The bytes a leaf's entries take, either format. */
static inline int
omen_leaf_used_bytes(Page page)
{
	PageHeader	ph = (PageHeader) page;

	return (ph->pd_lower - OMEN_LEAF_DATA) + (ph->pd_special - ph->pd_upper);
}

/* ---------------------------------------------------------------------
 * Metapage (block 0)
 *
 * Besides the pointers and counters, the metapage holds the split log: the
 * leaves the model lists wrongly or not at all since it was fit -- new
 * leaves, leaves unlinked for reuse and, where the log has room to spare,
 * leaves whose low fence went down -- so that a retrain reads those leaves
 * and no others.  New leaves mostly come from extending the relation, so
 * the log is a bitmap over a window of blocks starting at log_base, plus a
 * short list for blocks outside it.  A new or unlinked leaf that fits
 * neither is counted in log_dropped and sets log_lost: the next retrain
 * then walks every leaf.
 * ---------------------------------------------------------------------
 */
#define OMEN_LOG_EXTRA			64
#define OMEN_LOG_BYTES			7424
#define OMEN_LOG_BLOCKS			(OMEN_LOG_BYTES * 8)

typedef struct OmenMetaPageData
{
	uint32		magic;
	uint32		format_version;
	uint32		epsilon;		/* frozen at build */
	uint32		fillfactor;		/* frozen at build */
	Oid			keytype;		/* type of the indexed column */
	BlockNumber root[OMEN_NTREES];	/* leftmost leaf of each tree */
	BlockNumber model_head;		/* first page of the current model's root */
	uint32		model_npages;	/* pages of the root */
	uint32		model_bytes;	/* bytes of the root */
	uint64		model_version;
	uint64		leaf_pages;		/* leaves of both trees */
	uint64		splits_total;	/* leaves logged since build (splits, unlinks,
								 * lowered fences) */
	uint64		splits_at_retrain;	/* of those, the ones the model accounts for */
	uint64		retrains;
	TimestampTz last_retrain;
	uint32		model_segments;
	uint32		max_error;
	double		mean_error;
	uint32		model_pieces;
	uint32		model_leaves;	/* leaves listed by the model */
	uint64		last_retrain_leaves;	/* leaves read by the last retrain */

	/* the split log; omen_read_meta() does not copy it */
	uint32		log_lost;		/* a new leaf is missing from the log */
	uint32		log_nextra;
	uint64		log_dropped;	/* new or unlinked leaves the log could not hold */
	BlockNumber log_base;		/* block of bit 0 */
	BlockNumber log_extra[OMEN_LOG_EXTRA];
	uint8		log_bits[OMEN_LOG_BYTES];
} OmenMetaPageData;

#define OMEN_META_HEADER_SIZE	offsetof(OmenMetaPageData, log_lost)
/* everything but the log's bitmap */
#define OMEN_META_LOG_CONTROL_END offsetof(OmenMetaPageData, log_bits)

typedef OmenMetaPageData *OmenMetaPage;

#define OmenPageGetMeta(page)	((OmenMetaPage) PageGetContents(page))

/* ---------------------------------------------------------------------
 * The learned model.
 *
 * Per tree, the model is a sequence of pieces.  A piece lists up to
 * OMEN_PIECE_MAX_LEAVES consecutive leaves (their low fences (key, tid) and
 * block numbers: the directory) and the piecewise-linear segments fitted
 * over them, mapping a key to a slot of the piece with error at most
 * epsilon; it lives in one model page.  The model's root lists the pieces
 * (first position, block, counts, errors) and is written over a chain of
 * root pages.  A lookup finds the piece by the first positions, predicts
 * the slot and gallops to the last leaf whose low fence is <= the target.
 * Low fences never change, so the directory of an older model is still a
 * sorted subset of the current leaves: a stale model lands left of the
 * target and the B-link right-walk finishes.  A retrain rewrites only the
 * pieces that gained leaves, and the root.
 * ---------------------------------------------------------------------
 */
typedef struct OmenSegment
{
	int64		first_key;		/* smallest key this segment predicts */
	double		slope;			/* slots per key */
	double		intercept;		/* predicted slot at first_key */
	uint32		first_slot;		/* slots of the piece it covers */
	uint32		nslots;
} OmenSegment;

#define OMEN_PIECE_MAX_LEAVES	400		/* most leaves a piece lists */
#define OMEN_PIECE_FILL			300		/* leaves per piece at a full fit */

/* A piece page: OmenPieceHeader, segments, keys, tids, blocks. */
typedef struct OmenPieceHeader
{
	uint32		magic;
	uint16		tree;
	uint16		nsegments;
	uint32		nleaves;
	uint32		pad;
} OmenPieceHeader;

/* The root's entry for a piece. */
typedef struct OmenPieceDesc
{
	int64		first_key;		/* low fence of its first leaf */
	int64		first_tid;
	BlockNumber block;			/* its model page */
	uint32		nleaves;
	uint64		written;		/* model version that wrote the page */
	uint32		nsegments;
	uint32		max_error;
	double		sum_error;		/* over its fit points */
	uint32		npoints;
	uint32		pad;
} OmenPieceDesc;

typedef struct OmenModelRootHeader
{
	uint32		magic;
	uint32		epsilon;
	uint64		version;
	uint32		npieces[OMEN_NTREES];
	/* then the pieces of tree 0, then of tree 1 */
} OmenModelRootHeader;

#define OmenRootPieces(hdr, t) \
	((OmenPieceDesc *) ((char *) (hdr) + MAXALIGN(sizeof(OmenModelRootHeader))) + \
	 ((t) == 0 ? 0 : (hdr)->npieces[0]))

/* A piece in the per-backend cache: pointers into the cache chunk. */
typedef struct OmenPiece
{
	uint32		nleaves;
	uint32		nsegments;
	const OmenSegment *segs;
	const int64 *keys;
	const int64 *tids;
	const BlockNumber *blocks;
	Buffer	   *recent;			/* per leaf: the buffer that held it when this
								 * backend last pinned it, or InvalidBuffer */
} OmenPiece;

typedef struct OmenTreeModel
{
	uint32		npieces;
	uint32		nleaves;
	int64	   *piece_keys;		/* first positions, for the binary search */
	int64	   *piece_tids;
	OmenPiece  *pieces;

	/*
	 * Leaves right of the last directory leaf that this backend walked
	 * over since the model was loaded (appends create them): remembered so
	 * the walk is paid once, not on every probe.  Backend-local, never
	 * written to disk.
	 */
	uint32		ntail;
	int64	   *tail_keys;
	int64	   *tail_tids;
	BlockNumber *tail_blocks;
	Buffer	   *tail_recent;	/* as OmenPiece.recent */
} OmenTreeModel;

#define OMEN_TAIL_CAPACITY		1024

/* a walk this long makes a lookup check whether a newer model exists */
#define OMEN_LONG_WALK			8

/* The per-backend cache kept in rd_amcache: one palloc chunk. */
typedef struct OmenModelCache
{
	uint64		version;
	uint32		epsilon;
	OmenTreeModel tree[OMEN_NTREES];
	/* leaf this backend last appended to (at its end), per tree */
	BlockNumber insert_hint[OMEN_NTREES];
	Buffer		insert_hint_buf[OMEN_NTREES];	/* the buffer that held it */
	/* a newer model was published: reload at the next omen_get_model() */
	bool		stale;
	/* root and piece data follow */
} OmenModelCache;

/* Leaves collected for a fit: in key order. */
typedef struct OmenLeafList
{
	int			n;
	int			cap;
	int64	   *keys;
	int64	   *tids;
	BlockNumber *blocks;
} OmenLeafList;

/* ---------------------------------------------------------------------
 * Scan state
 * ---------------------------------------------------------------------
 */
typedef struct OmenScanItem
{
	ItemPointerData tid;
	int64		key;
} OmenScanItem;

typedef struct OmenScanRange
{
	int64		lo;
	int64		hi;
} OmenScanRange;

typedef struct OmenScanPos
{
	Buffer		buf;			/* pinned leaf the items came from */
	BlockNumber blkno;
	BlockNumber next;			/* right (forward) or left (backward) link */
	OmenPos		low;			/* fences of that leaf when read */
	OmenPos		high;
	int			range;			/* current range index */
	bool		range_done;		/* current range finished on this leaf */
	bool		bounded;		/* items are limited by bound: */
	OmenPos		bound;			/* forward: >= it; backward: < it */
	int			reseeks;		/* consecutive steps that had to re-seek */
	int			tree;
	int			nitems;
	int			item;			/* next item to return */
	int			maxitems;		/* allocated length of items */
	OmenScanItem *items;
} OmenScanPos;

typedef struct OmenScanOpaqueData
{
	/* preprocessed keys */
	bool		keys_ready;
	bool		empty;			/* quals can never match */
	bool		want_keys;		/* key tree participates */
	bool		want_nulls;		/* null tree participates */
	int			nranges;
	OmenScanRange *ranges;		/* sorted, disjoint, inclusive */
	OmenScanRange range1;		/* storage for the single-range case */

	/* position */
	bool		started;
	bool		finished;
	ScanDirection dir;
	int			phase;			/* index into the direction's tree order */
	OmenScanPos *pos;
	OmenScanPos *mark;
	int			mark_phase;
	bool		mark_finished;
	Oid			keytype;
	/* cross_cmp[i] compares keys with cross_argtype[i] (InvalidOid: unused) */
	Oid			cross_argtype[2];
	FmgrInfo	cross_cmp[2];
	Relation	index;			/* reported with a damaged run */
	MemoryContext cxt;			/* array keys' values, reset by rescan; NULL
								 * until one needs it (keys_context) */
	struct OmenScanExtra *extra;	/* index-only results' tuples; NULL until
									 * the first (result_tuples) */
	char	   *key_dest;		/* where an index-only result's key goes */

	/*
	 * Heap prefetch (prefetch_heap_pages, of scan->heapRelation): the next
	 * item of pos to prefetch, the heap block prefetched last, the item at
	 * which omengettuple prefetches more (INT_MAX: none, or no prefetch),
	 * and how far.
	 */
	int			prefetch_next;
	BlockNumber prefetch_block;
	const char *prefetch_page;	/* prefetch_block's page, NULL if not in shared buffers */
	int			prefetch_at;
	int			prefetch_window;	/* items ahead, growing to OMEN_PREFETCH_ROWS */
	int			tuple_len;		/* a heap row's bytes, -1 before
								 * start_heap_prefetch, 0 unknown */
	bool		tuple_len_exact;	/* rows without NULLs take tuple_len bytes */
} OmenScanOpaqueData;

typedef OmenScanOpaqueData *OmenScanOpaque;

/* ---------------------------------------------------------------------
 * Functions
 * ---------------------------------------------------------------------
 */

/* omen.c */
extern void _PG_init(void);
extern bytea *omenoptions(Datum reloptions, bool validate);
extern int	omen_reloption_epsilon(Relation index);
extern int	omen_reloption_fillfactor(Relation index);
extern int64 omen_datum_to_key(Datum d, Oid type);
extern bool omen_key_type_supported(Oid type);

/*
 * Whether an argument of argtype is compared as a key value itself (its own
 * type, or any integer against integer keys); otherwise only the pairs of
 * omen_cross_type_bounded() are answered.
 */
static inline bool
omen_same_key_domain(Oid keytype, Oid argtype)
{
	return argtype == keytype ||
		((argtype == INT2OID || argtype == INT4OID || argtype == INT8OID) &&
		 (keytype == INT2OID || keytype == INT4OID || keytype == INT8OID));
}

/* omenpage.c */
extern void omen_init_page(Page page, uint16 flags);
extern void omen_check_page(Relation index, Buffer buf, BlockNumber blkno, uint16 want);
extern void omen_check_scan_leaf(Relation index, Buffer buf, BlockNumber blkno, uint16 want);
extern bool omen_page_is_leaf(Page page, uint16 want);
extern int	omen_blockno_cmp(const void *a, const void *b);
extern int	omen_heap_tuple_len(Relation heap, bool *exact);
/*
 * The most heap blocks omen_prefetch_heap_blocks() looks up at once: as
 * many buffer-mapping partition locks may be held together (of the 128;
 * each for about as long as that many lookups take).
 */
#define OMEN_LOOKUP_BATCH		16
extern void omen_prefetch_heap_blocks(Relation heap, const BlockNumber *blknos, int n,
									  const char **pages);
extern void omen_check_metapage(Relation index, Page page);
extern Buffer omen_read_page(Relation index, BlockNumber blkno, int mode, uint16 want);
extern Buffer omen_pin_recent(Relation index, BlockNumber blkno, Buffer *recent);
extern Buffer omen_new_page(Relation index);
extern void omen_read_meta_full(Relation index, OmenMetaPageData *meta);
extern void omen_fill_meta(Page page, Relation index, uint32 epsilon, uint32 fillfactor);
extern void omen_read_meta(Relation index, OmenMetaPageData *meta);
extern bool omen_pos_in_leaf(Page page, int64 key, int64 tid);
extern void omen_leaflist_add(OmenLeafList *list, int64 key, int64 tid, BlockNumber blkno);
extern void omen_leaflist_free(OmenLeafList *list);
extern void omen_corrupt(Relation index, BlockNumber blkno, const char *fmt,...) pg_attribute_printf(3, 4) pg_attribute_noreturn();

/* omenleaf.c */
extern int	omen_width_for(uint64 span);
extern void omen_leaf_choose_enc(const int64 *keys, const int64 *tids, int n, OmenLeafEnc *enc);
extern bool omen_leaf_fits(const OmenLeafEnc *enc);
extern int	omen_leaf_divide_far(int64 key_base, int key_width, int64 tid_base, int tid_width,
								 const int64 *keys, const int64 *tids, int n,
								 int64 *hkeys, int64 *htids, int64 *fkeys, int64 *ftids);
extern bool omen_leaf_choose_enc_near(const int64 *keys, const int64 *tids, int n,
									  const OmenLeafEnc *ref, OmenLeafEnc *enc);
extern bool omen_leaf_enc_holds(const OmenLeafEnc *enc, int64 key, int64 tid);
extern void omen_leaf_get_enc(Page page, OmenLeafEnc *enc);
extern bool omen_leaf_extends_sorted(Page page, int64 key, int64 tid, bool *fits);
extern void omen_leaf_init(Page page, uint16 flags);
extern void omen_leaf_write(Page page, const OmenLeafEnc *enc, int n, const int64 *keys, const int64 *tids);
extern void omen_leaf_write_from(Page page, int from, int n, const int64 *keys, const int64 *tids);
extern void omen_leaf_append(Page page, int64 key, int64 tid, bool sorted);
extern bool omen_leaf_check_layout(Page page, bool whole_runs, char *why, Size whylen);
extern void omen_leaf_bytes_from(Page page, int from, Size *kstart, Size *tend);
extern int	omen_leaf_lower_bound(const OmenLeaf *lf, int64 key, int64 tid);
extern int	omen_leaf_entries(Page page, int64 *keys, int64 *tids);
extern bool omen_leaf_merge_runs(Page page, int64 key, int64 tid, OmenRunsMerge *m);
extern void omen_leaf_put_runs(Page page, const OmenRunsMerge *m);
extern int	omen_leaf_sorted_entries(Page page, int64 *keys, int64 *tids);
extern void omen_leaf_sorted_range(const OmenLeaf *lf, int64 lo, int64 hi, int *first, int *end);
extern int	omen_leaf_collect(const OmenLeaf *lf, int first, int end, int64 lo, int64 hi, OmenScanItem *out);
extern int	omen_leaf_fill_bytes(int fillfactor);
extern int	omen_leaf_plain_bytes(const OmenLeafEnc *enc, int n);
extern bool omen_leaf_runs_wins(int plain_bytes, int runs_bytes);

/*
 * The size of a RUNS leaf built up one entry at a time, in position order
 * (CREATE INDEX fills leaves this way): what each further entry costs,
 * without laying the leaf out again.
 */
typedef struct OmenRunSizer
{
	int			nruns;
	int			closed_bytes;	/* gap data of the runs before the open one */
	int			run_count;		/* entries of the open run */
	int			run_bits;		/* its widest gap */
	int			off_bits;
	int64		last_key;
	int64		last_tid;
} OmenRunSizer;

extern void omen_run_sizer_init(OmenRunSizer *sz, const int64 *keys, const int64 *tids, int n, int off_bits);
extern void omen_run_sizer_add(OmenRunSizer *sz, int64 key, int64 tid);
extern int	omen_run_sizer_bytes(const OmenRunSizer *sz, int key_width, int tid_width);
extern int	omen_tid_off_bits(int64 tid);

/* omenxlog.c */
#define OMEN_XLOG_MAX_BUFFERS	4
#define OMEN_XLOG_MAX_RANGES	8

typedef struct OmenXLogBuffer
{
	Buffer		buf;
	bool		full;			/* log a full page image */
	int			nranges;
	uint16		start[OMEN_XLOG_MAX_RANGES];	/* changed bytes [start, end) */
	uint16		end[OMEN_XLOG_MAX_RANGES];
} OmenXLogBuffer;

typedef struct OmenXLog
{
	bool		logged;
	int			nbuffers;
	OmenXLogBuffer buffers[OMEN_XLOG_MAX_BUFFERS];
} OmenXLog;

extern void omen_xlog_start(OmenXLog *xl, Relation index);
extern void omen_xlog_full(OmenXLog *xl, Buffer buf);
extern void omen_xlog_range(OmenXLog *xl, Buffer buf, Size off, Size len);
#define OMEN_XLOG_HEADER		0x01
#define OMEN_XLOG_SPECIAL		0x02
extern void omen_xlog_leaf(OmenXLog *xl, Buffer buf, int from, int flags);
extern void omen_xlog_diff(OmenXLog *xl, Buffer buf, const char *before, Size off, Size len);
extern void omen_xlog_finish(OmenXLog *xl);
extern void omen_xlog_append(Relation index, Buffer buf, bool sorted);

/* omenmodel.c */
typedef void (*OmenPieceWriter) (void *arg, Page page, OmenPieceDesc *desc);
extern int	omen_fit_pieces(int tree, const int64 *keys, const int64 *tids, const BlockNumber *blocks,
							int n, bool leftmost, int limit, uint32 epsilon, uint64 version,
							OmenPieceWriter writer, void *arg, OmenPieceDesc **descs, int *ndescs, int *cap);
extern Size omen_model_root(OmenPieceDesc *const *descs, const int *ndescs, uint32 epsilon, uint64 version,
							char **root_out);
extern void omen_model_summary(const char *root, uint32 *nsegments, uint32 *max_error, double *mean_error,
							   uint32 *nleaves);
extern OmenModelCache *omen_get_model(Relation index);
extern OmenModelCache *omen_load_model(Relation index, MemoryContext cxt, bool validate);
extern BlockNumber omen_model_find_leaf(OmenModelCache *model, int tree, int64 key, int64 tid, bool *at_end,
										int skip, Buffer **recent);
extern Buffer omen_find_leaf(Relation index, int tree, int64 key, int64 tid, int lockmode, uint16 want);
extern void omen_fill_model_page(Page page, const char *data, Size len, uint64 version, BlockNumber next);
extern int	omen_model_page_data(void);
extern BlockNumber omen_write_model_pages(Relation index, const char *blob, Size len, uint64 version, uint32 *npages);
extern double omen_segment_predict(const OmenSegment *seg, int64 key);
extern uint32 omen_error_leaves(double err);
extern int	omen_piece_segment_for(const OmenPiece *pc, int64 key);
extern char *omen_read_model_blob(Relation index, Size *len_out, uint64 *version_out);
extern void omen_free_model_chain(Relation index, BlockNumber head, uint64 version);
extern void omen_free_model_page(Relation index, BlockNumber blkno, uint64 version);
extern void omen_piece_from_page(Relation index, BlockNumber blkno, Page page, const OmenPieceDesc *desc,
								 int tree, char *dst, OmenPiece *pc);
extern Size omen_piece_size(uint32 nsegments, uint32 nleaves);

/* omenretrain.c */
extern bool omen_retrain(Relation index, bool full);
extern void omen_lock_retrain(Relation index);
extern void omen_unlock_retrain(Relation index);
extern void omen_collect_leaves(Relation index, BlockNumber root, uint16 want, OmenLeafList *list);
extern bool omen_meta_log_leaf(OmenXLog *xl, Buffer metabuf, BlockNumber blkno, int leaf_delta,
							   bool optional);
extern bool omen_log_contains(const OmenMetaPageData *meta, BlockNumber blkno);
extern double omen_meta_drift(const OmenMetaPageData *meta);
extern bool omen_meta_wants_retrain(const OmenMetaPageData *meta);

/* omenworker.c */
extern int	omen_retrain_naptime;
extern double omen_retrain_threshold;
extern bool omen_enable_retrain;
extern bool omen_prefetch_heap;
extern void omen_define_gucs(void);
extern void omen_worker_init(void);
extern void omen_request_retrain(Relation index);
extern PGDLLEXPORT void omen_launcher_main(Datum arg);
extern PGDLLEXPORT void omen_worker_main(Datum arg);

/* omenbuild.c */
extern IndexBuildResult *omenbuild(Relation heap, Relation index, IndexInfo *indexInfo);
extern void omenbuildempty(Relation index);
extern char *omenbuildphasename(int64 phasenum);

/* omeninsert.c */
extern bool omeninsert(Relation index, Datum *values, bool *isnull, ItemPointer ht_ctid,
					   Relation heapRel, IndexUniqueCheck checkUnique,
					   bool indexUnchanged, IndexInfo *indexInfo);
extern bool omen_split_leaf_entries(Relation index, Buffer buf, const int64 *keys, const int64 *tids, int n);

/* omenscan.c */
extern IndexScanDesc omenbeginscan(Relation index, int nkeys, int norderbys);
extern void omenrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool omengettuple(IndexScanDesc scan, ScanDirection dir);
extern int64 omengetbitmap(IndexScanDesc scan, TIDBitmap *tbm);
extern void omenendscan(IndexScanDesc scan);
extern void omenmarkpos(IndexScanDesc scan);
extern void omenrestrpos(IndexScanDesc scan);
extern bool omen_cross_type_bounded(Oid keytype, Oid argtype);

/* omenvacuum.c */
extern IndexBulkDeleteResult *omenbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *omenvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

/* omenvalidate.c */
extern bool omenvalidate(Oid opclassoid);

#endif							/* OMEN_H */
