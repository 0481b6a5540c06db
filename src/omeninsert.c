/*
 * omeninsert.c
 *	  Inserts go in place: the model finds the leaf and the entry goes into
 *	  it; a full leaf splits B-link style.
 *
 * Into a leaf with room, an insert is one of (cheapest first):
 *
 * - an append to the sorted entries, when the entry follows every entry of
 *   a leaf with nothing pending (ascending keys);
 * - an append to the pending area, where a far entry (one the sorted
 *   entries' fields cannot store) waits too, stored whole, in a leaf
 *   flagged OMEN_P_WIDE_PENDING;
 * - a merge of the full pending area and the entry into the sorted
 *   entries, rewriting them from the first one that moves; up to
 *   OMEN_PENDING_FAR_MAX far entries stay pending (merge_keeping_far);
 *   in a RUNS leaf, rewriting only the runs of keys with new entries
 *   (merge_runs);
 * - a rewrite of the whole leaf with wider fields, when more entries are
 *   far (in a format-4 leaf: any), or when a RUNS leaf's merge does not
 *   fit its encoding or page (and a full PLAIN leaf of duplicates
 *   becomes a RUNS leaf this way instead of splitting).
 *
 * Each is one WAL record holding the bytes that changed (omenxlog.c).  A
 * leaf without room gives its upper entries to its right sibling if that
 * is at most half full (rebalance_right), else splits (in the middle, or
 * where the halves' bytes balance); the split carries the entry, unless
 * widening the encoding for it would overflow a half (a leaf of tightly
 * packed entries meeting a far key or TID): then the leaf splits without
 * it and the insert starts over.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/rel.h"

#include "omen.h"

/* What an insert into one leaf did. */
typedef struct LeafInsertResult
{
	bool		retry;			/* the leaf split without the entry */
	bool		want_retrain;	/* a split or rebalance left the model drifted */
	BlockNumber append_leaf;	/* leaf whose last entry is the new one, or
								 * InvalidBlockNumber */
} LeafInsertResult;

/*
 * All entries of a locked leaf in position order, with (key, tid) inserted
 * where it belongs (at *newpos).  Returns the count.
 */
