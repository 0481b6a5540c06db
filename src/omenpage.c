/*
 * omenpage.c
 *	  Page layout, page checks, page allocation and the metapage.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/buf_internals.h"
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

/*
 * Check that a page is an omen page of the wanted kind and that its layout
 * is self-consistent.  'want' is the exact set of kind flags, or 0 to accept
 * any omen page.
 */
static void
check_page(Relation index, Buffer buf, BlockNumber blkno, uint16 want, bool whole_runs)
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

		if (!omen_leaf_check_layout(page, whole_runs, why, sizeof(why)))
			omen_corrupt(index, blkno, "%s", why);
	}
}

void
omen_check_page(Relation index, Buffer buf, BlockNumber blkno, uint16 want)
{
	check_page(index, buf, blkno, want, true);
}

/*
 * The check of a leaf a scan is about to read: all of it but a RUNS leaf's
 * run directory, which is O(runs) and of which a probe reads one or two.
 * The scan opens the leaf with omen_leaf_open_for_scan(), and each run it
 * decodes is checked then (run_reader_init), so no decode leaves the runs.
 * What this leaves unchecked (runs out of key order, a first run past
 * entry 0, run data not back to back) gives wrong answers but no access
 * outside the page, as damaged keys of a PLAIN leaf do; omen_index_check()
 * finds both.
 */
void
omen_check_scan_leaf(Relation index, Buffer buf, BlockNumber blkno, uint16 want)
{
	check_page(index, buf, blkno, want, false);
}

/*
 * Is the page a leaf of the wanted kind?  No ERROR: a page reached through
 * a link read before it was unlinked and recycled is not corrupt, just no
 * longer where the reader thought.
 *
 * On a probe this is the first read of the leaf, and both the header and
 * the special space are usually cache misses.  The special space is read
 * where it must be, not where pd_special says, so that the two loads do
 * not depend on each other and the CPU waits for both misses at once; the
 * header then says whether the page's special space is indeed there.
 */
bool
omen_page_is_leaf(Page page, uint16 want)
{
	PageHeader	ph = (PageHeader) page;
	OmenPageOpaque opaque = (OmenPageOpaque) ((char *) page + OMEN_SPECIAL_OFFSET);
	uint16		page_id = opaque->page_id;
	uint16		flags = opaque->flags;

	if (PageIsNew(page) || PageGetPageSize(page) != BLCKSZ ||
		ph->pd_special != OMEN_SPECIAL_OFFSET)
		return false;
	return page_id == OMEN_PAGE_ID && (flags & OMEN_P_KIND_MASK) == want;
}

void
omen_check_metapage(Relation index, Page page)
{
	OmenMetaPage meta = OmenPageGetMeta(page);

	if (meta->magic != OMEN_MAGIC)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "metapage magic is 0x%08X, expected 0x%08X",
					 meta->magic, OMEN_MAGIC);
	if (meta->format_version < OMEN_FORMAT_VERSION_MIN || meta->format_version > OMEN_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has on-disk format version %u at block %u, expected %u to %u",
						RelationGetRelationName(index), meta->format_version,
						OMEN_METAPAGE_BLKNO, OMEN_FORMAT_VERSION_MIN, OMEN_FORMAT_VERSION),
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
 * Pin a page, trying first the buffer that held it when this backend last
 * pinned it (*recent, InvalidBuffer if none), and remember the buffer
 * pinned in *recent.  A pin through ReadBuffer looks the block up in the
 * shared buffer mapping table under a partition lock; ReadRecentBuffer
 * only checks the remembered buffer's tag, which costs a fraction of that
 * (700 instructions of a 2,500-instruction probe went to ReadBuffer).  If
 * the page was evicted meanwhile the tag does not match and ReadBuffer
 * reads it.  Temporary indexes take the plain path: their buffers are
 * backend-local and cheap to look up already.
 *
 * ReadRecentBuffer pins without counting a use of the buffer, and the
 * clock sweep evicts buffers whose use count it has worn down to zero: a
 * hot leaf pinned only this way would be evicted as if it were cold.  So
 * it is used only while the buffer's count is at the maximum that
 * ReadBuffer's pins keep a hot page at (read without a lock: a stale
 * count only picks the other path); below that, ReadBuffer pins and counts
 * the use.  Without eviction pressure the sweep does not run and the count
 * stays at the maximum; under pressure each pass of the sweep over the
 * leaf costs one ReadBuffer, and leaves age as btree's pages do.
 */
