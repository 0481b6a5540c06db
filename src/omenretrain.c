/*
 * omenretrain.c
 *	  Retraining: refit the model pieces whose leaves changed and publish
 *	  the new model copy-on-write.
 *
 * Every leaf split records the new leaf in the metapage's split log (see
 * omen.h), every unlink the leaf it frees, and a rebalance the leaf whose
 * low fence it lowered (where the log has room to spare).  A retrain reads
 * the logged leaves, and only them, merges their low fences into the
 * pieces they fall in, refits those pieces, writes them and a new root
 * into fresh model pages, and switches the metapage to the new root in one
 * WAL record.  Pieces that did not change are shared by the old and the
 * new model.  The cost grows with the number of changed leaves, not with
 * the index.  When the log lost a new or unlinked leaf (it overflowed),
 * the retrain walks every leaf instead.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "omen.h"

typedef struct NewLeaf
{
	int64		key;
	int64		tid;
	BlockNumber block;
} NewLeaf;

/* Pages a retrain replaces: freed once the new model is published. */
typedef struct OldPage
{
	BlockNumber block;
	uint64		version;
} OldPage;

typedef struct RetrainState
{
	Relation	index;
	uint64		version;
	OmenPieceDesc *descs[OMEN_NTREES];
	int			ndescs[OMEN_NTREES];
	int			cap[OMEN_NTREES];
	OldPage    *old;
	int			nold;
	int			oldcap;
	uint64		leaves_read;
	const BlockNumber *removed; /* logged blocks, sorted (the consumed list) */
	int			nremoved;
} RetrainState;

/* ---------------------------------------------------------------------
 * The split log
 * ---------------------------------------------------------------------
 */

static bool
log_bits_empty(const OmenMetaPageData *meta)
{
	int			i;

	for (i = 0; i < OMEN_LOG_BYTES; i++)
		if (meta->log_bits[i] != 0)
			return false;
	return true;
}

/*
 * Record a leaf the model lists wrongly or not at all: a new leaf (a
 * split) or one unlinked for reuse -- these the log must hold, or the next
 * retrain must walk every leaf -- or a leaf whose low fence went down (a
 * rebalance, or an unlink that gave it its emptied left neighbour's
 * range).  Those are 'optional': the model's entry for such a leaf is
 * above its fence, which costs a lookup a step right, never a wrong
 * answer, so they are logged only where the log has room to spare (its
 * window, or the first quarter of its short list) and never move the
 * window, which stays where new leaves come.  The caller has checked that
 * the block is not in the log yet.  Returns whether the leaf is now in the
 * log (or, for a required one, counted as lost).  Called with
 * the metapage registered in the WAL record of the change, so the change
 * and its log entry are one atomic change.
 */
static bool
log_leaf(OmenMetaPage meta, BlockNumber blkno, bool optional)
{
	if (blkno >= meta->log_base && blkno - meta->log_base < OMEN_LOG_BLOCKS)
	{
		uint32		bit = blkno - meta->log_base;

		meta->log_bits[bit / 8] |= (uint8) (1 << (bit % 8));
		return true;
	}
	if (!optional && log_bits_empty(meta))
	{
		/*
		 * An empty window moves to the new leaf, so that it also covers the
		 * blocks below it: new leaves come from the end of the relation and
		 * from pages VACUUM freed anywhere in it.
		 */
		meta->log_base = blkno < OMEN_LOG_BLOCKS / 2 ? 0 : (blkno - OMEN_LOG_BLOCKS / 2) & ~7;
		return log_leaf(meta, blkno, false);
	}
	if (meta->log_nextra < (optional ? OMEN_LOG_EXTRA / 4 : OMEN_LOG_EXTRA))
	{
		meta->log_extra[meta->log_nextra++] = blkno;
		return true;
	}
	if (optional)
		return false;
	meta->log_dropped++;
	meta->log_lost = 1;
	return true;
}

/*
 * Log a leaf the model must hear of (log_leaf; 'optional' for a lowered
 * fence) in the metapage, and count it in the drift if this adds it to the
 * log; leaf_delta is the change in the number of leaves.  The caller holds
 * the metapage exclusively locked and is in the critical section of the
 * change; the metapage's changed bytes, if any, go into xl, the change's
 * WAL record.  Returns whether the model now wants a retrain.
 */
