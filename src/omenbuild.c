/*
 * omenbuild.c
 *	  CREATE INDEX: scan the heap, sort (key, TID) within
 *	  maintenance_work_mem (omensort.c), write the leaves bottom-up in key
 *	  order, fit the model in one streaming pass and write it, then the
 *	  metapage.
 *
 * The scan and sort run in parallel when the planner grants workers
 * (max_parallel_maintenance_workers, the table's size, its parallel_workers
 * option): each participant, the leader included, scans part of the heap
 * through a parallel table scan and sorts what it saw into runs in a
 * shared file set; the leader then merges the runs and writes the index
 * alone, as nbtree's parallel build does.
 *
 * The index is new, so the pages are written straight through smgr (as
 * nbtree's bulk loader does) and WAL-logged as full page images.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "commands/progress.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/smgr.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "omen.h"
#include "omensort.h"


/* Writes pages of a new index (or init fork) in block order. */
typedef struct OmenLoader
{
	Relation	index;
	ForkNumber	fork;
	bool		use_wal;
	BlockNumber nwritten;		/* blocks written so far */

	/* the leaf being filled */
	int			tree;
	uint16		leaf_flags;
	bool		open;
	BlockNumber blkno;
	BlockNumber prev;
	OmenPos		low;
	int			n;
	int			fill;			/* bytes to fill a leaf to */
	int64		tmin;			/* least and greatest TID of the leaf */
	int64		tmax;
	OmenRunSizer runs;			/* the open leaf's size as RUNS */
	int64		keys[OMEN_LEAF_MAX_ENTRIES];
	int64		tids[OMEN_LEAF_MAX_ENTRIES];

	OmenLeafList lists[OMEN_NTREES];
	int64		entries;
} OmenLoader;

typedef struct OmenBuildState
{
	Oid			keytype;
	OmenSort   *keysort;		/* (key, encoded TID) of non-NULL entries */
	OmenSort   *nullsort;		/* (0, encoded TID) of NULL entries */
	double		indtuples;
} OmenBuildState;

/* keys of the parallel build's shared memory */
#define OMEN_KEY_SHARED			UINT64CONST(0x4F4D454E00000001)
#define OMEN_KEY_FILESET		UINT64CONST(0x4F4D454E00000002)
#define OMEN_KEY_QUERY_TEXT		UINT64CONST(0x4F4D454E00000004)

/*
 * What the participants of a parallel build share: the relations, the
 * parallel heap scan (after the struct), and the totals each participant
 * adds when its sorted run is complete.
 */
typedef struct OmenShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	int			nsorts;			/* participants planned, leader included */

	ConditionVariable workersdonecv;	/* signalled as each participant finishes */
	slock_t		mutex;			/* protects the fields below */
	int			nparticipantsdone;
	double		reltuples;
	double		indtuples;
	bool		brokenhotchain;
	/* ParallelTableScanDescData follows */
} OmenShared;

#define ParallelTableScanFromOmenShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(OmenShared))))

/* The leader's handle on a parallel build. */
typedef struct OmenParallelBuild
{
	ParallelContext *pcxt;
	OmenShared *shared;
	SharedFileSet *fileset;		/* the participants' sorted runs */
	Snapshot	snapshot;
	int			nparticipants;	/* launched workers + the leader */
} OmenParallelBuild;

PGDLLEXPORT void omen_parallel_build_main(dsm_segment *seg, shm_toc *toc);

static void
loader_write(OmenLoader *ld, Page page, BlockNumber blkno)
{
	SMgrRelation smgr = RelationGetSmgr(ld->index);

	PageSetChecksumInplace(page, blkno);
	if (blkno >= ld->nwritten)
	{
		Assert(blkno == ld->nwritten);
		smgrextend(smgr, ld->fork, blkno, (char *) page, true);
		ld->nwritten = blkno + 1;
	}
	else
		smgrwrite(smgr, ld->fork, blkno, (char *) page, true);
	if (ld->use_wal)
		log_newpage(&smgr->smgr_rnode.node, ld->fork, blkno, page, true);
}

