/*
 * omenvacuum.c
 *	  VACUUM: remove dead heap TIDs from the leaves, then recycle free pages
 *	  and refit the model if leaves split since the last fit.
 *
 * Bulk delete walks each tree's leaf chain left to right.  Splits only move
 * entries to a new right sibling, which the walk reaches after the page it
 * came from, so no entry escapes.  Each leaf is taken with a cleanup lock
 * (exclusive lock, no other pin): an index scan keeps its pin on the leaf
 * whose TIDs it is returning, so VACUUM cannot remove, and the heap cannot
 * recycle, a TID a scan is about to visit.
 *
 * Emptied leaves stay in the chain: they keep their key range and take
 * the inserts that fall into it, so deleting rows and inserting the same
 * keys again reuses them in place.  VACUUM also records them in the free
 * space map: a split that needs a page elsewhere takes one, unlinking it
 * from its chain (omen_new_page), so the space is reused whatever keys
 * come back.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "omen.h"

/*
 * Remove the dead entries of one locked leaf.  The survivors are written
 * back sorted, in the smallest encoding that holds them (so VACUUM also
 * merges the pending area), or, if that does not fit the page, with the
 * entries the leaf's fields cannot hold pending as they were (far entries:
 * omen_leaf_choose_enc_near).  Survivors of a RUNS leaf that no longer fit
 * it (see omen_split_leaf_entries) are split over it and a new right
 * sibling, which the caller's walk then skips; *want_retrain is set if
 * that split asks for a retrain.  Returns how many entries the leaf and
 * that sibling keep.
 */
static int
vacuum_leaf(Relation index, Buffer buf, IndexBulkDeleteResult *stats,
			IndexBulkDeleteCallback callback, void *callback_state,
			int64 *keys, int64 *tids, bool *want_retrain)
{
	Page		page = BufferGetPage(buf);
	int			n = omen_leaf_entries(page, keys, tids);
	int			keep = 0;
	int			i;
	OmenLeafEnc enc;
	OmenXLog	xl;

	for (i = 0; i < n; i++)
	{
		ItemPointerData tid;

		omen_tid_decode(tids[i], &tid);
		if (callback(&tid, callback_state))
			stats->tuples_removed += 1;
		else
		{
			keys[keep] = keys[i];
			tids[keep] = tids[i];
			keep++;
		}
	}
	if (keep == n)
		return n;

	omen_leaf_choose_enc(keys, tids, keep, &enc);
	if (!omen_leaf_fits(&enc))
	{
		OmenLeafEnc ref;

		/* far entries kept pending take what they took before */
		omen_leaf_get_enc(page, &ref);
		if (!omen_leaf_choose_enc_near(keys, tids, keep, &ref, &enc) || !omen_leaf_fits(&enc))
		{
			*want_retrain |= omen_split_leaf_entries(index, buf, keys, tids, keep);
			return keep;
		}
	}
	omen_xlog_start(&xl, index);
	START_CRIT_SECTION();
	omen_leaf_write(page, &enc, keep, keys, tids);
	omen_xlog_leaf(&xl, buf, 0, OMEN_XLOG_HEADER);
	omen_xlog_finish(&xl);
	END_CRIT_SECTION();
	return keep;
}

static void
vacuum_tree(Relation index, BlockNumber root, uint16 want, IndexBulkDeleteResult *stats,
			IndexBulkDeleteCallback callback, void *callback_state)
{
	BlockNumber blkno = root;
	int64	   *keys = palloc(OMEN_LEAF_MAX_ENTRIES * sizeof(int64));
	int64	   *tids = palloc(OMEN_LEAF_MAX_ENTRIES * sizeof(int64));
	bool		want_retrain = false;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf;
		Page		page;
		int			n;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL);
		LockBufferForCleanup(buf);
		omen_check_page(index, buf, blkno, want);
		page = BufferGetPage(buf);
		blkno = OmenPageGetOpaque(page)->right;
		if (callback)
			n = vacuum_leaf(index, buf, stats, callback, callback_state, keys, tids, &want_retrain);
		else
			n = OmenLeafNEntries(page);
		UnlockReleaseBuffer(buf);
		stats->num_index_tuples += n;
		stats->num_pages += 1;
	}
	pfree(keys);
	pfree(tids);
	if (want_retrain)
		omen_request_retrain(index);
}