static int
gather_entries(Page page, int64 key, int64 tid, int64 *keys, int64 *tids, int *newpos)
{
	int			n = omen_leaf_entries(page, keys, tids);
	int			lo = 0;
	int			hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (omen_pos_cmp(keys[mid], tids[mid], key, tid) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(keys + lo + 1, keys + lo, (n - lo) * sizeof(int64));
	memmove(tids + lo + 1, tids + lo, (n - lo) * sizeof(int64));
	keys[lo] = key;
	tids[lo] = tid;
	*newpos = lo;
	return n + 1;
}

/*
 * Do n entries fit a page in their own encoding, or, failing that, with
 * the entries the leaf's fields (ref) cannot hold kept pending?  The
 * second keeps every entry a half of a leaf takes at most what it took in
 * the leaf, so a split of a leaf's entries always fits, far entries and
 * all.
 */
static bool
half_fits(const int64 *keys, const int64 *tids, int n, const OmenLeafEnc *ref, OmenLeafEnc *enc)
{
	omen_leaf_choose_enc(keys, tids, n, enc);
	if (omen_leaf_fits(enc))
		return true;
	return omen_leaf_choose_enc_near(keys, tids, n, ref, enc) && omen_leaf_fits(enc);
}

/* Do entries [0, s) and [s, total) each fit a page (half_fits)? */
static bool
split_fits(const int64 *keys, const int64 *tids, int total, int s, const OmenLeafEnc *ref,
		   OmenLeafEnc *lenc, OmenLeafEnc *renc)
{
	return half_fits(keys, tids, s, ref, lenc) &&
		half_fits(keys + s, tids + s, total - s, ref, renc);
}

/*
 * The middle of the entries, moved (up to 1/8 of them) to the nearest
 * boundary between distinct keys if there is one, so that the separator
 * needs no TID and an equality probe for its key lands on the right leaf
 * directly.
 */
static int
middle_split(const int64 *keys, int total)
{
	int			s = total / 2;
	int			window = total / 8;
	int			d;

	for (d = 0; d <= window; d++)
	{
		if (s + d < total && s + d >= 1 && keys[s + d - 1] != keys[s + d])
			return s + d;
		if (s - d >= 1 && s - d < total && keys[s - d - 1] != keys[s - d])
			return s - d;
	}
	return Max(s, 1);
}

/*
 * The split point that divides the entries' bytes most evenly, or -1 if
 * neither half fits there either.  In a RUNS leaf entries cost very
 * different amounts (rows in heap order almost nothing, a far TID a run
 * of its own), and the middle by count can leave one half too big.  A
 * prefix's bytes grow with it and a suffix's shrink, so bisect for the
 * first s where the left takes at least what the right does.
 */
static int
balanced_split(const int64 *keys, const int64 *tids, int total, const OmenLeafEnc *ref,
			   OmenLeafEnc *lenc, OmenLeafEnc *renc)
{
	int			lo = 1;
	int			hi = total - 1;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		omen_leaf_choose_enc(keys, tids, mid, lenc);
		omen_leaf_choose_enc(keys + mid, tids + mid, total - mid, renc);
		if (lenc->bytes < renc->bytes)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (split_fits(keys, tids, total, lo, ref, lenc, renc))
		return lo;
	if (lo > 1 && split_fits(keys, tids, total, lo - 1, ref, lenc, renc))
		return lo - 1;
	return -1;
}

/*
 * The middle split, or failing that the balanced one (-1 if neither
 * fits): for entries that do not include a new one.
 */
static int
split_anywhere(const int64 *keys, const int64 *tids, int total, const OmenLeafEnc *ref,
			   OmenLeafEnc *lenc, OmenLeafEnc *renc)
{
	int			s;

	if (total < 2)
		return -1;
	s = middle_split(keys, total);
	if (split_fits(keys, tids, total, s, ref, lenc, renc))
		return s;
	return balanced_split(keys, tids, total, ref, lenc, renc);
}

/*
 * The split point that leaves the entries [0, s) at fillfactor: for an
 * entry that goes after every entry of its leaf.
 */
static int
append_split(const int64 *keys, const int64 *tids, int total, int fillfactor)
{
	OmenLeafEnc old;
	int			s;

	/* as many entries as fill the target at the old entries' average size */
	omen_leaf_choose_enc(keys, tids, total - 1, &old);
	s = (int) ((int64) omen_leaf_fill_bytes(fillfactor) * (total - 1) / Max(old.bytes, 1));
	return Min(Max(s, 1), total - 1);
}

/*
 * Where entries [0, total) split: entries [0, s) stay left.  An entry that
 * goes after every entry of its leaf leaves the left leaf at fillfactor,
 * as nbtree does at the right end of the tree: ascending keys (bigserial,
 * timestamps) and ascending heap TIDs within a run of equal keys (rows
 * inserted in key order) then pack leaves densely instead of leaving each
 * half full.  Otherwise the middle.  Returns -1 if no split point lets both
 * halves fit.
 */
static int
choose_split(const int64 *keys, const int64 *tids, int total, int newpos,
			 int fillfactor, const OmenLeafEnc *ref, OmenLeafEnc *lenc, OmenLeafEnc *renc)
{
	int			s;

	if (newpos == total - 1)
	{
		s = append_split(keys, tids, total, fillfactor);
		if (split_fits(keys, tids, total, s, ref, lenc, renc))
			return s;
	}
	s = middle_split(keys, total);
	if (split_fits(keys, tids, total, s, ref, lenc, renc))
		return s;

	/*
	 * The new entry widened the fields so much that a half holding it and
	 * half the old entries does not fit: put the split beside it, so the
	 * old entries on its far side keep their narrow fields.
	 */
	if (newpos > 0 && split_fits(keys, tids, total, newpos, ref, lenc, renc))
		return newpos;
	if (newpos + 1 < total && split_fits(keys, tids, total, newpos + 1, ref, lenc, renc))
		return newpos + 1;
	return balanced_split(keys, tids, total, ref, lenc, renc);
}

/*
 * Split the locked leaf into itself and a new right sibling, the entries
 * [0, s) staying left.  The old right sibling's left link and the
 * metapage (counters and the split log) change in the same WAL record:
 * left, new right, old right, metapage.  Lock order is left to right, then
 * the metapage, as everywhere else.
 */
static BlockNumber
split_leaf(Relation index, Buffer buf, const int64 *keys, const int64 *tids, int total, int s,
		   const OmenLeafEnc *lenc, const OmenLeafEnc *renc, bool *want_retrain)
{
	Page		page = BufferGetPage(buf);
	OmenPageOpaque lop = OmenPageGetOpaque(page);
	uint16		kind = lop->flags & (OMEN_P_LEAF | OMEN_P_NULLS);
	BlockNumber oldright = lop->right;
	OmenPos		sep;
	Buffer		rbuf;
	Buffer		sibbuf = InvalidBuffer;
	Buffer		metabuf;
	BlockNumber rblkno;
	Page		rpage;
	OmenPageOpaque rop;
	OmenXLog	xl;

	sep.key = keys[s];
	sep.tid = keys[s - 1] != keys[s] ? OMEN_TID_MIN : tids[s];

	rbuf = omen_new_page(index);
	rblkno = BufferGetBlockNumber(rbuf);
	if (oldright != InvalidBlockNumber)
		sibbuf = omen_read_page(index, oldright, BUFFER_LOCK_EXCLUSIVE, kind);
	metabuf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE, OMEN_P_META);

	omen_xlog_start(&xl, index);
	START_CRIT_SECTION();

	rpage = BufferGetPage(rbuf);
	/* the new leaf stores pending entries as the index's other leaves do */
	omen_init_page(rpage, kind | (lop->flags & OMEN_P_WIDE_PENDING));
	rop = OmenPageGetOpaque(rpage);
	rop->low = sep;
	rop->high = lop->high;
	rop->left = BufferGetBlockNumber(buf);
	rop->right = oldright;
	omen_leaf_write(rpage, renc, total - s, keys + s, tids + s);
	omen_xlog_full(&xl, rbuf);

	lop->high = sep;
	lop->right = rblkno;
	omen_leaf_write(page, lenc, s, keys, tids);
	omen_xlog_leaf(&xl, buf, 0, OMEN_XLOG_HEADER | OMEN_XLOG_SPECIAL);

	if (BufferIsValid(sibbuf))
	{
		OmenPageOpaque sop = OmenPageGetOpaque(BufferGetPage(sibbuf));

		sop->left = rblkno;
		omen_xlog_range(&xl, sibbuf, (char *) &sop->left - (char *) BufferGetPage(sibbuf),
						sizeof(BlockNumber));
	}

	*want_retrain = omen_meta_log_leaf(&xl, metabuf, rblkno, 1, false);

	omen_xlog_finish(&xl);
	END_CRIT_SECTION();

	UnlockReleaseBuffer(metabuf);
	if (BufferIsValid(sibbuf))
		UnlockReleaseBuffer(sibbuf);
	UnlockReleaseBuffer(rbuf);
	return rblkno;
}