/* Write the open leaf with the given high fence and right link. */
static void
loader_flush_leaf(OmenLoader *ld, OmenPos high, BlockNumber right)
{
	PGAlignedBlock buf;
	Page		page = (Page) buf.data;
	OmenPageOpaque opaque;

	OmenLeafEnc enc;

	omen_init_page(page, ld->leaf_flags);
	opaque = OmenPageGetOpaque(page);
	opaque->left = ld->prev;
	opaque->right = right;
	opaque->low = ld->low;
	opaque->high = high;
	omen_leaf_choose_enc(ld->keys, ld->tids, ld->n, &enc);
	omen_leaf_write(page, &enc, ld->n, ld->keys, ld->tids);
	loader_write(ld, page, ld->blkno);
	omen_leaflist_add(&ld->lists[ld->tree], ld->low.key, ld->low.tid, ld->blkno);
}

static void
loader_start_tree(OmenLoader *ld, int tree, int fillfactor)
{
	ld->tree = tree;
	ld->leaf_flags = (tree == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF) |
		OMEN_P_WIDE_PENDING;
	ld->open = true;
	ld->blkno = ld->nwritten;
	ld->prev = InvalidBlockNumber;
	ld->low.key = OMEN_POS_MIN_KEY;
	ld->low.tid = OMEN_TID_MIN;
	ld->n = 0;
	ld->fill = omen_leaf_fill_bytes(fillfactor);
}

/*
 * The open leaf's RUNS size with one more entry (ld->runs holds it
 * without): a dense TID's offset bits are the leaf's widest, so an entry
 * that widens them sizes the leaf again.
 */
static void
loader_runs_with(const OmenLoader *ld, int64 key, int64 tid, OmenRunSizer *sz)
{
	int			off_bits = omen_tid_off_bits(tid);

	if (ld->n == 0)
		omen_run_sizer_init(sz, NULL, NULL, 0, off_bits);
	else if (off_bits > ld->runs.off_bits)
		omen_run_sizer_init(sz, ld->keys, ld->tids, ld->n, off_bits);
	else
		*sz = ld->runs;
	omen_run_sizer_add(sz, key, tid);
}

/*
 * Would the open leaf, with one more entry, take more than the fill
 * target in the encoding omen_leaf_choose_enc() will give it?  Entries
 * are stored relative to the leaf's least key and TID, so the size per
 * entry grows with the spans; a leaf of duplicates is smaller as RUNS.
 */
static bool
loader_leaf_full(OmenLoader *ld, int64 key, int64 tid)
{
	int			kw;
	int			tw;
	int			plain;
	int			runs;
	OmenRunSizer sz;

	if (ld->n == 0)
		return false;
	if (ld->n >= OMEN_LEAF_MAX_ENTRIES)
		return true;
	kw = omen_width_for((uint64) key - (uint64) ld->keys[0]);
	tw = omen_width_for((uint64) Max(ld->tmax, tid) - (uint64) Min(ld->tmin, tid));
	plain = (ld->n + 1) * (kw + tw);
	if (plain <= ld->fill)
		return false;
	loader_runs_with(ld, key, tid, &sz);
	runs = omen_run_sizer_bytes(&sz, kw, tw);
	return !(omen_leaf_runs_wins(plain, runs) && runs <= ld->fill);
}

/*
 * Append the next entry in (key, tid) order.  When the leaf is full, the
 * separator is (key, -inf) if the key differs from the previous entry's,
 * so an equality probe for that key lands on the new leaf directly; within
 * a run of equal keys the separator keeps the TID.
 */
