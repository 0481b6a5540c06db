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
 * right, then the metapage, as everywhere else.  The new leaf is entered
 * in the metapage's split log in the same record.
 */
typedef struct SplitResult
{
	BlockNumber append_leaf;	/* leaf whose last entry is the new one, or
								 * InvalidBlockNumber */
	bool		want_retrain;
} SplitResult;

static SplitResult
split_leaf(Relation index, Buffer buf, int pos, int64 key, ItemPointer tid)
{
	SplitResult result;
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
	omen_leaf_get_entries(page, 0, pos, keys, tids);
	keys[pos] = key;
	tids[pos] = *tid;
	omen_leaf_get_entries(page, pos, n - pos, keys + pos + 1, tids + pos + 1);

	s = choose_split(keys, total, pos, oldright == InvalidBlockNumber,
					 omen_reloption_fillfactor(index));
	sep.key = keys[s];
	sep.tid = keys[s - 1] != keys[s] ? OMEN_TID_MIN : omen_tid_encode(&tids[s]);

	rbuf = omen_new_leaf_page(index);
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
	omen_log_new_leaf(meta, rblkno);
	result.want_retrain = omen_meta_wants_retrain(meta);
	GenericXLogFinish(state);

	/* the new entry is last in its leaf: an append, remembered as a hint */
	if (pos == total - 1)
		result.append_leaf = rblkno;
	else if (pos == s - 1)
		result.append_leaf = BufferGetBlockNumber(buf);
	else
		result.append_leaf = InvalidBlockNumber;

	UnlockReleaseBuffer(metabuf);
	if (BufferIsValid(sibbuf))
		UnlockReleaseBuffer(sibbuf);
	UnlockReleaseBuffer(rbuf);
	pfree(keys);
	pfree(tids);
	return result;
}

/*
 * The fast path for appends (as nbtree's for the rightmost leaf): if the
 * last insert of this backend went to the end of a leaf, try that leaf
 * first.  It is used only if the new entry again goes to its end; a busy
 * leaf is not waited for.
 */
static Buffer
try_append_hint(Relation index, OmenModelCache *model, int tree, int64 key, int64 tid, uint16 want)
{
	BlockNumber hint = model->insert_hint[tree];
	Buffer		buf;
	Page		page;
	int			n;

	if (hint == InvalidBlockNumber)
		return InvalidBuffer;
	buf = ReadBuffer(index, hint);
	if (!ConditionalLockBuffer(buf))
	{
		ReleaseBuffer(buf);
		return InvalidBuffer;
	}
	omen_check_page(index, buf, hint, want);
	page = BufferGetPage(buf);
	n = OmenLeafNEntries(page);
	if (omen_pos_in_leaf(page, key, tid) &&
		(n == 0 || omen_pos_cmp(OmenLeafKeys(page)[n - 1], omen_tid_encode(OmenLeafTid(page, n - 1)),
								key, tid) < 0))
		return buf;
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
	int64		tidenc = omen_tid_encode(ht_ctid);
	int64		key;
	Buffer		buf;
	Page		page;
	int			pos;
	OmenModelCache *model;
	SplitResult split = {InvalidBlockNumber, false};

	if (isnull[0])
		key = tidenc;
	else
		key = omen_datum_to_key(values[0], TupleDescAttr(RelationGetDescr(index), 0)->atttypid);

	model = omen_get_model(index);
	buf = try_append_hint(index, model, tree, key, tidenc, want);
	if (!BufferIsValid(buf))
	{
		buf = omen_find_leaf(index, tree, key, tidenc, BUFFER_LOCK_EXCLUSIVE, want);
		model = (OmenModelCache *) index->rd_amcache;	/* may have been reloaded */
	}
	page = BufferGetPage(buf);
	pos = omen_leaf_lower_bound(page, key, tidenc);

	if (omen_leaf_has_room(page))
	{
		GenericXLogState *state = GenericXLogStart(index);
		bool		append = (pos == OmenLeafNEntries(page));

		page = GenericXLogRegisterBuffer(state, buf, 0);
		omen_leaf_insert_at(page, pos, key, ht_ctid);
		GenericXLogFinish(state);
		model->insert_hint[tree] = append ? BufferGetBlockNumber(buf) : InvalidBlockNumber;
	}
	else
	{
		split = split_leaf(index, buf, pos, key, ht_ctid);
		model->insert_hint[tree] = split.append_leaf;
	}
	UnlockReleaseBuffer(buf);

	/* after the locks are gone: ask the background worker for a refit */
	if (split.want_retrain)
		omen_request_retrain(index);
	return false;
}
