/*
 * omenpage.c
 *	  Page layout, page checks, page allocation and the metapage.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "omen.h"

/*
 * Report a corrupt page: the ERROR names the index and the block, so a DBA
 * knows what to REINDEX, and the server goes on running.
 */
void
omen_corrupt(Relation index, BlockNumber blkno, const char *fmt,...)
{
	char		buf[256];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);

	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" contains corrupted page at block %u",
					RelationGetRelationName(index), blkno),
			 errdetail_internal("%s", buf),
			 errhint("Please REINDEX it.")));
}

void
omen_init_page(Page page, uint16 flags)
{
	OmenPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(OmenPageOpaqueData));
	opaque = OmenPageGetOpaque(page);
	opaque->left = InvalidBlockNumber;
	opaque->right = InvalidBlockNumber;
	opaque->low.key = OMEN_POS_MIN_KEY;
	opaque->low.tid = OMEN_TID_MIN;
	opaque->high.key = OMEN_POS_MAX_KEY;
	opaque->high.tid = OMEN_TID_MAX;
	opaque->version = 0;
	opaque->flags = flags;
	opaque->page_id = OMEN_PAGE_ID;
}

#define OMEN_P_KIND_MASK (OMEN_P_META | OMEN_P_LEAF | OMEN_P_NULLS | OMEN_P_MODEL | OMEN_P_FREE)

/*
 * Check that a page is an omen page of the wanted kind and that its layout
 * is self-consistent.  'want' is the exact set of kind flags, or 0 to accept
 * any omen page.
 */
void
omen_check_page(Relation index, Buffer buf, BlockNumber blkno, uint16 want)
{
	Page		page = BufferGetPage(buf);
	OmenPageOpaque opaque;

	if (PageIsNew(page))
		omen_corrupt(index, blkno, "unexpected all-zero page");
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(OmenPageOpaqueData)))
		omen_corrupt(index, blkno, "special space has size %d, expected %d",
					 (int) PageGetSpecialSize(page),
					 (int) MAXALIGN(sizeof(OmenPageOpaqueData)));
	opaque = OmenPageGetOpaque(page);
	if (opaque->page_id != OMEN_PAGE_ID)
		omen_corrupt(index, blkno, "page identifier is 0x%04X, expected 0x%04X",
					 opaque->page_id, OMEN_PAGE_ID);
	if (want != 0 && (opaque->flags & OMEN_P_KIND_MASK) != want)
		omen_corrupt(index, blkno, "page kind is 0x%04X, expected 0x%04X",
					 opaque->flags & OMEN_P_KIND_MASK, want);
	if (opaque->flags & OMEN_P_LEAF)
	{
		char		why[160];

		if (!omen_leaf_check_layout(page, why, sizeof(why)))
			omen_corrupt(index, blkno, "%s", why);
	}
}

void
omen_check_metapage(Relation index, Page page)
{
	OmenMetaPage meta = OmenPageGetMeta(page);

	if (meta->magic != OMEN_MAGIC)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "metapage magic is 0x%08X, expected 0x%08X",
					 meta->magic, OMEN_MAGIC);
	if (meta->format_version != OMEN_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has on-disk format version %u at block %u, expected %u",
						RelationGetRelationName(index), meta->format_version,
						OMEN_METAPAGE_BLKNO, OMEN_FORMAT_VERSION),
				 errhint("REINDEX it with this version of omen_index.")));
}

/*
 * Read, lock (mode 0 means pin only) and check a page.
 */
Buffer
omen_read_page(Relation index, BlockNumber blkno, int mode, uint16 want)
{
	Buffer		buf;

	if (blkno == InvalidBlockNumber)
		elog(ERROR, "omen: invalid block number in index \"%s\"",
			 RelationGetRelationName(index));
	buf = ReadBuffer(index, blkno);
	if (mode != 0)
		LockBuffer(buf, mode);
	omen_check_page(index, buf, blkno, want);
	if (want & OMEN_P_META)
		omen_check_metapage(index, BufferGetPage(buf));
	return buf;
}

/*
 * Get an exclusively locked page to initialize: a recycled one from the FSM
 * if possible, else a new block at the end.  The caller initializes it with
 * GENERIC_XLOG_FULL_IMAGE.
 */