static void
loader_add(OmenLoader *ld, int64 key, int64 tid)
{
	if (loader_leaf_full(ld, key, tid))
	{
		OmenPos		sep;

		sep.key = key;
		sep.tid = (key != ld->keys[ld->n - 1]) ? OMEN_TID_MIN : tid;
		loader_flush_leaf(ld, sep, ld->blkno + 1);
		ld->prev = ld->blkno;
		ld->blkno = ld->blkno + 1;
		ld->low = sep;
		ld->n = 0;
	}
	loader_runs_with(ld, key, tid, &ld->runs);
	if (ld->n == 0)
		ld->tmin = ld->tmax = tid;
	else
	{
		ld->tmin = Min(ld->tmin, tid);
		ld->tmax = Max(ld->tmax, tid);
	}
	ld->keys[ld->n] = key;
	ld->tids[ld->n] = tid;
	ld->n++;
	ld->entries++;
}

static void
loader_finish_tree(OmenLoader *ld)
{
	OmenPos		inf;

	inf.key = OMEN_POS_MAX_KEY;
	inf.tid = OMEN_TID_MAX;
	loader_flush_leaf(ld, inf, InvalidBlockNumber);
	ld->open = false;
}

/* OmenPieceWriter for the build: the next block, straight through smgr. */
static void
loader_write_piece(void *arg, Page page, OmenPieceDesc *desc)
{
	OmenLoader *ld = (OmenLoader *) arg;

	desc->block = ld->nwritten;
	loader_write(ld, page, ld->nwritten);
}

/*
 * Fit the model over the leaves just written, write its pieces and root,
 * then the metapage.
 */
static void
loader_finish_index(OmenLoader *ld, uint32 epsilon, uint32 fillfactor, BlockNumber roots[OMEN_NTREES])
{
	PGAlignedBlock buf;
	Page		page = (Page) buf.data;
	char	   *root;
	Size		len;
	Size		off;
	int			per_page = omen_model_page_data();
	BlockNumber head;
	uint32		npages = 0;
	OmenMetaPage meta;
	OmenPieceDesc *descs[OMEN_NTREES] = {NULL, NULL};
	int			ndescs[OMEN_NTREES] = {0, 0};
	int			cap[OMEN_NTREES] = {0, 0};
	uint32		nsegs;
	uint32		max_error;
	double		mean_error;
	uint32		nleaves;
	int			t;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, OMEN_PHASE_FIT);
	for (t = 0; t < OMEN_NTREES; t++)
		omen_fit_pieces(t, ld->lists[t].keys, ld->lists[t].tids, ld->lists[t].blocks, ld->lists[t].n,
						true, OMEN_PIECE_FILL, epsilon, 1, loader_write_piece, ld,
						&descs[t], &ndescs[t], &cap[t]);
	len = omen_model_root(descs, ndescs, epsilon, 1, &root);
	omen_model_summary(root, &nsegs, &max_error, &mean_error, &nleaves);

	head = ld->nwritten;
	for (off = 0; off < len; off += per_page)
	{
		Size		chunk = Min((Size) per_page, len - off);
		BlockNumber blkno = ld->nwritten;

		omen_fill_model_page(page, root + off, chunk, 1,
							 off + chunk < len ? blkno + 1 : InvalidBlockNumber);
		loader_write(ld, page, blkno);
		npages++;
	}

	omen_fill_meta(page, ld->index, epsilon, fillfactor);
	meta = OmenPageGetMeta(page);
	meta->root[OMEN_TREE_KEYS] = roots[OMEN_TREE_KEYS];
	meta->root[OMEN_TREE_NULLS] = roots[OMEN_TREE_NULLS];
	meta->model_head = head;
	meta->model_npages = npages;
	meta->model_bytes = len;
	meta->model_version = 1;
	meta->leaf_pages = ld->lists[OMEN_TREE_KEYS].n + ld->lists[OMEN_TREE_NULLS].n;
	meta->model_segments = nsegs;
	meta->model_pieces = ndescs[0] + ndescs[1];
	meta->model_leaves = nleaves;
	meta->max_error = max_error;
	meta->mean_error = mean_error;
	meta->last_retrain = GetCurrentTimestamp();
	meta->last_retrain_leaves = nleaves;
	meta->log_base = ld->nwritten;
	loader_write(ld, page, OMEN_METAPAGE_BLKNO);

	pfree(root);
	for (t = 0; t < OMEN_NTREES; t++)
		if (descs[t])
			pfree(descs[t]);
}