Buffer
omen_pin_recent(Relation index, BlockNumber blkno, Buffer *recent)
{
	Buffer		buf = *recent;

	if (BufferIsValid(buf) && !RelationUsesLocalBuffers(index))
	{
		/*
		 * The page is most likely still in that buffer: start loading the
		 * lines a lookup reads first, the page and leaf headers and the
		 * special space, while the buffer's descriptor is read and pinned
		 * (a wrong guess costs two loads and no harm).
		 */
		omen_prefetch(BufferGetBlock(buf));
		omen_prefetch((char *) BufferGetBlock(buf) + OMEN_SPECIAL_OFFSET);
		if (BUF_STATE_GET_USAGECOUNT(pg_atomic_read_u32(&GetBufferDescriptor(buf - 1)->state)) >= BM_MAX_USAGE_COUNT &&
			ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, buf))
		{
			/* the statistics ReadBuffer would have kept */
			pgstat_count_buffer_read(index);
			pgstat_count_buffer_hit(index);
			return buf;
		}
	}
	buf = ReadBuffer(index, blkno);
	*recent = buf;
	return buf;
}

/*
 * The bytes a row of this heap takes on its page (MAXALIGNed, as
 * PageAddItem stores it), to guess where on a page a row lies
 * (prefetch_heap_row in omenscan.c); 0 if there is nothing to go on.
 * When every column is of fixed width, *exact: every row without NULLs
 * written since the last column was added is that long.
 * Otherwise the mean a row takes of a page, from pg_class's relpages and
 * reltuples, which counts free space too.
 */
int
omen_heap_tuple_len(Relation heap, bool *exact)
{
	TupleDesc	desc = RelationGetDescr(heap);
	Size		data = 0;
	double		mean;
	int			i;

	*exact = false;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		/* a dropped column still takes its bytes in rows written before */
		if (att->attisdropped || att->attlen <= 0)
			break;
		data = att_align_nominal(data, att->attalign) + att->attlen;
		if (data > MaxHeapTupleSize)
			break;				/* such rows are never stored whole */
	}
	if (i == desc->natts)
	{
		*exact = true;
		return (int) MAXALIGN(MAXALIGN(SizeofHeapTupleHeader) + data);
	}
	if (heap->rd_rel->reltuples <= 0 || heap->rd_rel->relpages == 0)
		return 0;
	mean = (double) heap->rd_rel->relpages * (BLCKSZ - SizeOfPageHeaderData) /
		heap->rd_rel->reltuples - sizeof(ItemIdData);
	if (mean < MAXALIGN(SizeofHeapTupleHeader) || mean > BLCKSZ)
		return 0;
	return (int) mean;
}

/*
 * Start loading into the CPU cache what the executor's fetches of rows on
 * heap pages blknos[0 .. n - 1] will read first, for those pages shared
 * buffers hold: each buffer's descriptor and page header.  pages[i] is set
 * to block i's page address, for prefetch_heap_row() in omenscan.c, or to
 * NULL if shared buffers do not hold it.  A scan does this for rows it
 * will return soon (prefetch_heap_pages in omenscan.c), so those misses
 * overlap each other and the executor's work instead of following one
 * another in each fetch.
 *
 * Only hints: the mapping is looked up under its partition locks, as
 * ReadBuffer does, but nothing is pinned or read; if a page is evicted
 * before its fetch, the hints go to another page's memory, which costs
 * nothing but the loads.  A page not in shared buffers is left alone (no
 * I/O is started: on a heap the kernel caches, a posix_fadvise would cost
 * a system call per row for nothing).
 *
 * The lookups themselves are cache misses too (the bucket, then the
 * entry), and taking and releasing a partition lock around each one made
 * them follow one another: the lock's atomic instructions let no later
 * load start before every earlier one has arrived.  So the partition
 * locks of a batch are taken first, all in shared mode and in ascending
 * partition order (the rule of storage/buffer/README for holding several),
 * then every block of the batch is looked up, then the locks are
 * released: the lookups' misses overlap as far as the CPU reaches ahead.
 * Only the first lock is waited for, with no other held (the caller holds
 * no LWLock: the scan keeps its leaf pinned, not locked); a later one held
 * in exclusive mode, by a backend replacing a buffer of that partition,
 * is skipped and its blocks get no hints.  So the batch never waits while
 * it holds a lock, and a backend that needs one of them waits no longer
 * than a lookup per block of the batch.  10M rows, ~50 duplicates a key
 * scattered over the heap: a probe took 0.46 - 0.73 of the time it took
 * with a lock round per lookup (src/README.md, "Heap prefetch").
 */
