/*
 * omenmodel.c
 *	  The learned model: fitting, (de)serialization, the per-backend cache,
 *	  leaf lookup and retraining.
 *
 * The model maps a key to a slot of the leaf directory (the leaves in key
 * order with their low fences).  Each segment is a line fitted over the
 * points (distinct low-fence key, first slot with that key) so that every
 * point is predicted within +-epsilon slots.  The fit is one streaming pass:
 * the set of feasible (slope, intercept) pairs of the current segment is a
 * convex polygon, clipped by the two half-planes of each new point; when it
 * becomes empty the segment ends.  This is the exact feasibility region,
 * not a cone anchored at the first point, so a segment is as long as any
 * line through its first point's error band allows.
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "omen.h"

#define OMEN_MODEL_PAGE_DATA	((int) (BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(OmenPageOpaqueData))))
#define OMEN_FIT_MAX_VERTICES	128

typedef struct FitVertex
{
	double		a;				/* slope */
	double		b;				/* intercept (slot at the first key) */
} FitVertex;

typedef struct FitResult
{
	OmenSegment *segs;
	int			nsegs;
	int			cap;
	double		max_error;
	double		sum_error;
	int64		npoints;
} FitResult;

/* ---------------------------------------------------------------------
 * Prediction
 * ---------------------------------------------------------------------
 */

/*
 * The distance from the segment's first key is computed in unsigned 64-bit
 * arithmetic, exact for the whole int64 range, before converting to double.
 */
double
omen_segment_predict(const OmenSegment *seg, int64 key)
{
	uint64		d = (uint64) key - (uint64) seg->first_key;

	if (key < seg->first_key)
		return seg->intercept;
	return seg->intercept + seg->slope * (double) d;
}