bool
omen_meta_log_leaf(OmenXLog *xl, Buffer metabuf, BlockNumber blkno, int leaf_delta, bool optional)
{
	Page		metapage = BufferGetPage(metabuf);
	OmenMetaPage meta = OmenPageGetMeta(metapage);
	char		before[OMEN_META_LOG_CONTROL_END];
	bool		added;

	Assert(CritSectionCount > 0);
	memcpy(before, meta, sizeof(before));
	meta->leaf_pages += leaf_delta;
	/* a block in the log already (a leaf unlinked, then reused at once) stays once */
	added = !omen_log_contains(meta, blkno) && log_leaf(meta, blkno, optional);
	if (added)
		meta->splits_total++;
	if (added || leaf_delta != 0)
	{
		omen_xlog_diff(xl, metabuf, before, (char *) meta - (char *) metapage, sizeof(before));
		if (blkno >= meta->log_base && blkno - meta->log_base < OMEN_LOG_BLOCKS)
			omen_xlog_range(xl, metabuf, (char *) &meta->log_bits[(blkno - meta->log_base) / 8] - (char *) metapage, 1);
	}
	return omen_meta_wants_retrain(meta);
}

/*
 * Is the block in the log?  Such a leaf is not unlinked until a retrain
 * has consumed its entry: the retrain may be reading it as a leaf right
 * now, and a second entry for it would be cleared with the first.
 */
bool
omen_log_contains(const OmenMetaPageData *meta, BlockNumber blkno)
{
	uint32		i;

	if (blkno >= meta->log_base && blkno - meta->log_base < OMEN_LOG_BLOCKS &&
		(meta->log_bits[(blkno - meta->log_base) / 8] & (1 << ((blkno - meta->log_base) % 8))))
		return true;
	for (i = 0; i < meta->log_nextra; i++)
		if (meta->log_extra[i] == blkno)
			return true;
	return false;
}

/* Entries in the log. */
static uint32
log_count(const OmenMetaPageData *meta)
{
	uint32		n = meta->log_nextra;
	int			i;

	for (i = 0; i < OMEN_LOG_BYTES; i += 8)
	{
		uint64		w;

		memcpy(&w, meta->log_bits + i, sizeof(w));
		n += pg_popcount64(w);
	}
	return n;
}

/*
 * The drift of the model: splits it does not account for, per leaf.  Each
 * such split adds a leaf a probe may have to walk over, so this estimates
 * the extra leaf reads of a random equality probe.
 */
double
omen_meta_drift(const OmenMetaPageData *meta)
{
	uint64		since = meta->splits_total - meta->splits_at_retrain;

	if (meta->leaf_pages == 0)
		return 0;
	return (double) since / (double) meta->leaf_pages;
}

/*
 * Whether the model needs a refit: its drift reached omen.retrain_threshold,
 * or the log is filling up or lost a leaf.
 */
bool
omen_meta_wants_retrain(const OmenMetaPageData *meta)
{
	return omen_meta_drift(meta) >= omen_retrain_threshold || meta->log_lost ||
		meta->log_nextra >= OMEN_LOG_EXTRA / 2 ||
		meta->splits_total - meta->splits_at_retrain >= OMEN_LOG_BLOCKS / 4;
}

/* ---------------------------------------------------------------------
 * Locks
 * ---------------------------------------------------------------------
 */

/*
 * Retrains (and VACUUM's page recycling, which must not free the pages of a
 * model being written) are serialized by a heavyweight lock on the
 * metapage's page number; readers and writers never take it.
 */
void
omen_lock_retrain(Relation index)
{
	LockPage(index, OMEN_METAPAGE_BLKNO, ExclusiveLock);
}

void
omen_unlock_retrain(Relation index)
{
	UnlockPage(index, OMEN_METAPAGE_BLKNO, ExclusiveLock);
}

/* ---------------------------------------------------------------------
 * Reading leaves
 * ---------------------------------------------------------------------
 */