void
omen_prefetch_heap_blocks(Relation heap, const BlockNumber *blknos, int n, const char **pages)
{
	BufferTag	tags[OMEN_LOOKUP_BATCH];
	uint32		hashes[OMEN_LOOKUP_BATCH];
	int			parts[OMEN_LOOKUP_BATCH];	/* distinct, ascending */
	int			nparts = 0;
	bool		held[NUM_BUFFER_PARTITIONS] = {0};
	int			i;

	Assert(!RelationUsesLocalBuffers(heap));
	Assert(n >= 0 && n <= OMEN_LOOKUP_BATCH);
	for (i = 0; i < n; i++)
	{
		int			part;
		int			j;

		INIT_BUFFERTAG(tags[i], heap->rd_node, MAIN_FORKNUM, blknos[i]);
		hashes[i] = BufTableHashCode(&tags[i]);
		part = BufTableHashPartition(hashes[i]);
		for (j = 0; j < nparts && parts[j] != part; j++)
			;
		if (j < nparts)
			continue;
		for (j = nparts; j > 0 && parts[j - 1] > part; j--)
			parts[j] = parts[j - 1];
		parts[j] = part;
		nparts++;
	}
	for (i = 0; i < nparts; i++)
	{
		LWLock	   *lock = BufMappingPartitionLockByIndex(parts[i]);

		if (i == 0)
			LWLockAcquire(lock, LW_SHARED);
		else if (!LWLockConditionalAcquire(lock, LW_SHARED))
			continue;
		held[parts[i]] = true;
	}
	for (i = 0; i < n; i++)
	{
		int			buf_id;

		pages[i] = NULL;
		if (!held[BufTableHashPartition(hashes[i])])
			continue;
		buf_id = BufTableLookup(&tags[i], hashes[i]);
		if (buf_id >= 0)
		{
			pages[i] = (const char *) BufferGetBlock(buf_id + 1);
			/* the pin is a compare-and-swap on the descriptor's state */
			omen_prefetch_write(GetBufferDescriptor(buf_id));
		}
	}
	for (i = nparts - 1; i >= 0; i--)
	{
		if (held[parts[i]])
			LWLockRelease(BufMappingPartitionLockByIndex(parts[i]));
	}
	for (i = 0; i < n; i++)
	{
		if (pages[i])
			omen_prefetch(pages[i]);
	}
}

/* A new block at the end, exclusively locked. */
static Buffer
extend_index(Relation index)
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

/* Lock a buffer exclusively without waiting; InvalidBuffer if busy. */
static Buffer
try_lock_page(Relation index, BlockNumber blkno)
{
	Buffer		buf = ReadBuffer(index, blkno);

	if (ConditionalLockBuffer(buf))
		return buf;
	ReleaseBuffer(buf);
	return InvalidBuffer;
}

/*
 * Unlink the exclusively locked empty leaf in ebuf from its chain, to
 * reuse the page: its right sibling takes over its key range (that
 * sibling's low fence comes down to the leaf's: fences only go down), its
 * left sibling links to that right sibling, and the page becomes free.
 * The metapage logs it as a changed leaf, so the next retrain drops it
 * from the model, and the right sibling as one whose fence went down (if
 * the log has room for it); until then a lookup that the model sends there finds a
 * page that is not the leaf it expects and takes the model's previous
 * leaf instead (omenmodel.c).  The left sibling, the right sibling and the
 * metapage are locked without waiting (the caller may hold other leaves):
 * if any is busy, or the leaf is in the log still (omen_log_contains),
 * nothing changes and false is returned.  One WAL record.
 */