/* Index of the last segment whose first key is <= key, or 0. */
int
omen_model_segment_for(const OmenTreeModel *tm, int64 key)
{
	int			lo = 0;
	int			hi = tm->nsegments;

	while (hi - lo > 1)
	{
		int			mid = lo + (hi - lo) / 2;

		if (tm->seg_keys[mid] <= key)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static inline bool
dir_le(const OmenTreeModel *tm, int i, int64 key, int64 tid)
{
	return omen_pos_cmp(tm->dir_keys[i], tm->dir_tids[i], key, tid) <= 0;
}

/*
 * The leaf to start from for position (key, tid): the last directory leaf
 * whose low fence is <= the position.  The search gallops out from the
 * predicted slot, so its cost is logarithmic in the model's actual error
 * and correctness does not depend on the prediction.
 */
BlockNumber
omen_model_find_leaf(OmenModelCache *model, int tree, int64 key, int64 tid, bool *at_end)
{
	const OmenTreeModel *tm = &model->tree[tree];
	const OmenSegment *seg;
	int			n = tm->nleaves;
	int			p;
	int			lo;
	int			hi;
	int			step;
	double		g;

	if (n == 0 || tm->nsegments == 0)
		return InvalidBlockNumber;

	seg = &tm->segs[omen_model_segment_for(tm, key)];
	g = omen_segment_predict(seg, key);
	if (g < (double) seg->first_slot)
		p = seg->first_slot;
	else if (g >= (double) (seg->first_slot + seg->nslots - 1))
		p = seg->first_slot + seg->nslots - 1;
	else
		p = (int) g;

	if (dir_le(tm, p, key, tid))
	{
		lo = p;
		step = 1;
		while (lo + step < n && dir_le(tm, lo + step, key, tid))
		{
			lo += step;
			step *= 2;
		}
		hi = Min(lo + step, n);
	}
	else
	{
		hi = p;
		step = 1;
		while (hi - step > 0 && !dir_le(tm, hi - step, key, tid))
		{
			hi -= step;
			step *= 2;
		}
		lo = Max(hi - step, 0);
	}
	/* invariant: dir[lo] <= target, dir[hi] > target or hi == n */
	while (hi - lo > 1)
	{
		int			mid = lo + (hi - lo) / 2;

		if (dir_le(tm, mid, key, tid))
			lo = mid;
		else
			hi = mid;
	}
	if (lo < n - 1)
	{
		*at_end = false;
		return tm->dir_blocks[lo];
	}

	/* past the last directory leaf: the leaves this backend learned */
	lo = -1;
	hi = tm->ntail;
	while (hi - lo > 1)
	{
		int			mid = lo + (hi - lo) / 2;

		if (omen_pos_cmp(tm->tail_keys[mid], tm->tail_tids[mid], key, tid) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	*at_end = (lo == (int) tm->ntail - 1);
	return lo >= 0 ? tm->tail_blocks[lo] : tm->dir_blocks[n - 1];
}

/* Remember a leaf found right of every leaf the model knows. */
static void
learn_tail_leaf(OmenModelCache *model, int tree, Page page, BlockNumber blkno)
{
	OmenTreeModel *tm = &model->tree[tree];
	OmenPageOpaque opaque = OmenPageGetOpaque(page);

	if (tm->ntail >= OMEN_TAIL_CAPACITY)
		return;
	tm->tail_keys[tm->ntail] = opaque->low.key;
	tm->tail_tids[tm->ntail] = opaque->low.tid;
	tm->tail_blocks[tm->ntail] = blkno;
	tm->ntail++;
}

/*
 * B-link move-right: while the position is at or beyond the leaf's high
 * fence, step to the right sibling.  The lock on one leaf is released
 * before the next is taken; splits only move entries right, so nothing is
 * missed.
 */
Buffer
omen_move_right(Relation index, Buffer buf, int64 key, int64 tid, int lockmode, uint16 want)
{
	for (;;)
	{
		Page		page = BufferGetPage(buf);
		OmenPageOpaque opaque = OmenPageGetOpaque(page);
		BlockNumber next;

		if (opaque->right == InvalidBlockNumber ||
			omen_pos_cmp(key, tid, opaque->high.key, opaque->high.tid) < 0)
		{
			if (omen_pos_cmp(key, tid, opaque->low.key, opaque->low.tid) < 0)
				omen_corrupt(index, BufferGetBlockNumber(buf),
							 "position (" INT64_FORMAT ", " INT64_FORMAT ") lies left of the low fence (" INT64_FORMAT ", " INT64_FORMAT ")",
							 key, tid, opaque->low.key, opaque->low.tid);
			return buf;
		}
		next = opaque->right;
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
		buf = omen_read_page(index, next, lockmode, want);
	}
}

/*
 * Find and lock the leaf of the given tree whose range holds (key, tid).
 * When the walk starts from the last leaf this backend knows, the leaves
 * it passes are remembered (see OmenTreeModel.ntail), so a model that is
 * stale only because of appends costs each backend the walk once.
 */
Buffer
omen_find_leaf(Relation index, int tree, int64 key, int64 tid, int lockmode, uint16 want)
{
	OmenModelCache *model = omen_get_model(index);
	bool		at_end;
	BlockNumber blkno = omen_model_find_leaf(model, tree, key, tid, &at_end);
	Buffer		buf;
	int			steps = 0;

	if (blkno == InvalidBlockNumber)
		omen_corrupt(index, OMEN_METAPAGE_BLKNO, "the model lists no leaf for tree %d", tree);
	buf = omen_read_page(index, blkno, lockmode, want);

	for (;;)
	{
		Page		page = BufferGetPage(buf);
		OmenPageOpaque opaque = OmenPageGetOpaque(page);
		BlockNumber next;

		if (opaque->right == InvalidBlockNumber ||
			omen_pos_cmp(key, tid, opaque->high.key, opaque->high.tid) < 0)
			return omen_move_right(index, buf, key, tid, lockmode, want);
		next = opaque->right;
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
		if (++steps == OMEN_LONG_WALK && !model->stale)
		{
			/*
			 * The model is stale here.  If a newer one has been published
			 * (by a backend whose invalidation we have not seen yet), use
			 * it from the next lookup on.  The metapage is read with no
			 * leaf locked.
			 */
			OmenMetaPageData meta;

			omen_read_meta(index, &meta);
			if (meta.model_version != model->version)
				model->stale = true;
		}
		buf = omen_read_page(index, next, lockmode, want);
		if (at_end)
			learn_tail_leaf(model, tree, BufferGetPage(buf), next);
	}
}

/* ---------------------------------------------------------------------
 * Fitting
 * ---------------------------------------------------------------------
 */

/*
 * Clip a convex polygon to the half-plane A*a + B*b >= C.  Returns the new
 * vertex count (0 when empty).
 */
/*
 * Drop vertices that coincide (to rounding) with their predecessor.  A
 * half-plane that passes through a vertex would otherwise add a copy of it
 * at every clip, and exactly linear keys would fill the vertex array.
 */
static bool
vertex_same(const FitVertex *p, const FitVertex *q)
{
	return fabs(p->a - q->a) <= 1e-12 * Max(fabs(p->a), fabs(q->a)) + 1e-300 &&
		fabs(p->b - q->b) <= 1e-9 * (Max(fabs(p->b), fabs(q->b)) + 1.0);
}

static int
dedupe_vertices(FitVertex *v, int n)
{
	int			m = 0;
	int			i;

	for (i = 0; i < n; i++)
		if (m == 0 || !vertex_same(&v[m - 1], &v[i]))
			v[m++] = v[i];
	while (m > 1 && vertex_same(&v[m - 1], &v[0]))
		m--;
	return m;
}

static int
clip_polygon(FitVertex *in, int n, FitVertex *out, double A, double B, double C)
{
	int			m = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		FitVertex	p = in[i];
		FitVertex	q = in[(i + 1) % n];
		double		sp = A * p.a + B * p.b - C;
		double		sq = A * q.a + B * q.b - C;

		if (sp >= 0)
		{
			if (m >= OMEN_FIT_MAX_VERTICES)
				return 0;
			out[m++] = p;
		}
		if ((sp >= 0) != (sq >= 0))
		{
			double		t = sp / (sp - sq);

			if (m >= OMEN_FIT_MAX_VERTICES)
				return 0;
			out[m].a = p.a + t * (q.a - p.a);
			out[m].b = p.b + t * (q.b - p.b);
			m++;
		}
	}
	return dedupe_vertices(out, m);
}

/*
 * Fit one segment from point 'start' as far as possible, but not beyond
 * 'limit'.  Returns the end (exclusive) and the chosen line.
 */
static int
fit_one_segment(const int64 *px, const double *py, int start, int limit,
				double eps, double amax, double *slope, double *intercept)
{
	FitVertex	bufA[OMEN_FIT_MAX_VERTICES];
	FitVertex	bufB[OMEN_FIT_MAX_VERTICES];
	FitVertex	bufC[OMEN_FIT_MAX_VERTICES];
	FitVertex  *poly = bufA;
	int			n = 4;
	int			k;
	double		y0 = py[start];
	double		sa = 0,
				sb = 0;
	int			i;

	poly[0].a = 0;
	poly[0].b = y0 - eps;
	poly[1].a = amax;
	poly[1].b = y0 - eps;
	poly[2].a = amax;
	poly[2].b = y0 + eps;
	poly[3].a = 0;
	poly[3].b = y0 + eps;

	for (k = start + 1; k < limit; k++)
	{
		double		dx = (double) ((uint64) px[k] - (uint64) px[start]);
		int			m1;
		int			m2;

		/* a*dx + b >= y - eps  and  -a*dx - b >= -(y + eps) */
		m1 = clip_polygon(poly, n, bufB, dx, 1.0, py[k] - eps);
		if (m1 < 3)
			break;
		m2 = clip_polygon(bufB, m1, bufC, -dx, -1.0, -(py[k] + eps));
		if (m2 < 3)
			break;
		poly = (poly == bufA) ? bufC : bufA;
		memcpy(poly, bufC, m2 * sizeof(FitVertex));
		n = m2;
	}

	/*
	 * Take the area centroid of the feasible polygon: it lies inside, and
	 * unlike the average of the vertices it is not pulled towards a corner
	 * where many nearly parallel constraints left a cluster of vertices.
	 * Coordinates are taken relative to the first vertex for precision.
	 */
	{
		double		area2 = 0;
		double		ca = 0;
		double		cb = 0;

		for (i = 0; i < n; i++)
		{
			double		a0 = poly[i].a - poly[0].a;
			double		b0 = poly[i].b - poly[0].b;
			double		a1 = poly[(i + 1) % n].a - poly[0].a;
			double		b1 = poly[(i + 1) % n].b - poly[0].b;
			double		cross = a0 * b1 - a1 * b0;

			area2 += cross;
			ca += (a0 + a1) * cross;
			cb += (b0 + b1) * cross;
			sa += poly[i].a;
			sb += poly[i].b;
		}
		if (fabs(area2) > 0 && isfinite(ca / (3 * area2)) && isfinite(cb / (3 * area2)))
		{
			*slope = poly[0].a + ca / (3 * area2);
			*intercept = poly[0].b + cb / (3 * area2);
		}
		else
		{
			*slope = sa / n;
			*intercept = sb / n;
		}
	}
	return k;
}

static void
fit_add_segment(FitResult *res, OmenSegment *seg)
{
	if (res->nsegs == res->cap)
	{
		res->cap = res->cap ? res->cap * 2 : 64;
		res->segs = res->segs ? repalloc_huge(res->segs, res->cap * sizeof(OmenSegment))
			: palloc(res->cap * sizeof(OmenSegment));
	}
	res->segs[res->nsegs++] = *seg;
}

/*
 * Fit the segments of one tree's directory.  The error of every point is
 * verified with the same prediction function the lookups use, so the bound
 * holds exactly, whatever the floating-point rounding.
 */
static void
fit_tree(const int64 *keys, int n, double eps, FitResult *res)
{
	int64	   *px;
	double	   *py;
	int			npts = 0;
	int			i;
	int			j;
	double		amax = (double) n + 2 * eps + 2;

	MemSet(res, 0, sizeof(FitResult));
	if (n == 0)
		return;

	px = palloc_extended(n * sizeof(int64), MCXT_ALLOC_HUGE);
	py = palloc_extended(n * sizeof(double), MCXT_ALLOC_HUGE);
	/*
	 * Slot 0 is the leftmost leaf, whose low fence is minus infinity: as a
	 * fit point it would stretch the first segment over the whole negative
	 * key space.  It is left out; the first segment covers it by clamping.
	 */
	for (i = (n > 1) ? 1 : 0; i < n; i++)
	{
		if (npts == 0 || keys[i] != keys[i - 1])
		{
			px[npts] = keys[i];
			py[npts] = (double) i;
			npts++;
		}
	}

	j = 0;
	while (j < npts)
	{
		int			limit = npts;
		int			end;
		double		slope;
		double		intercept;
		OmenSegment seg;
		int			bad;

		for (;;)
		{
			end = fit_one_segment(px, py, j, limit, eps, amax, &slope, &intercept);
			seg.first_key = px[j];
			seg.slope = slope;
			seg.intercept = intercept;

			/* verify; on a rounding failure, stop the segment before it */
			bad = -1;
			for (i = j; i < end; i++)
			{
				double		err = fabs(omen_segment_predict(&seg, px[i]) - py[i]);

				if (err > eps)
				{
					bad = i;
					break;
				}
			}
			if (bad < 0)
				break;
			if (bad == j)
			{
				/* a one-point segment through the point itself */
				end = j + 1;
				seg.slope = 0;
				seg.intercept = py[j];
				break;
			}
			limit = bad;
		}

		seg.first_slot = (j == 0) ? 0 : (uint32) py[j];
		seg.nslots = (uint32) ((end < npts ? py[end] : (double) n) - seg.first_slot);
		for (i = j; i < end; i++)
		{
			double		err = fabs(omen_segment_predict(&seg, px[i]) - py[i]);

			res->max_error = Max(res->max_error, err);
			res->sum_error += err;
		}
		res->npoints += end - j;
		fit_add_segment(res, &seg);
		j = end;
	}
	pfree(px);
	pfree(py);
}

static Size
blob_tree_size(uint32 nsegs, uint32 nleaves)
{
	return MAXALIGN(nsegs * sizeof(OmenSegment)) +
		MAXALIGN(nleaves * sizeof(int64)) * 2 +
		MAXALIGN(nleaves * sizeof(BlockNumber));
}

/*
 * Fit both trees and serialize the model.  Returns the blob size.
 */
Size
omen_model_fit(OmenLeafList *lists, uint32 epsilon, uint64 version, char **blob_out)
{
	FitResult	res[OMEN_NTREES];
	OmenModelBlobHeader *hdr;
	Size		size = MAXALIGN(sizeof(OmenModelBlobHeader));
	char	   *blob;
	char	   *p;
	int			t;

	for (t = 0; t < OMEN_NTREES; t++)
	{
		fit_tree(lists[t].keys, lists[t].n, (double) epsilon, &res[t]);
		size += blob_tree_size(res[t].nsegs, lists[t].n);
	}

	blob = palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	hdr = (OmenModelBlobHeader *) blob;
	hdr->magic = OMEN_MAGIC;
	hdr->epsilon = epsilon;
	hdr->version = version;
	p = blob + MAXALIGN(sizeof(OmenModelBlobHeader));
	for (t = 0; t < OMEN_NTREES; t++)
	{
		uint32		n = lists[t].n;

		hdr->tree[t].nsegments = res[t].nsegs;
		hdr->tree[t].nleaves = n;
		hdr->tree[t].max_error = (uint32) ceil(Max(res[t].max_error - 1e-6, 0.0));
		hdr->tree[t].mean_error = res[t].npoints > 0 ? res[t].sum_error / res[t].npoints : 0;
		if (res[t].nsegs > 0)
			memcpy(p, res[t].segs, res[t].nsegs * sizeof(OmenSegment));
		p += MAXALIGN(res[t].nsegs * sizeof(OmenSegment));
		if (n > 0)
		{
			memcpy(p, lists[t].keys, n * sizeof(int64));
			memcpy(p + MAXALIGN(n * sizeof(int64)), lists[t].tids, n * sizeof(int64));
			memcpy(p + 2 * MAXALIGN(n * sizeof(int64)), lists[t].blocks, n * sizeof(BlockNumber));
		}
		p += 2 * MAXALIGN(n * sizeof(int64)) + MAXALIGN(n * sizeof(BlockNumber));
		if (res[t].segs)
			pfree(res[t].segs);
	}
	Assert(p == blob + size);
	*blob_out = blob;
	return size;
}

/*
 * Point a cache's tree models into its blob.  With 'validate', check that
 * the blob is well formed (used by omen_index_check); lookups trust a blob
 * whose pages passed the page checks and version match.
 */
void
omen_model_from_blob(char *blob, OmenModelCache *cache, bool validate)
{
	OmenModelBlobHeader *hdr = (OmenModelBlobHeader *) blob;
	char	   *p = blob + MAXALIGN(sizeof(OmenModelBlobHeader));
	int			t;

	if (hdr->magic != OMEN_MAGIC)
		elog(ERROR, "omen: model blob has bad magic 0x%08X", hdr->magic);
	cache->version = hdr->version;
	cache->epsilon = hdr->epsilon;
	for (t = 0; t < OMEN_NTREES; t++)
	{
		OmenTreeModel *tm = &cache->tree[t];
		uint32		n = hdr->tree[t].nleaves;
		uint32		i;

		tm->nsegments = hdr->tree[t].nsegments;
		tm->nleaves = n;
		tm->max_error = hdr->tree[t].max_error;
		tm->mean_error = hdr->tree[t].mean_error;
		tm->segs = (OmenSegment *) p;
		p += MAXALIGN(tm->nsegments * sizeof(OmenSegment));
		tm->dir_keys = (int64 *) p;
		p += MAXALIGN(n * sizeof(int64));
		tm->dir_tids = (int64 *) p;
		p += MAXALIGN(n * sizeof(int64));
		tm->dir_blocks = (BlockNumber *) p;
		p += MAXALIGN(n * sizeof(BlockNumber));

		/* the segments' first keys, contiguous for the binary search */
		tm->seg_keys = NULL;
		if (validate)
		{
			if (n == 0 || tm->nsegments == 0 || tm->nsegments > n)
				elog(ERROR, "omen: model tree %d has %u segments over %u leaves", t, tm->nsegments, n);
			for (i = 1; i < n; i++)
				if (omen_pos_cmp(tm->dir_keys[i - 1], tm->dir_tids[i - 1],
								 tm->dir_keys[i], tm->dir_tids[i]) >= 0)
					elog(ERROR, "omen: model directory of tree %d is out of order at slot %u", t, i);
			for (i = 0; i < tm->nsegments; i++)
				if (tm->segs[i].first_slot + tm->segs[i].nslots > n ||
					(i > 0 && tm->segs[i].first_key <= tm->segs[i - 1].first_key))
					elog(ERROR, "omen: model segment %u of tree %d is inconsistent", i, t);
		}
	}
}

/* Size of the cache for a blob: the blob plus the segment key arrays. */
static OmenModelCache *
cache_from_blob(MemoryContext cxt, const char *blob, Size len)
{
	const OmenModelBlobHeader *hdr = (const OmenModelBlobHeader *) blob;
	Size		keys_size = 0;
	Size		total;
	OmenModelCache *cache;
	char	   *data;
	char	   *kp;
	int			t;

	for (t = 0; t < OMEN_NTREES; t++)
		keys_size += MAXALIGN(hdr->tree[t].nsegments * sizeof(int64)) +
			OMEN_TAIL_CAPACITY * (2 * sizeof(int64) + sizeof(BlockNumber));
	total = MAXALIGN(sizeof(OmenModelCache)) + MAXALIGN(len) + keys_size;
	cache = MemoryContextAllocExtended(cxt, total, MCXT_ALLOC_HUGE);
	data = (char *) cache + MAXALIGN(sizeof(OmenModelCache));
	memcpy(data, blob, len);
	omen_model_from_blob(data, cache, false);
	kp = data + MAXALIGN(len);
	for (t = 0; t < OMEN_NTREES; t++)
	{
		OmenTreeModel *tm = &cache->tree[t];
		uint32		i;

		tm->seg_keys = (int64 *) kp;
		for (i = 0; i < tm->nsegments; i++)
			tm->seg_keys[i] = tm->segs[i].first_key;
		kp += MAXALIGN(tm->nsegments * sizeof(int64));
		tm->ntail = 0;
		tm->tail_keys = (int64 *) kp;
		kp += OMEN_TAIL_CAPACITY * sizeof(int64);
		tm->tail_tids = (int64 *) kp;
		kp += OMEN_TAIL_CAPACITY * sizeof(int64);
		tm->tail_blocks = (BlockNumber *) kp;
		kp += OMEN_TAIL_CAPACITY * sizeof(BlockNumber);
		cache->insert_hint[t] = InvalidBlockNumber;
	}
	cache->stale = false;
	return cache;
}

/* ---------------------------------------------------------------------
 * Model pages
 * ---------------------------------------------------------------------
 */

/*
 * Read the current model from its pages.  A retrain may publish a new model
 * and recycle the pages we are reading; every page carries the model
 * version, and a mismatch makes us start over from the metapage.
 */
char *
omen_read_model_blob(Relation index, Size *len_out, uint64 *version_out)
{
	int			attempt;

	for (attempt = 0; attempt < 100; attempt++)
	{
		OmenMetaPageData meta;
		char	   *blob;
		Size		off = 0;
		BlockNumber blkno;
		uint32		npages = 0;
		bool		ok = true;

		omen_read_meta(index, &meta);
		if (meta.model_head == InvalidBlockNumber || meta.model_bytes == 0)
			omen_corrupt(index, OMEN_METAPAGE_BLKNO, "the metapage points to no model");
		blob = palloc_extended(meta.model_bytes, MCXT_ALLOC_HUGE);
		blkno = meta.model_head;
		while (off < meta.model_bytes)
		{
			Buffer		buf;
			Page		page;
			OmenPageOpaque opaque;
			Size		chunk;

			if (blkno == InvalidBlockNumber || npages >= meta.model_npages)
			{
				ok = false;
				break;
			}
			buf = omen_read_page(index, blkno, BUFFER_LOCK_SHARE, 0);
			page = BufferGetPage(buf);
			opaque = OmenPageGetOpaque(page);
			chunk = ((PageHeader) page)->pd_lower - SizeOfPageHeaderData;
			if (!(opaque->flags & OMEN_P_MODEL) || opaque->version != meta.model_version ||
				chunk > meta.model_bytes - off)
			{
				UnlockReleaseBuffer(buf);
				ok = false;
				break;
			}
			memcpy(blob + off, PageGetContents(page), chunk);
			off += chunk;
			blkno = opaque->right;
			npages++;
			UnlockReleaseBuffer(buf);
		}
		if (ok)
		{
			OmenMetaPageData meta2;

			/*
			 * A chain that ends early is corruption if the model is still
			 * current; if it was replaced meanwhile, just try again.
			 */
			*len_out = meta.model_bytes;
			*version_out = meta.model_version;
			if (((OmenModelBlobHeader *) blob)->version == meta.model_version)
				return blob;
			omen_read_meta(index, &meta2);
			if (meta2.model_version == meta.model_version)
				omen_corrupt(index, meta.model_head, "model pages disagree with the metapage");
		}
		else
		{
			OmenMetaPageData meta2;

			omen_read_meta(index, &meta2);
			if (meta2.model_version == meta.model_version)
				omen_corrupt(index, blkno, "model page chain is broken (model version " UINT64_FORMAT ")",
							 meta.model_version);
		}
		pfree(blob);
	}
	elog(ERROR, "omen: could not read a stable model of index \"%s\"", RelationGetRelationName(index));
	return NULL;				/* keep compiler quiet */
}

/*
 * The model of an index, cached in rd_amcache for the life of the relcache
 * entry.  A retrain sends a relcache invalidation, so each backend reloads
 * the model once per version; a stale cache is still correct, only slower.
 */
OmenModelCache *
omen_get_model(Relation index)
{
	if (index->rd_amcache != NULL && ((OmenModelCache *) index->rd_amcache)->stale)
	{
		pfree(index->rd_amcache);
		index->rd_amcache = NULL;
	}
	if (index->rd_amcache == NULL)
	{
		Size		len;
		uint64		version;
		char	   *blob = omen_read_model_blob(index, &len, &version);

		index->rd_amcache = cache_from_blob(index->rd_indexcxt, blob, len);
		pfree(blob);
	}
	return (OmenModelCache *) index->rd_amcache;
}

/*
 * Fill a model page image with one chunk of the blob.
 */
static void
fill_model_page(Page page, const char *data, Size len, uint64 version, BlockNumber next)
{
	OmenPageOpaque opaque;

	omen_init_page(page, OMEN_P_MODEL);
	opaque = OmenPageGetOpaque(page);
	opaque->version = version;
	opaque->right = next;
	memcpy(PageGetContents(page), data, len);
	((PageHeader) page)->pd_lower = SizeOfPageHeaderData + len;
	Assert(MAXALIGN(SizeOfPageHeaderData) == SizeOfPageHeaderData);
}

/*
 * Write a blob into newly allocated model pages (WAL-logged), last chunk
 * first so each page can link to its successor.  Returns the head block.
 */
BlockNumber
omen_write_model_pages(Relation index, const char *blob, Size len, uint64 version, uint32 *npages)
{
	int			nchunks = (len + OMEN_MODEL_PAGE_DATA - 1) / OMEN_MODEL_PAGE_DATA;
	BlockNumber next = InvalidBlockNumber;
	int			c;

	for (c = nchunks - 1; c >= 0; c--)
	{
		Size		off = (Size) c * OMEN_MODEL_PAGE_DATA;
		Size		chunk = Min((Size) OMEN_MODEL_PAGE_DATA, len - off);
		Buffer		buf = omen_new_page(index);
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);

		fill_model_page(page, blob + off, chunk, version, next);
		GenericXLogFinish(state);
		next = BufferGetBlockNumber(buf);
		UnlockReleaseBuffer(buf);
	}
	*npages = nchunks;
	return next;
}

/* Exposed for the build, which writes page images directly. */
void
omen_fill_model_page(Page page, const char *data, Size len, uint64 version, BlockNumber next)
{
	fill_model_page(page, data, len, version, next);
}

int
omen_model_page_data(void)
{
	return OMEN_MODEL_PAGE_DATA;
}

/*
 * Mark the pages of a model version free and give them to the FSM.  Stops
 * at the first page that is not of that version (a crash may have freed
 * part of the chain already).
 */
void
omen_free_model_chain(Relation index, BlockNumber head, uint64 version)
{
	BlockNumber blkno = head;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = omen_read_page(index, blkno, BUFFER_LOCK_EXCLUSIVE, 0);
		Page		page = BufferGetPage(buf);
		OmenPageOpaque opaque = OmenPageGetOpaque(page);
		BlockNumber next = opaque->right;
		GenericXLogState *state;

		if (!(opaque->flags & OMEN_P_MODEL) || opaque->version != version)
		{
			UnlockReleaseBuffer(buf);
			break;
		}
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		omen_init_page(page, OMEN_P_FREE);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		RecordFreeIndexPage(index, blkno);
		blkno = next;
	}
	IndexFreeSpaceMapVacuum(index);
}

/* ---------------------------------------------------------------------
 * Retraining
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

/*
 * Refit the model from the current leaves and publish it copy-on-write:
 * new model pages first, then one WAL-logged metapage update that switches
 * to them, then the old pages are freed.  A crash before the switch leaves
 * the old model (the new pages are reclaimed by VACUUM); after it, the new.
 * Readers never wait: they keep using the model they cached.
 *
 * Without 'force', nothing is done when no leaf split since the last fit.
 */
static void retrain_locked(Relation index, bool force);

void
omen_retrain(Relation index, bool force)
{
	omen_lock_retrain(index);
	retrain_locked(index, force);
	omen_unlock_retrain(index);
}

/* Retrain unless another backend is retraining this index right now. */
void
omen_try_retrain(Relation index)
{
	if (!ConditionalLockPage(index, OMEN_METAPAGE_BLKNO, ExclusiveLock))
		return;
	retrain_locked(index, false);
	omen_unlock_retrain(index);
}

static void
retrain_locked(Relation index, bool force)
{
	OmenMetaPageData meta;
	OmenLeafList lists[OMEN_NTREES];
	char	   *blob;
	Size		len;
	uint64		version;
	uint32		npages;
	BlockNumber head;
	Buffer		metabuf;
	GenericXLogState *state;
	OmenMetaPage m;
	int			t;
	uint32		nsegs = 0;
	uint32		max_error = 0;
	double		mean_error;

	omen_read_meta(index, &meta);
	if (!force && meta.splits_total == meta.splits_at_retrain)
		return;

	MemSet(lists, 0, sizeof(lists));
	for (t = 0; t < OMEN_NTREES; t++)
		omen_collect_leaves(index, meta.root[t],
							t == OMEN_TREE_NULLS ? (OMEN_P_LEAF | OMEN_P_NULLS) : OMEN_P_LEAF,
							&lists[t]);

	version = meta.model_version + 1;
	len = omen_model_fit(lists, meta.epsilon, version, &blob);
	{
		OmenModelBlobHeader *hdr = (OmenModelBlobHeader *) blob;

		nsegs = hdr->tree[OMEN_TREE_KEYS].nsegments + hdr->tree[OMEN_TREE_NULLS].nsegments;
		max_error = Max(hdr->tree[OMEN_TREE_KEYS].max_error, hdr->tree[OMEN_TREE_NULLS].max_error);
		mean_error = hdr->tree[OMEN_TREE_KEYS].mean_error;
	}
	head = omen_write_model_pages(index, blob, len, version, &npages);

	metabuf = omen_read_page(index, OMEN_METAPAGE_BLKNO, BUFFER_LOCK_EXCLUSIVE, OMEN_P_META);
	m = OmenPageGetMeta(BufferGetPage(metabuf));
	if (m->model_version != meta.model_version)
	{
		/* someone else published a model meanwhile: theirs stands */
		UnlockReleaseBuffer(metabuf);
		omen_free_model_chain(index, head, version);
	}
	else
	{
		state = GenericXLogStart(index);
		m = OmenPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		m->model_head = head;
		m->model_npages = npages;
		m->model_bytes = len;
		m->model_version = version;
		m->model_segments = nsegs;
		m->max_error = max_error;
		m->mean_error = mean_error;
		m->splits_at_retrain = meta.splits_total;
		m->retrains++;
		m->last_retrain = GetCurrentTimestamp();
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuf);

		omen_free_model_chain(index, meta.model_head, meta.model_version);

		/*
		 * Other backends drop their cached model when this transaction's
		 * invalidation reaches them (or sooner, after a long walk); this
		 * backend switches at its next lookup, even within the statement.
		 */
		CacheInvalidateRelcache(index);
		if (index->rd_amcache)
			((OmenModelCache *) index->rd_amcache)->stale = true;
	}

	pfree(blob);
	for (t = 0; t < OMEN_NTREES; t++)
		omen_leaflist_free(&lists[t]);
}

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