static void
loader_init(OmenLoader *ld, Relation index, ForkNumber fork, bool use_wal)
{
	PGAlignedBlock zero;

	MemSet(ld, 0, offsetof(OmenLoader, keys));
	MemSet(ld->lists, 0, sizeof(ld->lists));
	ld->entries = 0;
	ld->index = index;
	ld->fork = fork;
	ld->use_wal = use_wal;
	ld->nwritten = 0;

	/* reserve block 0 for the metapage, written last */
	MemSet(zero.data, 0, BLCKSZ);
	smgrextend(RelationGetSmgr(index), fork, OMEN_METAPAGE_BLKNO, zero.data, true);
	ld->nwritten = 1;
}

static void
loader_end(OmenLoader *ld)
{
	int			t;

	/*
	 * The pages bypassed shared buffers; as in nbtree, they must reach disk
	 * before a checkpoint could consider the WAL records before it obsolete.
	 */
	if (ld->use_wal)
		smgrimmedsync(RelationGetSmgr(ld->index), ld->fork);
	for (t = 0; t < OMEN_NTREES; t++)
		omen_leaflist_free(&ld->lists[t]);
}

static void
omen_build_callback(Relation index, ItemPointer tid, Datum *values,
					bool *isnull, bool tupleIsAlive, void *state)
{
	OmenBuildState *bs = (OmenBuildState *) state;

	if (isnull[0])
		omen_sort_put(bs->nullsort, 0, omen_tid_encode(tid));
	else
		omen_sort_put(bs->keysort, omen_datum_to_key(values[0], bs->keytype), omen_tid_encode(tid));
	bs->indtuples += 1;
}

/*
 * The NULL entries' sort gets a sixteenth of the keys' memory: they are
 * usually few, and its buffer grows only as entries come.
 */
static int
null_sort_mem(int workmem)
{
	return Max(64, workmem / 16);
}

/*
 * Start the two sorts.  With a file set, they are parallel participant
 * 'participant's sorts.
 */
static void
begin_sorts(OmenBuildState *bs, int workmem, SharedFileSet *fileset, int participant)
{
	bs->keysort = omen_sort_begin('k', workmem, fileset, participant);
	bs->nullsort = omen_sort_begin('n', null_sort_mem(workmem), fileset, participant);
}

/*
 * One participant's share of a parallel build: scan the blocks the parallel
 * heap scan hands out, sort them into this participant's runs in the
 * shared file set, and add the counts to the shared totals.
 */
static void
parallel_scan_and_sort(OmenShared *shared, SharedFileSet *fileset, int participant,
					   Relation heap, Relation index, int sortmem, bool progress)
{
	OmenBuildState bs;
	IndexInfo  *indexInfo;
	TableScanDesc scan;
	double		reltuples;

	MemSet(&bs, 0, sizeof(bs));
	bs.keytype = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
	begin_sorts(&bs, sortmem, fileset, participant);

	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	scan = table_beginscan_parallel(heap, ParallelTableScanFromOmenShared(shared));
	reltuples = table_index_build_scan(heap, index, indexInfo, true, progress,
									   omen_build_callback, (void *) &bs, scan);
	omen_sort_export(bs.keysort);
	omen_sort_export(bs.nullsort);

	SpinLockAcquire(&shared->mutex);
	shared->nparticipantsdone++;
	shared->reltuples += reltuples;
	shared->indtuples += bs.indtuples;
	if (indexInfo->ii_BrokenHotChain)
		shared->brokenhotchain = true;
	SpinLockRelease(&shared->mutex);
	ConditionVariableSignal(&shared->workersdonecv);

	omen_sort_end(bs.keysort);
	omen_sort_end(bs.nullsort);
}