/*
 * Walk a tree's leaf chain from its leftmost leaf and list every leaf's low
 * fence and block.  Only share locks, one page at a time.
 */
void
omen_collect_leaves(Relation index, BlockNumber root, uint16 want, OmenLeafList *list)
{
	BlockNumber blkno = root;
	BlockNumber prev = InvalidBlockNumber;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = omen_read_page(index, blkno, BUFFER_LOCK_SHARE, want);
		OmenPageOpaque opaque = OmenPageGetOpaque(BufferGetPage(buf));

		if (list->n > 0 &&
			omen_pos_cmp(list->keys[list->n - 1], list->tids[list->n - 1],
						 opaque->low.key, opaque->low.tid) >= 0)
			omen_corrupt(index, blkno, "low fence does not increase after block %u", prev);
		if (list->n == 0 && (opaque->low.key != OMEN_POS_MIN_KEY || opaque->low.tid != OMEN_TID_MIN))
			omen_corrupt(index, blkno, "leftmost leaf has a finite low fence");
		omen_leaflist_add(list, opaque->low.key, opaque->low.tid, blkno);
		prev = blkno;
		blkno = opaque->right;
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}
}

static int
newleaf_cmp(const void *a, const void *b)
{
	const NewLeaf *x = (const NewLeaf *) a;
	const NewLeaf *y = (const NewLeaf *) b;

	return omen_pos_cmp(x->key, x->tid, y->key, y->tid);
}

/*
 * Read the low fence of every logged leaf, per tree, sorted.  The blocks
 * read are returned in *consumed so the switch can clear them from the log.
 */
static void
read_logged_leaves(RetrainState *rs, const OmenMetaPageData *meta, NewLeaf **leaves, int *nleaves,
				   BlockNumber **consumed, int *nconsumed)
{
	int			cap = log_count(meta) + 1;
	int			t;
	int			i;

	*consumed = palloc(cap * sizeof(BlockNumber));
	*nconsumed = 0;
	for (i = 0; i < OMEN_LOG_BLOCKS; i++)
		if (meta->log_bits[i / 8] & (1 << (i % 8)))
			(*consumed)[(*nconsumed)++] = meta->log_base + i;
	for (i = 0; i < (int) meta->log_nextra; i++)
		(*consumed)[(*nconsumed)++] = meta->log_extra[i];
	/* each block once: a duplicate would be listed twice in the model */
	if (*nconsumed > 1)
	{
		int			j = 0;

		qsort(*consumed, *nconsumed, sizeof(BlockNumber), omen_blockno_cmp);
		for (i = 1; i < *nconsumed; i++)
			if ((*consumed)[i] != (*consumed)[j])
				(*consumed)[++j] = (*consumed)[i];
		*nconsumed = j + 1;
	}

	for (t = 0; t < OMEN_NTREES; t++)
	{
		leaves[t] = palloc(cap * sizeof(NewLeaf));
		nleaves[t] = 0;
	}
	/*
	 * Wherever the model lists a logged block, it lists it with a fence it
	 * may no longer have: the page was unlinked (free now, or a leaf
	 * elsewhere, maybe of the other tree), is new, or its low fence went
	 * down (a rebalance, or an unlink next to it).  Both trees' pieces
	 * drop every logged block, and it is added back where it is now if it
	 * is a leaf.
	 */
	rs->removed = *consumed;
	rs->nremoved = *nconsumed;
	for (i = 0; i < *nconsumed; i++)
	{
		BlockNumber blkno = (*consumed)[i];
		Buffer		buf = omen_read_page(rs->index, blkno, BUFFER_LOCK_SHARE, 0);
		OmenPageOpaque opaque = OmenPageGetOpaque(BufferGetPage(buf));

		t = (opaque->flags & OMEN_P_NULLS) ? OMEN_TREE_NULLS : OMEN_TREE_KEYS;
		if ((opaque->flags & OMEN_P_LEAF) && !(opaque->flags & OMEN_P_FREE))
		{
			leaves[t][nleaves[t]].key = opaque->low.key;
			leaves[t][nleaves[t]].tid = opaque->low.tid;
			leaves[t][nleaves[t]].block = blkno;
			nleaves[t]++;
		}
		UnlockReleaseBuffer(buf);
		rs->leaves_read++;
		CHECK_FOR_INTERRUPTS();
	}
	for (t = 0; t < OMEN_NTREES; t++)
		if (nleaves[t] > 1)
			qsort(leaves[t], nleaves[t], sizeof(NewLeaf), newleaf_cmp);
}