/*
 * Split the locked leaf, whose entries are now [0, n), in the middle (or
 * where the bytes balance).  For an insert that splits a leaf without its
 * new entry, and for VACUUM: the survivors of a RUNS leaf can need more
 * room than the leaf had, because a removed TID merges two gaps of its
 * run and the run may then need wider gap fields.  Returns whether the
 * split left the model drifted.
 */
bool
omen_split_leaf_entries(Relation index, Buffer buf, const int64 *keys, const int64 *tids, int n)
{
	OmenLeafEnc ref;
	OmenLeafEnc lenc;
	OmenLeafEnc renc;
	int			s;
	bool		want_retrain = false;

	omen_leaf_get_enc(BufferGetPage(buf), &ref);
	s = split_anywhere(keys, tids, n, &ref, &lenc, &renc);

	if (s < 0)
		elog(ERROR, "omen: leaf %u of index \"%s\" cannot be split",
			 BufferGetBlockNumber(buf), RelationGetRelationName(index));
	split_leaf(index, buf, keys, tids, n, s, &lenc, &renc, &want_retrain);
	return want_retrain;
}

/*
 * A full leaf whose right sibling is at most half full gives its upper
 * entries to that sibling instead of splitting: the boundary between the
 * two moves left, lowering the sibling's low fence.  Low fences only ever
 * go down (a split lowers the left leaf's high fence and the new leaf's
 * low fence starts there), so every model directory entry stays at or
 * above its leaf's low fence and a lookup still lands at or left of its
 * target.  This is how leaves emptied by VACUUM fill up again when the
 * rows come back in another order (a run of equal keys is divided among
 * leaves by heap TID): without it the crowded leaves would split while
 * their empty neighbours stayed empty.
 *
 * A lowered fence is one the model does not know: the sibling goes into
 * the split log (where the log has room for it: see log_leaf) and counts
 * toward the drift, as a split's new leaf does, so that a retrain reads
 * its fence again.  Without that, the directory
 * entries of leaves that keep giving entries to the right fall ever
 * further behind their fences, and a lookup there walks right over
 * leaves the directory places too high (an index grown by 10M random
 * inserts had probes reading 10 and 37 leaves, with a drift of 0).
 *
 * The entries [0, total) are the left leaf's with the new one; returns
 * true if they were divided with the right sibling (both pages and the
 * metapage then locked and logged in one record), false if the sibling
 * has no room.
 */