/* Entry point of a parallel build worker. */
void
omen_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	OmenShared *shared;
	SharedFileSet *fileset;
	Relation	heap;
	Relation	index;
	LOCKMODE	heaplock;
	LOCKMODE	indexlock;

	debug_query_string = shm_toc_lookup(toc, OMEN_KEY_QUERY_TEXT, true);
	pgstat_report_activity(STATE_RUNNING, debug_query_string);

	shared = shm_toc_lookup(toc, OMEN_KEY_SHARED, false);
	/* the leader holds these already; workers are in its lock group */
	heaplock = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	indexlock = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	heap = table_open(shared->heaprelid, heaplock);
	index = index_open(shared->indexrelid, indexlock);

	fileset = shm_toc_lookup(toc, OMEN_KEY_FILESET, false);
	SharedFileSetAttach(fileset, seg);

	parallel_scan_and_sort(shared, fileset, ParallelWorkerNumber, heap, index,
						   maintenance_work_mem / shared->nsorts, false);

	index_close(index, indexlock);
	table_close(heap, heaplock);
}

static void
parallel_end(OmenParallelBuild *par)
{
	WaitForParallelWorkersToFinish(par->pcxt);
	if (IsMVCCSnapshot(par->snapshot))
		UnregisterSnapshot(par->snapshot);
	DestroyParallelContext(par->pcxt);
	ExitParallelMode();
}

/*
 * Set up the shared state and launch up to 'request' workers.  Returns
 * NULL (the build then runs serially) if no dynamic shared memory or no
 * worker could be had.  A concurrent build scans with an MVCC snapshot
 * that the workers must use too; a plain build with SnapshotAny.
 */
static OmenParallelBuild *
parallel_begin(Relation heap, Relation index, bool isconcurrent, int request)
{
	OmenParallelBuild *par;
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		estshared;
	OmenShared *shared;
	SharedFileSet *fileset;
	int			nsorts = request + 1;	/* the leader sorts its share too */
	Size		querylen = debug_query_string ? strlen(debug_query_string) : 0;

	EnterParallelMode();
	pcxt = CreateParallelContext("omen_index", "omen_parallel_build_main", request);
	snapshot = isconcurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;

	estshared = add_size(BUFFERALIGN(sizeof(OmenShared)), table_parallelscan_estimate(heap, snapshot));
	shm_toc_estimate_chunk(&pcxt->estimator, estshared);
	shm_toc_estimate_chunk(&pcxt->estimator, sizeof(SharedFileSet));
	shm_toc_estimate_keys(&pcxt->estimator, 2);
	if (debug_query_string)
	{
		shm_toc_estimate_chunk(&pcxt->estimator, querylen + 1);
		shm_toc_estimate_keys(&pcxt->estimator, 1);
	}
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}

	shared = shm_toc_allocate(pcxt->toc, estshared);
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->isconcurrent = isconcurrent;
	shared->nsorts = nsorts;
	ConditionVariableInit(&shared->workersdonecv);
	SpinLockInit(&shared->mutex);
	shared->nparticipantsdone = 0;
	shared->reltuples = 0;
	shared->indtuples = 0;
	shared->brokenhotchain = false;
	table_parallelscan_initialize(heap, ParallelTableScanFromOmenShared(shared), snapshot);

	fileset = shm_toc_allocate(pcxt->toc, sizeof(SharedFileSet));
	SharedFileSetInit(fileset, pcxt->seg);

	shm_toc_insert(pcxt->toc, OMEN_KEY_SHARED, shared);
	shm_toc_insert(pcxt->toc, OMEN_KEY_FILESET, fileset);
	if (debug_query_string)
	{
		char	   *query = shm_toc_allocate(pcxt->toc, querylen + 1);

		memcpy(query, debug_query_string, querylen + 1);
		shm_toc_insert(pcxt->toc, OMEN_KEY_QUERY_TEXT, query);
	}

	par = palloc0(sizeof(OmenParallelBuild));
	par->pcxt = pcxt;
	par->shared = shared;
	par->fileset = fileset;
	par->snapshot = snapshot;

	LaunchParallelWorkers(pcxt);
	if (pcxt->nworkers_launched == 0)
	{
		parallel_end(par);
		pfree(par);
		return NULL;
	}
	par->nparticipants = pcxt->nworkers_launched + 1;

	/*
	 * The workers must have restored a concurrent build's snapshot before it
	 * can go; and a worker that failed to start must be an ERROR here, not
	 * a leader waiting forever for it to finish its share (as nbtree).
	 */
	WaitForParallelWorkersToAttach(pcxt);
	return par;
}