/* ---------------------------------------------------------------------
 * Writing pieces
 * ---------------------------------------------------------------------
 */

/* OmenPieceWriter: a new page through the buffer manager, WAL-logged. */
static void
write_piece_page(void *arg, Page image, OmenPieceDesc *desc)
{
	RetrainState *rs = (RetrainState *) arg;
	Buffer		buf = omen_new_page(rs->index);
	GenericXLogState *state = GenericXLogStart(rs->index);
	Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);

	memcpy(page, image, BLCKSZ);
	GenericXLogFinish(state);
	desc->block = BufferGetBlockNumber(buf);
	UnlockReleaseBuffer(buf);
}

static void
remember_old_page(RetrainState *rs, BlockNumber block, uint64 version)
{
	if (rs->nold == rs->oldcap)
	{
		rs->oldcap = rs->oldcap ? rs->oldcap * 2 : 64;
		rs->old = rs->old ? repalloc_huge(rs->old, rs->oldcap * sizeof(OldPage))
			: palloc(rs->oldcap * sizeof(OldPage));
	}
	rs->old[rs->nold].block = block;
	rs->old[rs->nold].version = version;
	rs->nold++;
}

static void
append_desc(RetrainState *rs, int t, const OmenPieceDesc *d)
{
	if (rs->ndescs[t] == rs->cap[t])
	{
		rs->cap[t] = rs->cap[t] ? rs->cap[t] * 2 : 64;
		rs->descs[t] = rs->descs[t] ? repalloc_huge(rs->descs[t], rs->cap[t] * sizeof(OmenPieceDesc))
			: palloc(rs->cap[t] * sizeof(OmenPieceDesc));
	}
	rs->descs[t][rs->ndescs[t]++] = *d;
}

/*
 * Refit one piece: drop the blocks the log names (a leaf unlinked for
 * reuse, wherever it went since), merge the logged leaves that fall in it
 * at their fences now, fit (splitting the piece if it grew too long) and
 * write.  The first piece always keeps its first leaf, the leftmost, which
 * is never unlinked; a later piece left with no leaf is dropped (its range
 * falls to the piece before).
 */
static void
refit_piece(RetrainState *rs, int t, uint32 p, const OmenPieceDesc *d, const NewLeaf *nl, int k,
			uint32 epsilon)
{
	Buffer		buf = omen_read_page(rs->index, d->block, BUFFER_LOCK_SHARE, 0);
	char	   *data = palloc(omen_piece_size(d->nsegments, d->nleaves));
	OmenPiece	pc;
	int			cap = d->nleaves + k;
	int64	   *keys = palloc(cap * sizeof(int64));
	int64	   *tids = palloc(cap * sizeof(int64));
	BlockNumber *blocks = palloc(cap * sizeof(BlockNumber));
	int			n = 0;
	uint32		i = 0;
	int			j = 0;
	bool		changed = k > 0;

	omen_piece_from_page(rs->index, d->block, BufferGetPage(buf), d, t, data, &pc);
	UnlockReleaseBuffer(buf);
	if (pc.nleaves == 0)
		omen_corrupt(rs->index, d->block, "model page is not piece %u of tree %d it should be", p, t);

	while (i < pc.nleaves || j < k)
	{
		int			c;

		if (i < pc.nleaves && rs->nremoved > 0 &&
			bsearch(&pc.blocks[i], rs->removed, rs->nremoved, sizeof(BlockNumber), omen_blockno_cmp))
		{
			i++;				/* logged: listed again below if still a leaf */
			changed = true;
			continue;
		}

		if (i == pc.nleaves)
			c = 1;
		else if (j == k)
			c = -1;
		else
			c = omen_pos_cmp(pc.keys[i], pc.tids[i], nl[j].key, nl[j].tid);
		if (c == 0)
		{
			/*
			 * The listed leaf's low fence went down since it was listed
			 * (a rebalance the log had no room for, or one during the
			 * last retrain before relog_moved_leaves logged it), and a
			 * new leaf starts where it started: keep both, the listed
			 * one first, as in the chain.  Either is a correct place for
			 * a lookup to start.
			 */
			c = -1;
		}
		if (c < 0)
		{
			keys[n] = pc.keys[i];
			tids[n] = pc.tids[i];
			blocks[n] = pc.blocks[i];
			i++;
		}
		else
		{
			keys[n] = nl[j].key;
			tids[n] = nl[j].tid;
			blocks[n] = nl[j].block;
			j++;
		}
		n++;
	}
	if (!changed)
		append_desc(rs, t, d);	/* nothing new after all */
	else if (n == 0)
		remember_old_page(rs, d->block, d->written);	/* every leaf unlinked */
	else
	{
		omen_fit_pieces(t, keys, tids, blocks, n, p == 0, OMEN_PIECE_MAX_LEAVES, epsilon, rs->version,
						write_piece_page, rs, &rs->descs[t], &rs->ndescs[t], &rs->cap[t]);
		remember_old_page(rs, d->block, d->written);
	}
	pfree(data);
	pfree(keys);
	pfree(tids);
	pfree(blocks);
}