static bool
rebalance_right(Relation index, Buffer buf, const int64 *keys, const int64 *tids, int total,
				int newpos, BlockNumber *append_leaf, bool *want_retrain)
{
	Page		page = BufferGetPage(buf);
	OmenPageOpaque lop = OmenPageGetOpaque(page);
	uint16		kind = lop->flags & (OMEN_P_LEAF | OMEN_P_NULLS);
	Buffer		rbuf;
	Buffer		metabuf;
	Page		rpage;
	OmenPageOpaque rop;
	int			nr;
	int			s;
	int			moved;
	int64	   *rkeys;
	int64	   *rtids;
	OmenLeafEnc lenc;
	OmenLeafEnc renc;
	OmenPos		sep;
	OmenXLog	xl;

	if (lop->right == InvalidBlockNumber)
		return false;
	rbuf = omen_read_page(index, lop->right, BUFFER_LOCK_EXCLUSIVE, kind);
	rpage = BufferGetPage(rbuf);
	rop = OmenPageGetOpaque(rpage);
	nr = OmenLeafNEntries(rpage);
	if (omen_leaf_used_bytes(rpage) > (int) OMEN_LEAF_SPACE / 2)
	{
		UnlockReleaseBuffer(rbuf);
		return false;
	}

	/* the moved entries, then the sibling's own */
	s = newpos == total - 1 ? append_split(keys, tids, total, omen_reloption_fillfactor(index))
		: middle_split(keys, total);
	moved = total - s;
	rkeys = palloc((moved + nr) * sizeof(int64));
	rtids = palloc((moved + nr) * sizeof(int64));
	memcpy(rkeys, keys + s, moved * sizeof(int64));
	memcpy(rtids, tids + s, moved * sizeof(int64));
	omen_leaf_entries(rpage, rkeys + moved, rtids + moved);
	omen_leaf_choose_enc(keys, tids, s, &lenc);
	omen_leaf_choose_enc(rkeys, rtids, moved + nr, &renc);
	if (!omen_leaf_fits(&lenc) || !omen_leaf_fits(&renc))
	{
		pfree(rkeys);
		pfree(rtids);
		UnlockReleaseBuffer(rbuf);
		return false;
	}
	sep.key = keys[s];
	sep.tid = keys[s - 1] != keys[s] ? OMEN_TID_MIN : tids[s];
	Assert(omen_pos_cmp(sep.key, sep.tid, rop->low.key, rop->low.tid) < 0);
	metabuf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE, OMEN_P_META);

	omen_xlog_start(&xl, index);
	START_CRIT_SECTION();
	omen_leaf_write(page, &lenc, s, keys, tids);
	lop->high = sep;
	omen_xlog_leaf(&xl, buf, 0, OMEN_XLOG_HEADER | OMEN_XLOG_SPECIAL);
	omen_leaf_write(rpage, &renc, moved + nr, rkeys, rtids);
	rop->low = sep;
	omen_xlog_leaf(&xl, rbuf, 0, OMEN_XLOG_HEADER | OMEN_XLOG_SPECIAL);
	*want_retrain = omen_meta_log_leaf(&xl, metabuf, BufferGetBlockNumber(rbuf), 0, true);
	omen_xlog_finish(&xl);
	END_CRIT_SECTION();

	*append_leaf = InvalidBlockNumber;
	if (newpos == s - 1)
		*append_leaf = BufferGetBlockNumber(buf);
	UnlockReleaseBuffer(metabuf);
	UnlockReleaseBuffer(rbuf);
	pfree(rkeys);
	pfree(rtids);
	return true;
}

