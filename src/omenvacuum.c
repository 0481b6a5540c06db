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
 * Emptied leaves stay in the chain (they keep their key range and take the
 * inserts that fall into it), so deleting everything and inserting the same
 * rows again reuses the same leaves.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "omen.h"

static void
vacuum_tree(Relation index, BlockNumber root, uint16 want, IndexBulkDeleteResult *stats,
			IndexBulkDeleteCallback callback, void *callback_state)
{
	BlockNumber blkno = root;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf;
		Page		page;
		int			n;
		int			i;
		int			keep = 0;
		int64	   *keys;
		int64	   *newkeys = NULL;
		ItemPointerData *newtids = NULL;
		BlockNumber next;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL);
		LockBufferForCleanup(buf);
		omen_check_page(index, buf, blkno, want);
		page = BufferGetPage(buf);
		n = OmenLeafNEntries(page);
		keys = OmenLeafKeys(page);
		next = OmenPageGetOpaque(page)->right;

		if (callback)
		{
			for (i = 0; i < n; i++)
			{
				if (callback(OmenLeafTid(page, i), callback_state))
				{
					if (newkeys == NULL)
					{
						newkeys = palloc(n * sizeof(int64));
						newtids = palloc(n * sizeof(ItemPointerData));
						omen_leaf_get_entries(page, 0, i, newkeys, newtids);
						keep = i;
					}
					stats->tuples_removed += 1;
				}
				else if (newkeys)
				{
					newkeys[keep] = keys[i];
					newtids[keep] = *OmenLeafTid(page, i);
					keep++;
				}
			}
		}
		if (newkeys)
		{
			GenericXLogState *state = GenericXLogStart(index);
			Page		wpage = GenericXLogRegisterBuffer(state, buf, 0);

			omen_leaf_set_entries(wpage, keep, newkeys, newtids);
			GenericXLogFinish(state);
			pfree(newkeys);
			pfree(newtids);
			n = keep;
		}
		stats->num_index_tuples += n;
		stats->num_pages += 1;
		UnlockReleaseBuffer(buf);
		blkno = next;
	}
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
 * record).  Holds the retrain lock, so no model is being written meanwhile.
 */
static int
blockno_cmp(const void *a, const void *b)
{
	BlockNumber x = *(const BlockNumber *) a;
	BlockNumber y = *(const BlockNumber *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static BlockNumber
recycle_pages(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	OmenMetaPageData meta;
	BlockNumber nblocks;
	BlockNumber blkno;
	BlockNumber nfree = 0;
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
	qsort(chain, nchain, sizeof(BlockNumber), blockno_cmp);

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
				isfree = bsearch(&blkno, chain, nchain, sizeof(BlockNumber), blockno_cmp) == NULL;
				if (isfree)
				{
					GenericXLogState *state = GenericXLogStart(index);

					omen_init_page(GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE),
								   OMEN_P_FREE);
					GenericXLogFinish(state);
				}
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
	stats->pages_free = nfree;
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