/*
 * The new pieces of one tree: the old ones, with those that gained leaves
 * refit.  A logged leaf left of a piece's first position belongs to the
 * previous piece; the first piece starts at minus infinity.
 */
static void
refit_tree(RetrainState *rs, int t, const OmenModelRootHeader *root, const NewLeaf *nl, int k,
		   uint32 epsilon)
{
	const OmenPieceDesc *d = OmenRootPieces(root, t);
	uint32		np = root->npieces[t];
	uint32		p;
	int			j = 0;

	for (p = 0; p < np; p++)
	{
		int			start = j;

		while (j < k && (p + 1 == np ||
						 omen_pos_cmp(nl[j].key, nl[j].tid, d[p + 1].first_key, d[p + 1].first_tid) < 0))
			j++;
		/* any piece may list a logged block: read them all */
		if (j == start && rs->nremoved == 0)
			append_desc(rs, t, &d[p]);
		else
			refit_piece(rs, t, p, &d[p], nl + start, j - start, epsilon);
	}
	if (j < k)
		omen_corrupt(rs->index, nl[j].block, "a logged leaf lies outside every model piece");
}

/* Every piece of the tree from a walk of all its leaves. */
static void
fit_tree_from_chain(RetrainState *rs, int t, BlockNumber root, uint32 epsilon)
{
	OmenLeafList list;

	MemSet(&list, 0, sizeof(list));
	omen_collect_leaves(rs->index, root, t == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF,
						&list);
	rs->leaves_read += list.n;
	omen_fit_pieces(t, list.keys, list.tids, list.blocks, list.n, true, OMEN_PIECE_FILL, epsilon,
					rs->version, write_piece_page, rs, &rs->descs[t], &rs->ndescs[t], &rs->cap[t]);
	omen_leaflist_free(&list);
}

/* ---------------------------------------------------------------------
 * Retraining
 * ---------------------------------------------------------------------
 */

/*
 * Start a full refit: empty the log under the metapage lock, so that splits
 * from now on are logged, and set log_lost until the refit is published
 * (a crash in between must not forget the leaves that were in the log).
 */
static void
reset_log(Relation index, uint64 *dropped)
{
	Buffer		metabuf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE, OMEN_P_META);
	GenericXLogState *state = GenericXLogStart(index);
	OmenMetaPage m = OmenPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));

	MemSet(m->log_bits, 0, OMEN_LOG_BYTES);
	m->log_nextra = 0;
	m->log_lost = 1;
	m->log_base = RelationGetNumberOfBlocks(index);
	*dropped = m->log_dropped;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(metabuf);
}

/*
 * After an incremental retrain is published: log again each leaf it read
 * whose low fence has gone down since.  A rebalance that lowered it after
 * the read found it in the log still and did not log it twice, and the
 * switch has cleared that entry, so the new model would list it above its
 * fence with nothing left to say so.  Each leaf is locked and released
 * before the metapage is locked, the usual order.
 */