/* Append the entry beside the hole: sorted, or pending. */
static void
leaf_append(Relation index, Buffer buf, int64 key, int64 tid, bool sorted)
{
	START_CRIT_SECTION();
	omen_leaf_append(BufferGetPage(buf), key, tid, sorted);
	omen_xlog_append(index, buf, sorted);
	END_CRIT_SECTION();
}

/*
 * Rewrite the leaf with all its entries sorted: in its own encoding from
 * entry 'from' on (a merge), or, if enc is given, whole in that encoding.
 */
static void
leaf_rewrite(Relation index, Buffer buf, const OmenLeafEnc *enc, int from,
			 const int64 *keys, const int64 *tids, int total)
{
	Page		page = BufferGetPage(buf);
	OmenXLog	xl;

	omen_xlog_start(&xl, index);
	START_CRIT_SECTION();
	if (enc)
		omen_leaf_write(page, enc, total, keys, tids);
	else
		omen_leaf_write_from(page, from, total, keys, tids);
	omen_xlog_leaf(&xl, buf, enc ? 0 : from, OMEN_XLOG_HEADER);
	omen_xlog_finish(&xl);
	END_CRIT_SECTION();
}

/*
 * The first sorted entry a merge of the pending entries and (key, tid)
 * moves: the sorted position of the least of them that the leaf's
 * encoding holds (far ones stay pending: merge_keeping_far), or the end
 * of the sorted entries if it holds none.
 */
static int
merge_start(const OmenLeaf *lf, const OmenLeafEnc *enc, int64 key, int64 tid)
{
	bool		found = omen_leaf_enc_holds(enc, key, tid);
	int64		mk = key;
	int64		mt = tid;
	int			i;

	for (i = 0; i < lf->n - lf->nsorted; i++)
	{
		int64		k = omen_leaf_pending_key(lf, i);
		int64		t = omen_leaf_pending_tid(lf, i);

		if (omen_leaf_enc_holds(enc, k, t) && (!found || omen_pos_cmp(k, t, mk, mt) < 0))
		{
			mk = k;
			mt = t;
			found = true;
		}
	}
	return found ? omen_leaf_lower_bound(lf, mk, mt) : lf->nsorted;
}