static bool
unlink_for_reuse(Relation index, Buffer ebuf)
{
	Page		epage = BufferGetPage(ebuf);
	OmenPageOpaque eop = OmenPageGetOpaque(epage);
	uint16		kind = eop->flags & (OMEN_P_LEAF | OMEN_P_NULLS);
	BlockNumber blkno = BufferGetBlockNumber(ebuf);
	Buffer		lbuf;
	Buffer		rbuf;
	Buffer		metabuf;
	OmenPageOpaque lop;
	OmenPageOpaque rop;
	OmenPos		low = eop->low;
	BlockNumber right = eop->right;
	OmenMetaPage meta;
	OmenXLog	xl;

	/* the left link is exact: a split of the left sibling needs our lock */
	lbuf = try_lock_page(index, eop->left);
	if (!BufferIsValid(lbuf))
		return false;
	rbuf = try_lock_page(index, right);
	if (!BufferIsValid(rbuf))
	{
		UnlockReleaseBuffer(lbuf);
		return false;
	}
	metabuf = try_lock_page(index, OMEN_METAPAGE_BLKNO);
	if (!BufferIsValid(metabuf))
	{
		UnlockReleaseBuffer(rbuf);
		UnlockReleaseBuffer(lbuf);
		return false;
	}
	omen_check_page(index, lbuf, eop->left, kind);
	omen_check_page(index, rbuf, right, kind);
	omen_check_page(index, metabuf, OMEN_METAPAGE_BLKNO, OMEN_P_META);
	lop = OmenPageGetOpaque(BufferGetPage(lbuf));
	rop = OmenPageGetOpaque(BufferGetPage(rbuf));
	if (lop->right != blkno)
		omen_corrupt(index, eop->left, "right link is %u, expected %u", lop->right, blkno);
	if (rop->left != blkno)
		omen_corrupt(index, right, "left link is %u, expected %u", rop->left, blkno);
	meta = OmenPageGetMeta(BufferGetPage(metabuf));
	if (omen_log_contains(meta, blkno))
	{
		UnlockReleaseBuffer(metabuf);
		UnlockReleaseBuffer(rbuf);
		UnlockReleaseBuffer(lbuf);
		return false;
	}

	omen_xlog_start(&xl, index);
	START_CRIT_SECTION();
	lop->right = right;
	omen_xlog_range(&xl, lbuf, (char *) &lop->right - (char *) BufferGetPage(lbuf), sizeof(BlockNumber));
	rop->left = BufferGetBlockNumber(lbuf);
	rop->low = low;
	omen_xlog_range(&xl, rbuf, (char *) rop - (char *) BufferGetPage(rbuf),
					offsetof(OmenPageOpaqueData, high));
	omen_init_page(epage, OMEN_P_FREE);
	omen_xlog_full(&xl, ebuf);
	(void) omen_meta_log_leaf(&xl, metabuf, blkno, -1, false);
	(void) omen_meta_log_leaf(&xl, metabuf, right, 0, true);
	omen_xlog_finish(&xl);
	END_CRIT_SECTION();

	UnlockReleaseBuffer(metabuf);
	UnlockReleaseBuffer(rbuf);
	UnlockReleaseBuffer(lbuf);
	return true;
}

/* the free space map entries a page allocation looks at before extending */
#define OMEN_FSM_TRIES			8

/*
 * Get an exclusively locked page to initialize: from the FSM if possible,
 * else a new block at the end.  The caller initializes it with a full page
 * image.  The FSM lists free pages (model pages a retrain replaced, and
 * leaves unlinked earlier) and empty leaves, which are unlinked here
 * (unlink_for_reuse) if that takes no waiting.  A leaf that moves so is
 * logged: until the next retrain drops it from the model, a lookup the
 * model sends to it either finds it is not the leaf it expected and steps
 * back (see omenmodel.c), or, if it now lies left of its old place, walks
 * right from there.  Only conditional locks are taken: a split calls this
 * holding leaf locks.
 */
Buffer
omen_new_page(Relation index)
{
	int			tries;

	for (tries = 0; tries < OMEN_FSM_TRIES; tries++)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Buffer		buf;
		Page		page;
		OmenPageOpaque opaque;
		bool		putback = false;
		char		why[160];

		if (blkno == InvalidBlockNumber)
			break;
		buf = try_lock_page(index, blkno);
		if (!BufferIsValid(buf))
			continue;
		page = BufferGetPage(buf);
		if (PageIsNew(page))
			return buf;
		opaque = OmenPageGetOpaque(page);
		if (PageGetSpecialSize(page) == MAXALIGN(sizeof(OmenPageOpaqueData)) &&
			opaque->page_id == OMEN_PAGE_ID)
		{
			if (opaque->flags & OMEN_P_FREE)
				return buf;
			if ((opaque->flags & OMEN_P_LEAF) && !(opaque->flags & OMEN_P_FREE) &&
				opaque->left != InvalidBlockNumber && opaque->right != InvalidBlockNumber &&
				omen_leaf_check_layout(page, true, why, sizeof(why)) && OmenLeafNEntries(page) == 0)
			{
				/* an empty leaf: unlink it, if nobody is in the way */
				if (unlink_for_reuse(index, buf))
					return buf;
				putback = true;
			}
		}
		UnlockReleaseBuffer(buf);
		if (putback)
			RecordFreeIndexPage(index, blkno);
	}

	return extend_index(index);
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
	StaticAssertStmt(MAXALIGN(SizeOfPageHeaderData) + sizeof(OmenMetaPageData) <= OMEN_SPECIAL_OFFSET,
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

/* qsort/bsearch comparator of block numbers */
int
omen_blockno_cmp(const void *a, const void *b)
{
	BlockNumber x = *(const BlockNumber *) a;
	BlockNumber y = *(const BlockNumber *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}