IndexBulkDeleteResult *
omenbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	OmenMetaPageData meta;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	/* each pass recounts what it sees */
	stats->num_index_tuples = 0;
	stats->num_pages = 0;

	omen_read_meta(index, &meta);
	vacuum_tree(index, meta.root[OMEN_TREE_KEYS], OMEN_P_LEAF, stats, callback, callback_state);
	vacuum_tree(index, meta.root[OMEN_TREE_NULLS], OMEN_P_LEAF | OMEN_P_NULLS, stats, callback, callback_state);
	return stats;
}

/*
 * Give every free or orphaned page to the FSM: pages marked free, model
 * pages that are not in the current model (its root chain and pieces) (a retrain that crashed
 * before its switch, or before freeing the old chain, leaves such pages)
 * and pages never initialized (an extension that crashed before its WAL
 * record); and empty leaves, which stay linked until a split takes one.
 * Holds the retrain lock, so no model is being written meanwhile.
 */
static BlockNumber
recycle_pages(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	OmenMetaPageData meta;
	BlockNumber nblocks;
	BlockNumber blkno;
	BlockNumber nfree = 0;
	BlockNumber nempty = 0;
	BlockNumber *chain;
	uint32		nchain = 0;
	bool		needlock = !RELATION_IS_LOCAL(index);

	omen_lock_retrain(index);
	omen_read_meta(index, &meta);
	{
		Size		len;
		uint64		version;
		char	   *root = omen_read_model_blob(index, &len, &version);
		OmenModelRootHeader *hdr = (OmenModelRootHeader *) root;
		int			t;
		uint32		i;

		chain = palloc((meta.model_npages + hdr->npieces[0] + hdr->npieces[1] + 1) * sizeof(BlockNumber));
		for (blkno = meta.model_head; blkno != InvalidBlockNumber && nchain < meta.model_npages;)
		{
			Buffer		buf = omen_read_page(index, blkno, BUFFER_LOCK_SHARE, OMEN_P_MODEL);

			chain[nchain++] = blkno;
			blkno = OmenPageGetOpaque(BufferGetPage(buf))->right;
			UnlockReleaseBuffer(buf);
		}
		for (t = 0; t < OMEN_NTREES; t++)
			for (i = 0; i < hdr->npieces[t]; i++)
				chain[nchain++] = OmenRootPieces(hdr, t)[i].block;
		pfree(root);
	}
	qsort(chain, nchain, sizeof(BlockNumber), omen_blockno_cmp);

	if (needlock)
		LockRelationForExtension(index, ExclusiveLock);
	nblocks = RelationGetNumberOfBlocks(index);
	if (needlock)
		UnlockRelationForExtension(index, ExclusiveLock);

	for (blkno = OMEN_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		bool		isfree = false;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageIsNew(page))
			isfree = true;
		else
		{
			OmenPageOpaque opaque;

			omen_check_page(index, buf, blkno, 0);
			opaque = OmenPageGetOpaque(page);
			if (opaque->flags & OMEN_P_FREE)
				isfree = true;
			else if (opaque->flags & OMEN_P_MODEL)
			{
				isfree = bsearch(&blkno, chain, nchain, sizeof(BlockNumber), omen_blockno_cmp) == NULL;
				if (isfree)
				{
					GenericXLogState *state = GenericXLogStart(index);

					omen_init_page(GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE),
								   OMEN_P_FREE);
					GenericXLogFinish(state);
				}
			}
			else if ((opaque->flags & OMEN_P_LEAF) && OmenLeafNEntries(page) == 0 &&
					 opaque->left != InvalidBlockNumber && opaque->right != InvalidBlockNumber)
			{
				/* an empty leaf: a split elsewhere may unlink and reuse it */
				RecordFreeIndexPage(index, blkno);
				nempty++;
			}
		}
		UnlockReleaseBuffer(buf);
		if (isfree)
		{
			RecordFreeIndexPage(index, blkno);
			nfree++;
		}
	}
	omen_unlock_retrain(index);
	pfree(chain);
	IndexFreeSpaceMapVacuum(index);
	stats->pages_free = nfree + nempty;
	stats->pages_deleted = nfree;	/* free pages are the only "deleted" ones */
	return nblocks;
}

IndexBulkDeleteResult *
omenvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;

	if (info->analyze_only)
		return stats;

	if (stats == NULL)
	{
		/* no bulk delete ran: count the entries ourselves */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		omenbulkdelete(info, stats, NULL, NULL);
	}

	/* refit the model if leaves split since the last fit */
	omen_retrain(index, false);
	stats->num_pages = recycle_pages(info, stats);
	stats->estimated_count = false;
	return stats;
}