/*
 * The leader's part of a parallel build: sort its own share of the heap
 * (as the participant numbered after the workers), wait for every worker
 * to finish its runs, then start the merges of all the runs.  Returns the
 * heap tuple count.
 */
static double
parallel_scan(OmenParallelBuild *par, OmenBuildState *bs, Relation heap, Relation index,
			  IndexInfo *indexInfo)
{
	OmenShared *shared = par->shared;
	double		reltuples;

	parallel_scan_and_sort(shared, par->fileset, shared->nsorts - 1, heap, index,
						   maintenance_work_mem / shared->nsorts, true);
	for (;;)
	{
		SpinLockAcquire(&shared->mutex);
		if (shared->nparticipantsdone == par->nparticipants)
		{
			reltuples = shared->reltuples;
			bs->indtuples = shared->indtuples;
			if (shared->brokenhotchain)
				indexInfo->ii_BrokenHotChain = true;
			SpinLockRelease(&shared->mutex);
			break;
		}
		SpinLockRelease(&shared->mutex);
		ConditionVariableSleep(&shared->workersdonecv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();

	bs->keysort = omen_sort_begin_merge('k', maintenance_work_mem, par->fileset, shared->nsorts);
	bs->nullsort = omen_sort_begin_merge('n', null_sort_mem(maintenance_work_mem), par->fileset, shared->nsorts);
	return reltuples;
}

/* Workers the planner grants this build: none in single-user mode or bootstrap. */
static int
build_workers(Relation heap, Relation index)
{
	if (!IsUnderPostmaster || !IsNormalProcessingMode())
		return 0;
	return plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
}

static void
omen_check_build_options(Relation index)
{
	Oid			keytype = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;

	if (IndexRelationGetNumberOfAttributes(index) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("omen indexes support exactly one key column")));
	if (!omen_key_type_supported(keytype))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("omen indexes do not support type %s", format_type_be(keytype))));
	if (index->rd_indoption[0] & (INDOPTION_DESC | INDOPTION_NULLS_FIRST))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("omen indexes support only ascending order with nulls last"),
				 errhint("An omen index answers ORDER BY ... DESC by scanning backward.")));
}