static void
relog_moved_leaves(Relation index, NewLeaf *const *leaves, const int *nleaves)
{
	int			t;
	int			i;

	for (t = 0; t < OMEN_NTREES; t++)
	{
		uint16		want = t == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF;

		for (i = 0; i < nleaves[t]; i++)
		{
			const NewLeaf *nl = &leaves[t][i];
			Buffer		buf = omen_read_page(index, nl->block, BUFFER_LOCK_SHARE, 0);
			Page		page = BufferGetPage(buf);
			OmenPageOpaque opaque = OmenPageGetOpaque(page);
			bool		moved = omen_page_is_leaf(page, want) &&
				omen_pos_cmp(opaque->low.key, opaque->low.tid, nl->key, nl->tid) != 0;
			Buffer		metabuf;
			OmenXLog	xl;

			UnlockReleaseBuffer(buf);
			if (!moved)
				continue;
			metabuf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE, OMEN_P_META);
			omen_xlog_start(&xl, index);
			START_CRIT_SECTION();
			(void) omen_meta_log_leaf(&xl, metabuf, nl->block, 0, true);
			omen_xlog_finish(&xl);
			END_CRIT_SECTION();
			UnlockReleaseBuffer(metabuf);
			CHECK_FOR_INTERRUPTS();
		}
	}
}

/* Take the consumed entries out of the log and slide its window. */
static void
consume_log(OmenMetaPage m, const BlockNumber *consumed, int nconsumed)
{
	BlockNumber highest = 0;
	uint32		extra = 0;
	int			i;
	uint32		e;
	int			first = -1;

	for (i = 0; i < nconsumed; i++)
	{
		BlockNumber b = consumed[i];

		highest = Max(highest, b + 1);
		if (b >= m->log_base && b - m->log_base < OMEN_LOG_BLOCKS)
			m->log_bits[(b - m->log_base) / 8] &= (uint8) ~(1 << ((b - m->log_base) % 8));
	}
	/* extra entries that were not consumed stay */
	for (e = 0; e < m->log_nextra; e++)
	{
		bool		done = false;

		for (i = 0; i < nconsumed && !done; i++)
			done = consumed[i] == m->log_extra[e];
		if (!done)
			m->log_extra[extra++] = m->log_extra[e];
	}
	m->log_nextra = extra;

	for (i = 0; i < OMEN_LOG_BYTES && first < 0; i++)
		if (m->log_bits[i] != 0)
			first = i;
	if (first < 0)
		m->log_base = Max(m->log_base, highest - highest % 8);
	else if (first > 0)
	{
		memmove(m->log_bits, m->log_bits + first, OMEN_LOG_BYTES - first);
		MemSet(m->log_bits + OMEN_LOG_BYTES - first, 0, first);
		m->log_base += first * 8;
	}
}

/*
 * Refit the pieces whose leaves changed (all of them with 'full', or when
 * the log lost a leaf) and publish the new model: new pages first, then
 * one WAL-logged metapage update that switches to them, then the replaced
 * pages are freed.  A crash before the switch leaves the old model (the
 * new pages are reclaimed by VACUUM); after it, the new.  Readers never
 * wait: they keep using the model they cached.  Returns false when there
 * was nothing to do.
 */