/*
 * Write a merge of the full pending area that leaves the far entries
 * pending: the entries the leaf's fields hold go into the sorted entries,
 * rewritten from entry 'from' (merge_start), and the nfar others stay
 * pending, whole.  One WAL record, as a merge.
 */
static void
merge_keeping_far(Relation index, Buffer buf, const OmenLeafEnc *enc, int from,
				  const int64 *keys, const int64 *tids, int total, int nfar)
{
	Page		page = BufferGetPage(buf);
	int64	   *hkeys = palloc(total * sizeof(int64));
	int64	   *htids = palloc(total * sizeof(int64));
	int64	   *fkeys = palloc(Max(nfar, 1) * sizeof(int64));
	int64	   *ftids = palloc(Max(nfar, 1) * sizeof(int64));
	int			nheld;
	int			i;
	OmenXLog	xl;

	nheld = omen_leaf_divide_far(enc->key_base, enc->key_width, enc->tid_base, enc->tid_width,
								 keys, tids, total, hkeys, htids, fkeys, ftids);
	Assert(total - nheld == nfar && from <= OmenLeafGetHeader(page)->nsorted);

	omen_xlog_start(&xl, index);
	START_CRIT_SECTION();
	omen_leaf_write_from(page, from, nheld, hkeys, htids);
	for (i = 0; i < nfar; i++)
		omen_leaf_append(page, fkeys[i], ftids[i], false);
	omen_xlog_leaf(&xl, buf, from, OMEN_XLOG_HEADER);
	omen_xlog_finish(&xl);
	END_CRIT_SECTION();
	pfree(hkeys);
	pfree(htids);
	pfree(fkeys);
	pfree(ftids);
}

/*
 * Merge a RUNS leaf's full pending area and the new entry into its runs,
 * rewriting only the runs of keys with new entries (omen_leaf_merge_runs).
 * False, leaf untouched, if that cannot be done in the leaf's encoding and
 * page.  One WAL record with the runs, as a rewrite.
 */
static bool
merge_runs(Relation index, Buffer buf, int64 key, int64 tid)
{
	OmenRunsMerge *m = palloc(sizeof(OmenRunsMerge));
	bool		merged = omen_leaf_merge_runs(BufferGetPage(buf), key, tid, m);

	if (merged)
	{
		OmenXLog	xl;

		omen_xlog_start(&xl, index);
		START_CRIT_SECTION();
		omen_leaf_put_runs(BufferGetPage(buf), m);
		omen_xlog_leaf(&xl, buf, 0, OMEN_XLOG_HEADER);
		omen_xlog_finish(&xl);
		END_CRIT_SECTION();
	}
	pfree(m);
	return merged;
}

/*
 * Insert (key, tid) into the exclusively locked leaf that holds its
 * position.  The caller keeps the lock on buf (the left half, after a
 * split) and releases it.
 */
