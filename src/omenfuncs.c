/*
 * omenfuncs.c
 *	  SQL functions: omen_index_stats, omen_index_check, omen_index_retrain,
 *	  omen_index_leaves.
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "lib/bloomfilter.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "omen.h"

PG_FUNCTION_INFO_V1(omen_index_stats);
PG_FUNCTION_INFO_V1(omen_index_check);
PG_FUNCTION_INFO_V1(omen_index_retrain);
PG_FUNCTION_INFO_V1(omen_index_leaves);

/* Open an index and make sure it is an omen index. */
static Relation
open_omen_index(Oid indexoid, LOCKMODE lockmode)
{
	Relation	index = index_open(indexoid, lockmode);
	HeapTuple	amtup = SearchSysCache1(AMOID, ObjectIdGetDatum(index->rd_rel->relam));
	bool		isomen = false;

	if (HeapTupleIsValid(amtup))
	{
		isomen = strcmp(NameStr(((Form_pg_am) GETSTRUCT(amtup))->amname), "omen") == 0;
		ReleaseSysCache(amtup);
	}
	if (!isomen)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an omen index", RelationGetRelationName(index))));
	return index;
}

static Oid
index_heap_or_error(Oid indexoid)
{
	Oid			heapoid = IndexGetRelation(indexoid, true);

	if (!OidIsValid(heapoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
	return heapoid;
}

/* Count the entries of a tree by walking its leaves. */
static int64
count_entries(Relation index, BlockNumber root, uint16 want)
{
	BlockNumber blkno = root;
	int64		n = 0;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = omen_read_page(index, blkno, BUFFER_LOCK_SHARE, want);
		Page		page = BufferGetPage(buf);

		n += OmenLeafNEntries(page);
		blkno = OmenPageGetOpaque(page)->right;
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}
	return n;
}

Datum
omen_index_stats(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Relation	index;
	OmenMetaPageData meta;
	TupleDesc	tupdesc;
	Datum		values[17];
	bool		nulls[17];
	int64		entries;
	int64		null_entries;
	BlockNumber nblocks;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* version 0.1 of the SQL script declares the first 13 columns */
	if (tupdesc->natts > lengthof(values))
		elog(ERROR, "omen_index_stats is declared with %d columns, at most %d are known: ALTER EXTENSION omen_index UPDATE",
			 tupdesc->natts, (int) lengthof(values));

	index = open_omen_index(indexoid, AccessShareLock);
	omen_read_meta(index, &meta);
	entries = count_entries(index, meta.root[OMEN_TREE_KEYS], OMEN_P_LEAF);
	null_entries = count_entries(index, meta.root[OMEN_TREE_NULLS], OMEN_P_LEAF | OMEN_P_NULLS);
	nblocks = RelationGetNumberOfBlocks(index);
	index_close(index, AccessShareLock);

	MemSet(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(entries + null_entries);
	values[1] = Int64GetDatum((int64) meta.leaf_pages);
	values[2] = Int32GetDatum((int32) meta.model_segments);
	values[3] = Int32GetDatum((int32) meta.epsilon);
	values[4] = Int32GetDatum((int32) meta.max_error);
	values[5] = Float8GetDatum(meta.mean_error);
	values[6] = Int64GetDatum((int64) meta.model_version);
	values[7] = Int64GetDatum((int64) (meta.splits_total - meta.splits_at_retrain));
	values[8] = Int64GetDatum((int64) meta.retrains);
	values[9] = TimestampTzGetDatum(meta.last_retrain);
	nulls[9] = meta.last_retrain == 0;
	values[10] = Int64GetDatum((int64) nblocks * BLCKSZ);
	values[11] = Int32GetDatum((int32) meta.fillfactor);
	values[12] = Int64GetDatum(null_entries);
	values[13] = Float8GetDatum(omen_meta_drift(&meta));
	values[14] = Int32GetDatum((int32) meta.model_pieces);
	values[15] = Int64GetDatum((int64) meta.model_leaves);
	values[16] = Int64GetDatum((int64) meta.last_retrain_leaves);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * One row per leaf: the leaf's encoding, entries and pending entries, free
 * bytes and fences (NULL for an infinite fence).  For a DBA's eye and for
 * tests that must know which leaf paths ran.
 */
Datum
omen_index_leaves(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	index;
	OmenMetaPageData meta;
	int			t;

	InitMaterializedSRF(fcinfo, 0);
	index = open_omen_index(indexoid, AccessShareLock);
	omen_read_meta(index, &meta);
	for (t = 0; t < OMEN_NTREES; t++)
	{
		uint16		want = t == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF;
		BlockNumber blkno = meta.root[t];

		while (blkno != InvalidBlockNumber)
		{
			Buffer		buf = omen_read_page(index, blkno, BUFFER_LOCK_SHARE, want);
			Page		page = BufferGetPage(buf);
			OmenPageOpaque opaque = OmenPageGetOpaque(page);
			OmenLeafHeader *h = OmenLeafGetHeader(page);
			int			n = OmenLeafNEntries(page);
			Datum		values[9];
			bool		nulls[9];

			MemSet(nulls, 0, sizeof(nulls));
			values[0] = Int64GetDatum((int64) blkno);
			values[1] = CStringGetTextDatum(t == OMEN_TREE_NULLS ? "nulls" : "keys");
			values[2] = Int32GetDatum(n);
			values[3] = Int32GetDatum(n - h->nsorted);
			values[4] = Int32GetDatum(h->key_width);
			values[5] = Int32GetDatum(h->tid_width);
			values[6] = Int32GetDatum((int32) (((PageHeader) page)->pd_upper - ((PageHeader) page)->pd_lower));
			values[7] = Int64GetDatum(opaque->low.key);
			nulls[7] = opaque->left == InvalidBlockNumber;
			values[8] = Int64GetDatum(opaque->high.key);
			nulls[8] = opaque->right == InvalidBlockNumber;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			blkno = opaque->right;
			UnlockReleaseBuffer(buf);
			CHECK_FOR_INTERRUPTS();
		}
	}
	index_close(index, AccessShareLock);
	return (Datum) 0;
}

Datum
omen_index_retrain(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	/* version 0.1 of the SQL script declares no second argument */
	bool		full = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	Relation	index;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recovery is in progress"),
				 errhint("An omen model can be retrained only on the primary.")));
	index = open_omen_index(indexoid, RowExclusiveLock);
	if (!pg_class_ownercheck(indexoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_INDEX, RelationGetRelationName(index));
	omen_retrain(index, full);
	index_close(index, RowExclusiveLock);
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * omen_index_check
 * ---------------------------------------------------------------------
 */

typedef struct CheckLeaf
{
	BlockNumber blkno;
	OmenPos		low;
} CheckLeaf;

typedef struct HeapCheckState
{
	bloom_filter *filter;
	Relation	index;
	const char *heapname;
	Oid			keytype;
	int64		heaptuples;
} HeapCheckState;

typedef struct EntryFingerprint
{
	int64		key;
	int64		tid;
	int64		isnull;
} EntryFingerprint;

static void
fingerprint(EntryFingerprint *fp, bool isnull, int64 key, int64 tid)
{
	MemSet(fp, 0, sizeof(*fp));
	fp->isnull = isnull;
	fp->key = isnull ? 0 : key;
	fp->tid = tid;
}

/*
 * The entries of one leaf: the sorted ones in strict order, the pending
 * ones distinct from all others, every entry a valid TID within the
 * fences, and the stored values inside the leaf's encoding (a stored
 * offset that overflows int64 decodes to a key outside the fences).
 * Fingerprints the entries for heapallindexed.  keys and tids are
 * scratch space for OMEN_LEAF_MAX_ENTRIES.
 */
static void
check_leaf_entries(Relation index, BlockNumber blkno, Page page, int tree,
				   bloom_filter *filter, int64 *keys, int64 *tids)
{
	OmenPageOpaque opaque = OmenPageGetOpaque(page);
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	OmenLeaf	lf;
	int			n;
	int			i;

	omen_leaf_open(page, &lf);
	omen_leaf_sorted_entries(page, keys, tids);
	for (i = 0; i < lf.n; i++)
	{
		int64		k = i < lf.nsorted ? keys[i] : omen_leaf_pending_key(&lf, i - lf.nsorted);
		int64		t = i < lf.nsorted ? tids[i] : omen_leaf_pending_tid(&lf, i - lf.nsorted);
		ItemPointerData tid;

		/* a pending entry stored whole (OMEN_P_WIDE_PENDING) cannot overflow */
		if ((i < lf.nsorted || !omen_leaf_wide_pending(page)) &&
			(k < h->key_base || t < h->tid_base))
			omen_corrupt(index, blkno, "entry %d overflows the leaf's encoding", i);
		omen_tid_decode(t, &tid);
		if (t <= 0 || t != omen_tid_encode(&tid) || !ItemPointerIsValid(&tid))
			omen_corrupt(index, blkno, "entry %d has an invalid heap TID", i);
		if (i > 0 && i < lf.nsorted && omen_pos_cmp(keys[i - 1], tids[i - 1], k, t) >= 0)
			omen_corrupt(index, blkno, "entries %d and %d are out of order", i - 1, i);
		if (omen_pos_cmp(k, t, opaque->low.key, opaque->low.tid) < 0)
			omen_corrupt(index, blkno, "entry %d lies below the low fence", i);
		if (opaque->right != InvalidBlockNumber &&
			omen_pos_cmp(k, t, opaque->high.key, opaque->high.tid) >= 0)
			omen_corrupt(index, blkno, "entry %d lies at or above the high fence", i);
		if (tree == OMEN_TREE_NULLS && k != t)
			omen_corrupt(index, blkno, "null entry %d has key " INT64_FORMAT ", expected its TID", i, k);
		if (filter)
		{
			EntryFingerprint fp;

			fingerprint(&fp, tree == OMEN_TREE_NULLS, k, t);
			bloom_add_element(filter, (unsigned char *) &fp, sizeof(fp));
		}
	}

	/* pending entries: no position may appear twice */
	if (lf.n > lf.nsorted)
	{
		n = omen_leaf_entries(page, keys, tids);
		for (i = 1; i < n; i++)
			if (omen_pos_cmp(keys[i - 1], tids[i - 1], keys[i], tids[i]) >= 0)
				omen_corrupt(index, blkno, "position (" INT64_FORMAT ", " INT64_FORMAT ") appears twice",
							 keys[i], tids[i]);
	}
}

/*
 * Walk one tree's leaves and verify each leaf and its links.  Collects the
 * leaves in chain order and, for heapallindexed, fingerprints the entries.
 * Every leaf of a format-5 index stores pending entries whole, none of a
 * format-4 one (an earlier library would misread it).
 */
static int
check_tree(Relation index, int tree, BlockNumber root, BlockNumber nblocks, uint32 format,
		   CheckLeaf **leaves_out, bloom_filter *filter, int64 *nentries)
{
	uint16		want = tree == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF;
	BlockNumber blkno = root;
	BlockNumber prev = InvalidBlockNumber;
	OmenPos		prevhigh = {0, 0};
	int			n = 0;
	int			cap = 64;
	CheckLeaf  *leaves = palloc(cap * sizeof(CheckLeaf));
	int64	   *keys = palloc(OMEN_LEAF_MAX_ENTRIES * sizeof(int64));
	int64	   *tids = palloc(OMEN_LEAF_MAX_ENTRIES * sizeof(int64));

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf;
		Page		page;
		OmenPageOpaque opaque;
		int			ne;

		CHECK_FOR_INTERRUPTS();
		if ((BlockNumber) n >= nblocks)
			omen_corrupt(index, blkno, "leaf chain of tree %d has more pages than the index (a cycle)", tree);
		if (blkno >= nblocks)
			omen_corrupt(index, prev, "right link points past the end of the index to block %u", blkno);
		buf = omen_read_page(index, blkno, BUFFER_LOCK_SHARE, want);
		page = BufferGetPage(buf);
		opaque = OmenPageGetOpaque(page);
		ne = OmenLeafNEntries(page);

		if (omen_leaf_wide_pending(page) != (format >= 5))
			omen_corrupt(index, blkno, "leaf %s the WIDE_PENDING flag in an index of format %u",
						 omen_leaf_wide_pending(page) ? "has" : "lacks", format);
		if (opaque->left != prev)
			omen_corrupt(index, blkno, "left link is %u, expected %u", opaque->left, prev);
		if (n == 0)
		{
			if (opaque->low.key != OMEN_POS_MIN_KEY || opaque->low.tid != OMEN_TID_MIN)
				omen_corrupt(index, blkno, "leftmost leaf has a finite low fence");
		}
		else if (opaque->low.key != prevhigh.key || opaque->low.tid != prevhigh.tid)
			omen_corrupt(index, blkno, "low fence differs from the high fence of left sibling %u", prev);
		if (opaque->right != InvalidBlockNumber &&
			omen_pos_cmp(opaque->low.key, opaque->low.tid, opaque->high.key, opaque->high.tid) >= 0)
			omen_corrupt(index, blkno, "low fence is not below the high fence");
		if (opaque->right == InvalidBlockNumber &&
			(opaque->high.key != OMEN_POS_MAX_KEY || opaque->high.tid != OMEN_TID_MAX))
			omen_corrupt(index, blkno, "rightmost leaf has a finite high fence");

		check_leaf_entries(index, blkno, page, tree, filter, keys, tids);
		*nentries += ne;

		if (n == cap)
		{
			cap *= 2;
			leaves = repalloc_huge(leaves, cap * sizeof(CheckLeaf));
		}
		leaves[n].blkno = blkno;
		leaves[n].low = opaque->low;
		n++;
		prevhigh = opaque->high;
		prev = blkno;
		blkno = opaque->right;
		UnlockReleaseBuffer(buf);
	}
	pfree(keys);
	pfree(tids);
	*leaves_out = leaves;
	return n;
}

/*
 * The model against the leaves: its directory (the pieces' leaves) must
 * be in position order, every fit point within epsilon of its slot, a
 * model with no split since it was fit must list as many leaves as the
 * chain has, and the lookup of every leaf's low fence must end on that
 * leaf.
 */
static void
check_model_tree(Relation index, OmenModelCache *model, int tree, CheckLeaf *leaves, int nleaves,
				 bool fresh, double *maxerr)
{
	OmenTreeModel *tm = &model->tree[tree];
	uint32		p;
	uint32		d;
	int			i;

	for (p = 0; p < tm->npieces; p++)
	{
		const OmenPiece *pc = &tm->pieces[p];

		/*
		 * The directory must be in position order.  An entry need not name
		 * the leaf it named at the fit: fences go down (rebalance_right),
		 * VACUUM unlinks empty leaves and recycles them, and lookups step
		 * over such entries; what must hold is checked below, by looking
		 * every leaf up.
		 */
		for (d = 1; d < pc->nleaves; d++)
			if (omen_pos_cmp(pc->keys[d - 1], pc->tids[d - 1], pc->keys[d], pc->tids[d]) > 0)
				omen_corrupt(index, pc->blocks[d],
							 "slot %u of model piece %u of tree %d is out of order", d, p, tree);
		if (p > 0 && omen_pos_cmp(tm->piece_keys[p - 1], tm->piece_tids[p - 1], pc->keys[0], pc->tids[0]) > 0)
			omen_corrupt(index, pc->blocks[0], "model piece %u of tree %d is out of order", p, tree);

		for (d = 0; d < pc->nleaves; d++)
		{
			double		err;
			int			s;

			/* only the first slot of a key is a fit point; the leftmost leaf is not one */
			if ((p == 0 && d == 0 && pc->nleaves > 1) || (d > 0 && pc->keys[d] == pc->keys[d - 1]))
				continue;
			s = omen_piece_segment_for(pc, pc->keys[d]);
			err = fabs(omen_segment_predict(&pc->segs[s], pc->keys[d]) - (double) d);
			if (omen_error_leaves(err) > model->epsilon)
				omen_corrupt(index, pc->blocks[d],
							 "model error %.2f at slot %u of piece %u of tree %d exceeds epsilon %u",
							 err, d, p, tree, model->epsilon);
			*maxerr = Max(*maxerr, err);
		}
	}
	if (fresh && tm->nleaves != (uint32) nleaves)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO,
					 "model of tree %d lists %u leaves, the chain has %d, with no split since the fit",
					 tree, tm->nleaves, nleaves);

	/* every leaf's low fence leads to that leaf */
	for (i = 0; i < nleaves; i++)
	{
		uint16		want = tree == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF;
		Buffer		buf = omen_find_leaf(index, tree, leaves[i].low.key, leaves[i].low.tid,
										 BUFFER_LOCK_SHARE, want);
		BlockNumber b = BufferGetBlockNumber(buf);

		UnlockReleaseBuffer(buf);
		if (b != leaves[i].blkno)
			omen_corrupt(index, leaves[i].blkno, "the lookup of the leaf's low fence ends on block %u", b);
	}
}

static void
heap_check_callback(Relation index, ItemPointer tid, Datum *values,
					bool *isnull, bool tupleIsAlive, void *state)
{
	HeapCheckState *hs = (HeapCheckState *) state;
	EntryFingerprint fp;
	int64		t = omen_tid_encode(tid);

	if (isnull[0])
		fingerprint(&fp, true, t, t);
	else
		fingerprint(&fp, false, omen_datum_to_key(values[0], hs->keytype), t);
	hs->heaptuples++;
	if (bloom_lacks_element(hs->filter, (unsigned char *) &fp, sizeof(fp)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("heap tuple (%u,%u) of \"%s\" lacks an entry in index \"%s\"",
						ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
						hs->heapname,
						RelationGetRelationName(hs->index)),
				 errdetail("Key %s.", isnull[0] ? "NULL" : psprintf(INT64_FORMAT, omen_datum_to_key(values[0], hs->keytype))),
				 errhint("Please REINDEX it.")));
}

Datum
omen_index_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	bool		heapallindexed = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	Oid			heapoid = index_heap_or_error(indexoid);
	Relation	heap;
	Relation	index;
	OmenMetaPageData meta;
	BlockNumber nblocks;
	CheckLeaf  *leaves[OMEN_NTREES];
	int			nleaves[OMEN_NTREES];
	int64		nentries = 0;
	bloom_filter *filter = NULL;
	OmenModelCache *model;
	double		maxerr = 0;
	bool		fresh;
	int			t;

	/*
	 * ShareLock on the table keeps writers and VACUUM out (as amcheck's
	 * bt_index_parent_check does); the retrain lock keeps the model still.
	 * A standby cannot take that lock, and WAL replay would change the
	 * index under the check, so the check runs on the primary only.
	 */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recovery is in progress"),
				 errhint("omen_index_check runs on the primary; a standby's copy is the primary's, page for page.")));
	heap = table_open(heapoid, ShareLock);
	index = open_omen_index(indexoid, AccessShareLock);
	omen_lock_retrain(index);

	omen_read_meta(index, &meta);
	nblocks = RelationGetNumberOfBlocks(index);
	if (meta.epsilon < OMEN_MIN_EPSILON || meta.epsilon > OMEN_MAX_EPSILON)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "epsilon %u is out of range", meta.epsilon);
	if (meta.splits_at_retrain > meta.splits_total)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "split counters are inconsistent");
	if (meta.model_head >= nblocks)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "model head %u lies past the end", meta.model_head);

	if (heapallindexed)
	{
		int64		total = (int64) Max(heap->rd_rel->reltuples, 0) + 1000;

		filter = bloom_create(total, maintenance_work_mem, 0x5EED);
	}
	for (t = 0; t < OMEN_NTREES; t++)
	{
		if (meta.root[t] >= nblocks)
			omen_corrupt(index, OMEN_METAPAGE_BLKNO, "root of tree %d lies past the end", t);
		nleaves[t] = check_tree(index, t, meta.root[t], nblocks, meta.format_version, &leaves[t], filter,
								&nentries);
	}
	if (meta.leaf_pages != (uint64) (nleaves[0] + nleaves[1]))
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "metapage counts " UINT64_FORMAT " leaves, the chains hold %d",
					 meta.leaf_pages, nleaves[0] + nleaves[1]);

	/* the model, read from its pages (not the cache) */
	model = omen_load_model(index, CurrentMemoryContext, true);
	if (model->epsilon != meta.epsilon)
		omen_corrupt(index, meta.model_head, "model epsilon %u differs from the metapage's %u",
					 model->epsilon, meta.epsilon);
	if (meta.model_leaves != model->tree[0].nleaves + model->tree[1].nleaves)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "metapage says the model lists %u leaves, its pieces list %u",
					 meta.model_leaves, model->tree[0].nleaves + model->tree[1].nleaves);
	fresh = meta.splits_total == meta.splits_at_retrain;
	for (t = 0; t < OMEN_NTREES; t++)
		check_model_tree(index, model, t, leaves[t], nleaves[t], fresh, &maxerr);
	if (omen_error_leaves(maxerr) > meta.max_error)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "model error %.2f exceeds the recorded maximum %u",
					 maxerr, meta.max_error);

	omen_unlock_retrain(index);

	if (heapallindexed)
	{
		IndexInfo  *indexInfo = BuildIndexInfo(index);
		HeapCheckState hs;

		hs.filter = filter;
		hs.index = index;
		hs.heapname = RelationGetRelationName(heap);
		hs.keytype = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
		hs.heaptuples = 0;
		table_index_build_scan(heap, index, indexInfo, true, false,
							   heap_check_callback, &hs, NULL);
		bloom_free(filter);
	}

	index_close(index, AccessShareLock);
	table_close(heap, ShareLock);
	PG_RETURN_VOID();
}