bool
omen_retrain(Relation index, bool full)
{
	OmenMetaPageData *meta = palloc(sizeof(OmenMetaPageData));
	RetrainState rs;
	char	   *oldroot;
	char	   *root;
	Size		len;
	Size		oldlen;
	uint64		oldversion;
	uint64		dropped = 0;
	BlockNumber *consumed = NULL;
	int			nconsumed = 0;
	NewLeaf    *logged[OMEN_NTREES] = {NULL, NULL};
	int			nlogged[OMEN_NTREES] = {0, 0};
	uint32		npages;
	BlockNumber head;
	Buffer		metabuf;
	OmenMetaPage m;
	int			t;
	int			i;
	bool		published = false;

	omen_lock_retrain(index);
	omen_read_meta_full(index, meta);
	full = full || meta->log_lost;
	if (!full && meta->log_nextra == 0 && log_bits_empty(meta))
	{
		omen_unlock_retrain(index);
		pfree(meta);
		return false;
	}

	MemSet(&rs, 0, sizeof(rs));
	rs.index = index;
	rs.version = meta->model_version + 1;
	oldroot = omen_read_model_blob(index, &oldlen, &oldversion);
	if (oldversion != meta->model_version)
		elog(ERROR, "omen: model of index \"%s\" changed under the retrain lock",
			 RelationGetRelationName(index));

	if (full)
	{
		reset_log(index, &dropped);
		for (t = 0; t < OMEN_NTREES; t++)
		{
			const OmenPieceDesc *d = OmenRootPieces((OmenModelRootHeader *) oldroot, t);

			for (i = 0; i < (int) ((OmenModelRootHeader *) oldroot)->npieces[t]; i++)
				remember_old_page(&rs, d[i].block, d[i].written);
			fit_tree_from_chain(&rs, t, meta->root[t], meta->epsilon);
		}
	}
	else
	{
		read_logged_leaves(&rs, meta, logged, nlogged, &consumed, &nconsumed);
		for (t = 0; t < OMEN_NTREES; t++)
			refit_tree(&rs, t, (OmenModelRootHeader *) oldroot, logged[t], nlogged[t], meta->epsilon);
	}

	len = omen_model_root(rs.descs, rs.ndescs, meta->epsilon, rs.version, &root);
	head = omen_write_model_pages(index, root, len, rs.version, &npages);

	metabuf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE, OMEN_P_META);
	m = OmenPageGetMeta(BufferGetPage(metabuf));
	if (m->model_version != meta->model_version)
	{
		/* cannot happen while we hold the retrain lock; keep the old model */
		UnlockReleaseBuffer(metabuf);
		elog(ERROR, "omen: model of index \"%s\" was replaced during a retrain",
			 RelationGetRelationName(index));
	}
	else
	{
		GenericXLogState *state = GenericXLogStart(index);
		uint32		nsegs;
		uint32		max_error;
		double		mean_error;
		uint32		nleaves;

		m = OmenPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		omen_model_summary(root, &nsegs, &max_error, &mean_error, &nleaves);
		m->model_head = head;
		m->model_npages = npages;
		m->model_bytes = len;
		m->model_version = rs.version;
		m->model_segments = nsegs;
		m->model_pieces = rs.ndescs[0] + rs.ndescs[1];
		m->model_leaves = nleaves;
		m->max_error = max_error;
		m->mean_error = mean_error;
		if (full)
		{
			/* everything up to the reset is in; the log holds what came after */
			if (m->log_dropped == dropped)
				m->log_lost = 0;
		}
		else
			consume_log(m, consumed, nconsumed);
		m->splits_at_retrain = m->splits_total - log_count(m);
		m->retrains++;
		m->last_retrain = GetCurrentTimestamp();
		m->last_retrain_leaves = rs.leaves_read;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuf);
		published = true;

		omen_free_model_chain(index, meta->model_head, meta->model_version);
		for (i = 0; i < rs.nold; i++)
			omen_free_model_page(index, rs.old[i].block, rs.old[i].version);
		IndexFreeSpaceMapVacuum(index);

		/*
		 * Other backends drop their cached model when this transaction's
		 * invalidation reaches them (or sooner, after a long walk); this
		 * backend switches at its next lookup, even within the statement.
		 */
		CacheInvalidateRelcache(index);
		if (index->rd_amcache)
			((OmenModelCache *) index->rd_amcache)->stale = true;
		if (!full)
			relog_moved_leaves(index, logged, nlogged);
	}
	omen_unlock_retrain(index);

	pfree(root);
	pfree(oldroot);
	pfree(meta);
	if (consumed)
		pfree(consumed);
	for (t = 0; t < OMEN_NTREES; t++)
	{
		if (logged[t])
			pfree(logged[t]);
		if (rs.descs[t])
			pfree(rs.descs[t]);
	}
	if (rs.old)
		pfree(rs.old);
	return published;
}