static LeafInsertResult
insert_into_leaf(Relation index, Buffer buf, int64 key, int64 tid)
{
	LeafInsertResult result = {false, false, InvalidBlockNumber};
	Page		page = BufferGetPage(buf);
	PageHeader	ph = (PageHeader) page;
	OmenLeaf	lf;
	OmenLeafEnc enc;
	int64	   *keys;
	int64	   *tids;
	int			total;
	int			newpos;
	int			nfar;
	int			s;
	bool		holds;
	bool		appends;
	bool		fits;
	OmenLeafEnc lenc;
	OmenLeafEnc renc;

	omen_leaf_open(page, &lf);
	omen_leaf_get_enc(page, &enc);
	holds = omen_leaf_enc_holds(&enc, key, tid);
	appends = omen_leaf_extends_sorted(page, key, tid, &fits);

	if (lf.n < OMEN_LEAF_MAX_ENTRIES)
	{
		if (appends && fits)
		{
			leaf_append(index, buf, key, tid, true);
			result.append_leaf = BufferGetBlockNumber(buf);
			return result;
		}

		/*
		 * Pending, if there is room.  An entry the fields cannot hold
		 * waits there too (whole), unless it extends the sorted entries:
		 * an ascending key past the fields' range widens them at once, as
		 * the next appends would have to.
		 */
		if (lf.n - lf.nsorted < OMEN_PENDING_MAX &&
			ph->pd_upper - ph->pd_lower >= lf.pkey_width + lf.ptid_width &&
			(holds || (!appends && omen_leaf_wide_pending(page))))
		{
			leaf_append(index, buf, key, tid, false);
			return result;
		}
	}

	/*
	 * Everything else decodes the sorted entries: a RUNS leaf's whole run
	 * directory is checked first (the lookup checked it as a scan does).
	 */
	if (lf.format == OMEN_LEAF_RUNS)
	{
		omen_check_page(index, buf, BufferGetBlockNumber(buf), 0);
		if (merge_runs(index, buf, key, tid))
			return result;
	}

	/* the rest rewrites entries: all of them, and the new one */
	keys = palloc((lf.n + 1) * sizeof(int64));
	tids = palloc((lf.n + 1) * sizeof(int64));
	total = gather_entries(page, key, tid, keys, tids, &newpos);
	nfar = lf.format != OMEN_LEAF_PLAIN ? 0 :
		total - omen_leaf_divide_far(enc.key_base, enc.key_width, enc.tid_base, enc.tid_width,
									 keys, tids, total, NULL, NULL, NULL, NULL);

	if (lf.format == OMEN_LEAF_PLAIN && nfar == 0 &&
		omen_leaf_plain_bytes(&enc, total) <= (int) OMEN_LEAF_SPACE)
	{
		/* a merge of the full pending area */
		leaf_rewrite(index, buf, NULL, merge_start(&lf, &enc, key, tid), keys, tids, total);
		if (newpos == total - 1)
			result.append_leaf = BufferGetBlockNumber(buf);
	}
	else if (lf.format == OMEN_LEAF_PLAIN && nfar <= OMEN_PENDING_FAR_MAX && !appends &&
			 omen_leaf_wide_pending(page) &&
			 omen_leaf_plain_bytes(&enc, total - nfar) +
			 nfar * (OMEN_PENDING_KEY_WIDTH + OMEN_PENDING_TID_WIDTH) <= (int) OMEN_LEAF_SPACE)
	{
		/*
		 * A few far entries (late rows among rows in heap order): merge
		 * the rest, and keep them pending rather than widening every
		 * entry of the leaf, which would split it.
		 */
		merge_keeping_far(index, buf, &enc, merge_start(&lf, &enc, key, tid), keys, tids, total,
						  nfar);
	}
	else
	{
		OmenLeafEnc wide;

		omen_leaf_choose_enc(keys, tids, total, &wide);
		if (omen_leaf_fits(&wide))
		{
			leaf_rewrite(index, buf, &wide, 0, keys, tids, total);
			if (newpos == total - 1)
				result.append_leaf = BufferGetBlockNumber(buf);
		}
		else if (rebalance_right(index, buf, keys, tids, total, newpos, &result.append_leaf,
								 &result.want_retrain))
			;
		else if ((s = choose_split(keys, tids, total, newpos, omen_reloption_fillfactor(index),
								   &enc, &lenc, &renc)) > 0)
		{
			BlockNumber rblkno = split_leaf(index, buf, keys, tids, total, s, &lenc, &renc,
											&result.want_retrain);

			if (newpos == total - 1)
				result.append_leaf = rblkno;
			else if (newpos == s - 1)
				result.append_leaf = BufferGetBlockNumber(buf);
		}
		else
		{
			/*
			 * The entry needs fields so wide that neither half would fit:
			 * split the old entries and start over.  A half of them fits:
			 * the entries the leaf's fields hold in at most those widths,
			 * the far ones pending as they were (half_fits); a RUNS
			 * leaf's old entries took at most a page plus its pending
			 * area, and a far TID costs a run of its own, not wider gaps
			 * (run_takes_gap), so halves by bytes fit.
			 */
			int			n = total - 1;

			memmove(keys + newpos, keys + newpos + 1, (n - newpos) * sizeof(int64));
			memmove(tids + newpos, tids + newpos + 1, (n - newpos) * sizeof(int64));
			result.want_retrain = omen_split_leaf_entries(index, buf, keys, tids, n);
			result.retry = true;
		}
	}
	pfree(keys);
	pfree(tids);
	return result;
}