IndexBuildResult *
omenbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	OmenBuildState bs;
	OmenLoader *ld;
	double		reltuples;
	BlockNumber roots[OMEN_NTREES];
	int64		key;
	int64		enc;
	int64		done = 0;
	int			nworkers;
	OmenParallelBuild *par = NULL;
	TimestampTz t0,
				t1,
				t2,
				t3;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	omen_check_build_options(index);

	MemSet(&bs, 0, sizeof(bs));
	bs.keytype = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
	nworkers = build_workers(heap, index);
	if (nworkers > 0)
		par = parallel_begin(heap, index, indexInfo->ii_Concurrent, nworkers);

	t0 = GetCurrentTimestamp();
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, OMEN_PHASE_SCAN);
	if (par)
		reltuples = parallel_scan(par, &bs, heap, index, indexInfo);
	else
	{
		begin_sorts(&bs, maintenance_work_mem, NULL, 0);
		reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										   omen_build_callback, (void *) &bs, NULL);
	}

	t1 = GetCurrentTimestamp();
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, OMEN_PHASE_SORT);
	if (!par)
	{
		omen_sort_performsort(bs.keysort);
		omen_sort_performsort(bs.nullsort);
	}
	t2 = GetCurrentTimestamp();

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, OMEN_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs.indtuples);

	ld = palloc(sizeof(OmenLoader));
	loader_init(ld, index, MAIN_FORKNUM, RelationNeedsWAL(index));

	roots[OMEN_TREE_KEYS] = ld->nwritten;
	loader_start_tree(ld, OMEN_TREE_KEYS, omen_reloption_fillfactor(index));
	while (omen_sort_next(bs.keysort, &key, &enc))
	{
		loader_add(ld, key, enc);
		if ((++done & 0x3FFF) == 0)
		{
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, done);
			CHECK_FOR_INTERRUPTS();
		}
	}
	loader_finish_tree(ld);

	roots[OMEN_TREE_NULLS] = ld->nwritten;
	loader_start_tree(ld, OMEN_TREE_NULLS, omen_reloption_fillfactor(index));
	while (omen_sort_next(bs.nullsort, &key, &enc))
	{
		loader_add(ld, enc, enc);
		if ((++done & 0x3FFF) == 0)
		{
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, done);
			CHECK_FOR_INTERRUPTS();
		}
	}
	loader_finish_tree(ld);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, done);

	omen_sort_end(bs.keysort);
	omen_sort_end(bs.nullsort);
	/* the runs live in the parallel build's shared file set until here */
	if (par)
		parallel_end(par);

	t3 = GetCurrentTimestamp();
	loader_finish_index(ld, omen_reloption_epsilon(index), omen_reloption_fillfactor(index), roots);
	loader_end(ld);
	elog(DEBUG1, "omen build of \"%s\": %d participants scanned the table",
		 RelationGetRelationName(index), par ? par->nparticipants : 1);
	elog(DEBUG2, "omen build of \"%s\": " INT64_FORMAT " entries; scan %ld ms, sort %ld ms, leaves %ld ms, model and sync %ld ms",
		 RelationGetRelationName(index), ld->entries,
		 (long) ((t1 - t0) / 1000), (long) ((t2 - t1) / 1000), (long) ((t3 - t2) / 1000),
		 (long) ((GetCurrentTimestamp() - t3) / 1000));

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = (double) ld->entries;
	pfree(ld);
	return result;
}

/*
 * The init fork of an unlogged index: an empty index, always WAL-logged so
 * that it exists after a crash.
 */
void
omenbuildempty(Relation index)
{
	OmenLoader *ld = palloc(sizeof(OmenLoader));
	BlockNumber roots[OMEN_NTREES];

	omen_check_build_options(index);
	loader_init(ld, index, INIT_FORKNUM, true);
	roots[OMEN_TREE_KEYS] = ld->nwritten;
	loader_start_tree(ld, OMEN_TREE_KEYS, OMEN_DEFAULT_FILLFACTOR);
	loader_finish_tree(ld);
	roots[OMEN_TREE_NULLS] = ld->nwritten;
	loader_start_tree(ld, OMEN_TREE_NULLS, OMEN_DEFAULT_FILLFACTOR);
	loader_finish_tree(ld);
	loader_finish_index(ld, omen_reloption_epsilon(index), omen_reloption_fillfactor(index), roots);
	loader_end(ld);
	pfree(ld);
}

char *
omenbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case OMEN_PHASE_SCAN:
			return "scanning table";
		case OMEN_PHASE_SORT:
			return "sorting keys";
		case OMEN_PHASE_LOAD:
			return "writing leaves";
		case OMEN_PHASE_FIT:
			return "fitting model";
		default:
			return NULL;
	}
}