Buffer
omen_new_page(Relation index)
{
	Buffer		buf;

	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);

		if (blkno == InvalidBlockNumber)
			break;
		buf = ReadBuffer(index, blkno);

		/*
		 * Someone else may have taken the page from the FSM too; only a page
		 * still marked free (or never initialized) is ours.
		 */
		if (ConditionalLockBuffer(buf))
		{
			Page		page = BufferGetPage(buf);

			if (PageIsNew(page))
				return buf;
			if (PageGetSpecialSize(page) == MAXALIGN(sizeof(OmenPageOpaqueData)) &&
				OmenPageGetOpaque(page)->page_id == OMEN_PAGE_ID &&
				(OmenPageGetOpaque(page)->flags & OMEN_P_FREE))
				return buf;
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buf);
	}

	return omen_new_leaf_page(index);
}

/*
 * A new block at the end, exclusively locked.  Leaves are always allocated
 * this way, never from the FSM, so that a new leaf's block number is above
 * every block that existed before it: the split log (omen.h) relies on it.
 */
Buffer
omen_new_leaf_page(Relation index)
{
	Buffer		buf;
	bool		needlock;

	needlock = !RELATION_IS_LOCAL(index);
	if (needlock)
		LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (needlock)
		UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

void
omen_fill_meta(Page page, Relation index, uint32 epsilon, uint32 fillfactor)
{
	OmenMetaPage meta;

	omen_init_page(page, OMEN_P_META);
	meta = OmenPageGetMeta(page);
	MemSet(meta, 0, sizeof(OmenMetaPageData));
	meta->magic = OMEN_MAGIC;
	meta->format_version = OMEN_FORMAT_VERSION;
	meta->epsilon = epsilon;
	meta->fillfactor = fillfactor;
	meta->keytype = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
	meta->root[OMEN_TREE_KEYS] = InvalidBlockNumber;
	meta->root[OMEN_TREE_NULLS] = InvalidBlockNumber;
	meta->model_head = InvalidBlockNumber;
	StaticAssertStmt(MAXALIGN(SizeOfPageHeaderData) + sizeof(OmenMetaPageData) <=
					 BLCKSZ - MAXALIGN(sizeof(OmenPageOpaqueData)),
					 "the metapage data must fit in a page");
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(OmenMetaPageData)) - (char *) page;
}

void
omen_read_meta(Relation index, OmenMetaPageData *out)
{
	Buffer		buf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_SHARE, OMEN_P_META);

	memcpy(out, OmenPageGetMeta(BufferGetPage(buf)), OMEN_META_HEADER_SIZE);
	UnlockReleaseBuffer(buf);
}

/* The whole metapage, split log included. */
void
omen_read_meta_full(Relation index, OmenMetaPageData *out)
{
	Buffer		buf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_SHARE, OMEN_P_META);

	memcpy(out, OmenPageGetMeta(BufferGetPage(buf)), sizeof(OmenMetaPageData));
	UnlockReleaseBuffer(buf);
}

/* ---------------------------------------------------------------------
 * Leaf entries
 * ---------------------------------------------------------------------
 */

/* Does the leaf's key range [low, high) contain the position? */
bool
omen_pos_in_leaf(Page page, int64 key, int64 tid)
{
	OmenPageOpaque opaque = OmenPageGetOpaque(page);

	return omen_pos_cmp(key, tid, opaque->low.key, opaque->low.tid) >= 0 &&
		(opaque->right == InvalidBlockNumber ||
		 omen_pos_cmp(key, tid, opaque->high.key, opaque->high.tid) < 0);
}

/* ---------------------------------------------------------------------
 * Lists of leaves (directory input for a model fit)
 * ---------------------------------------------------------------------
 */
void
omen_leaflist_add(OmenLeafList *list, int64 key, int64 tid, BlockNumber blkno)
{
	if (list->n == list->cap)
	{
		list->cap = list->cap ? list->cap * 2 : 256;
		if (list->keys)
		{
			list->keys = repalloc_huge(list->keys, list->cap * sizeof(int64));
			list->tids = repalloc_huge(list->tids, list->cap * sizeof(int64));
			list->blocks = repalloc_huge(list->blocks, list->cap * sizeof(BlockNumber));
		}
		else
		{
			list->keys = palloc(list->cap * sizeof(int64));
			list->tids = palloc(list->cap * sizeof(int64));
			list->blocks = palloc(list->cap * sizeof(BlockNumber));
		}
	}
	list->keys[list->n] = key;
	list->tids[list->n] = tid;
	list->blocks[list->n] = blkno;
	list->n++;
}

void
omen_leaflist_free(OmenLeafList *list)
{
	if (list->keys)
	{
		pfree(list->keys);
		pfree(list->tids);
		pfree(list->blocks);
	}
	MemSet(list, 0, sizeof(OmenLeafList));
}