/*
 * The fast path for appends (as nbtree's for the rightmost leaf): if the
 * last insert of this backend went to the end of a leaf, try that leaf
 * first.  It is used only if the new entry again goes to its end; a busy
 * leaf is not waited for.  When the entry can simply be stored there
 * (most appends), it is, and *done is set; otherwise the locked leaf is
 * returned for insert_into_leaf (a rewrite or a split).
 */
static Buffer
try_append_hint(Relation index, OmenModelCache *model, int tree, int64 key, int64 tid, uint16 want,
				bool *done)
{
	BlockNumber hint = model->insert_hint[tree];
	Buffer		buf;
	Page		page;
	bool		fits;

	*done = false;
	if (hint == InvalidBlockNumber)
		return InvalidBuffer;
	buf = omen_pin_recent(index, hint, &model->insert_hint_buf[tree]);
	if (!ConditionalLockBuffer(buf))
	{
		ReleaseBuffer(buf);
		return InvalidBuffer;
	}
	/* only a PLAIN leaf is appended to here: no run is decoded */
	omen_check_scan_leaf(index, buf, hint, want);
	page = BufferGetPage(buf);
	if (omen_pos_in_leaf(page, key, tid) && omen_leaf_extends_sorted(page, key, tid, &fits))
	{
		if (fits)
		{
			leaf_append(index, buf, key, tid, true);
			*done = true;
		}
		return buf;
	}
	UnlockReleaseBuffer(buf);
	return InvalidBuffer;
}

bool
omeninsert(Relation index, Datum *values, bool *isnull, ItemPointer ht_ctid,
		   Relation heapRel, IndexUniqueCheck checkUnique,
		   bool indexUnchanged, IndexInfo *indexInfo)
{
	int			tree = isnull[0] ? OMEN_TREE_NULLS : OMEN_TREE_KEYS;
	uint16		want = isnull[0] ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF;
	int64		tid = omen_tid_encode(ht_ctid);
	int64		key;
	bool		want_retrain = false;

	if (isnull[0])
		key = tid;
	else
		key = omen_datum_to_key(values[0], TupleDescAttr(RelationGetDescr(index), 0)->atttypid);

	for (;;)
	{
		OmenModelCache *model = omen_get_model(index);
		bool		done;
		Buffer		buf = try_append_hint(index, model, tree, key, tid, want, &done);
		LeafInsertResult r;

		if (done)
		{
			/* stored at the end of the hinted leaf, which stays the hint */
			UnlockReleaseBuffer(buf);
			break;
		}
		if (!BufferIsValid(buf))
		{
			buf = omen_find_leaf(index, tree, key, tid, BUFFER_LOCK_EXCLUSIVE, want);
			model = (OmenModelCache *) index->rd_amcache;	/* may have been reloaded */
		}
		r = insert_into_leaf(index, buf, key, tid);
		model->insert_hint[tree] = r.append_leaf;
		/* a split may have put the new entry in the new right leaf */
		model->insert_hint_buf[tree] = r.append_leaf == BufferGetBlockNumber(buf) ? buf : InvalidBuffer;
		UnlockReleaseBuffer(buf);
		want_retrain |= r.want_retrain;
		if (!r.retry)
			break;
		CHECK_FOR_INTERRUPTS();
	}

	/* after the locks are gone: ask the background worker for a refit */
	if (want_retrain)
		omen_request_retrain(index);
	return false;
}
