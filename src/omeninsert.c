/*
 * omeninsert.c
 *	  Inserts go in place: the model finds the leaf, the entry goes into its
 *	  sorted position, and a full leaf splits B-link style.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "utils/rel.h"

#include "omen.h"

/*
 * Choose where a full leaf of n entries plus the new one (n + 1 in all)
 * splits: entries [0, s) stay left.  An append at the right end of the
 * tree leaves the left leaf at fillfactor, as nbtree does, so ascending
 * keys (bigserial, timestamps) pack leaves densely.  Otherwise split in the
 * middle, moved to the nearest boundary between distinct keys if one is
 * close, so the separator needs no TID and equality probes land exactly.
 */
static int
choose_split(const int64 *keys, int total, int newpos, bool rightmost, int fillfactor)
{
	int			s;
	int			d;
	int			window = total / 8;

	if (rightmost && newpos == total - 1)
	{
		s = omen_leaf_fill_target(fillfactor);
		return Min(Max(s, 1), total - 1);
	}
	s = total / 2;
	for (d = 0; d <= window; d++)
	{
		if (s + d < total && s + d >= 1 && keys[s + d - 1] != keys[s + d])
			return s + d;
		if (s - d >= 1 && s - d < total && keys[s - d - 1] != keys[s - d])
			return s - d;
	}
	return s;
}

/*
 * Split the locked leaf and insert (key, tid) at position pos.  The left
 * leaf keeps its block, its low fence and its left link; the new right
 * leaf takes the upper entries; the old right sibling's left link and the
 * metapage counters change in the same WAL record (GenericXLog allows four
 * pages: left, new right, old right, metapage).  Lock order is left to
 * right, then the metapage, as everywhere else.
 */
static void
split_leaf(Relation index, Buffer buf, int pos, int64 key, ItemPointer tid)
{
	Page		page = BufferGetPage(buf);
	OmenPageOpaque opaque = OmenPageGetOpaque(page);
	int			n = OmenLeafNEntries(page);
	int			total = n + 1;
	int64	   *keys = palloc(total * sizeof(int64));
	ItemPointerData *tids = palloc(total * sizeof(ItemPointerData));
	int			s;
	OmenPos		sep;
	Buffer		rbuf;
	Buffer		sibbuf = InvalidBuffer;
	Buffer		metabuf;
	BlockNumber rblkno;
	BlockNumber oldright = opaque->right;
	GenericXLogState *state;
	Page		lpage;
	Page		rpage;
	OmenPageOpaque lop;
	OmenPageOpaque rop;
	OmenMetaPage meta;

	/* the combined, sorted entries */
	memcpy(keys, OmenLeafKeys(page), pos * sizeof(int64));
	memcpy(tids, OmenLeafTids(page), pos * sizeof(ItemPointerData));
	keys[pos] = key;
	tids[pos] = *tid;
	memcpy(keys + pos + 1, OmenLeafKeys(page) + pos, (n - pos) * sizeof(int64));
	memcpy(tids + pos + 1, OmenLeafTids(page) + pos, (n - pos) * sizeof(ItemPointerData));

	s = choose_split(keys, total, pos, oldright == InvalidBlockNumber,
					 omen_reloption_fillfactor(index));
	sep.key = keys[s];
	sep.tid = keys[s - 1] != keys[s] ? OMEN_TID_MIN : omen_tid_encode(&tids[s]);

	rbuf = omen_new_page(index);
	rblkno = BufferGetBlockNumber(rbuf);
	if (oldright != InvalidBlockNumber)
		sibbuf = omen_read_page(index, oldright, BUFFER_LOCK_EXCLUSIVE, opaque->flags & (OMEN_P_LEAF | OMEN_P_NULLS));
	metabuf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE, OMEN_P_META);

	state = GenericXLogStart(index);
	lpage = GenericXLogRegisterBuffer(state, buf, 0);
	rpage = GenericXLogRegisterBuffer(state, rbuf, GENERIC_XLOG_FULL_IMAGE);

	omen_init_page(rpage, opaque->flags & (OMEN_P_LEAF | OMEN_P_NULLS));
	rop = OmenPageGetOpaque(rpage);
	lop = OmenPageGetOpaque(lpage);
	rop->low = sep;
	rop->high = lop->high;
	rop->left = BufferGetBlockNumber(buf);
	rop->right = oldright;
	omen_leaf_set_entries(rpage, total - s, keys + s, tids + s);

	lop->high = sep;
	lop->right = rblkno;
	omen_leaf_set_entries(lpage, s, keys, tids);

	if (BufferIsValid(sibbuf))
	{
		Page		spage = GenericXLogRegisterBuffer(state, sibbuf, 0);

		OmenPageGetOpaque(spage)->left = rblkno;
	}
	meta = OmenPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
	meta->leaf_pages++;
	meta->splits_total++;
	GenericXLogFinish(state);

	UnlockReleaseBuffer(metabuf);
	if (BufferIsValid(sibbuf))
		UnlockReleaseBuffer(sibbuf);
	UnlockReleaseBuffer(rbuf);
	pfree(keys);
	pfree(tids);
}

bool
omeninsert(Relation index, Datum *values, bool *isnull, ItemPointer ht_ctid,
		   Relation heapRel, IndexUniqueCheck checkUnique,
		   bool indexUnchanged, IndexInfo *indexInfo)
{
	int			tree = isnull[0] ? OMEN_TREE_NULLS : OMEN_TREE_KEYS;
	uint16		want = isnull[0] ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF;
	int64		tidenc = omen_tid_encode(ht_ctid);
	int64		key;
	Buffer		buf;
	Page		page;
	int			pos;

	if (isnull[0])
		key = tidenc;
	else
		key = omen_datum_to_key(values[0], TupleDescAttr(RelationGetDescr(index), 0)->atttypid);

	buf = omen_find_leaf(index, tree, key, tidenc, BUFFER_LOCK_EXCLUSIVE, want);
	page = BufferGetPage(buf);
	pos = omen_leaf_lower_bound(page, key, tidenc);

	if (omen_leaf_has_room(page))
	{
		GenericXLogState *state = GenericXLogStart(index);

		page = GenericXLogRegisterBuffer(state, buf, 0);
		omen_leaf_insert_at(page, pos, key, ht_ctid);
		GenericXLogFinish(state);
	}
	else
		split_leaf(index, buf, pos, key, ht_ctid);

	UnlockReleaseBuffer(buf);
	return false;
}
