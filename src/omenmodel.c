/*
 * omenmodel.c
 *	  The learned model: fitting, pieces and the model root, the per-backend
 *	  cache and leaf lookup.
 *
 * The model of a tree is a sequence of pieces, each listing up to
 * OMEN_PIECE_MAX_LEAVES consecutive leaves (their low fences and blocks)
 * with segments that map a key to a slot of the piece.  Each segment is a
 * line fitted over the points (distinct low-fence key, first slot with that
 * key) so that every point is predicted within +-epsilon slots.  The fit is
 * one streaming pass: the set of feasible (slope, intercept) pairs of the
 * current segment is a convex polygon, clipped by the two half-planes of
 * each new point; when it becomes empty the segment ends.  This is the
 * exact feasibility region, not a cone anchored at the first point, so a
 * segment is as long as any line through its first point's error band
 * allows.  Retraining (omenretrain.c) refits only the pieces that gained
 * leaves.
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

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
} FitResult;

/* ---------------------------------------------------------------------
 * Prediction and lookup
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

/* Index of the piece's last segment whose first key is <= key, or 0. */
int
omen_piece_segment_for(const OmenPiece *pc, int64 key)
{
	int			lo = 0;
	int			hi = pc->nsegments;

	while (hi - lo > 1)
	{
		int			mid = lo + (hi - lo) / 2;

		if (pc->segs[mid].first_key <= key)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the last piece whose first position is <= (key, tid), or 0. */
static int
model_piece_for(const OmenTreeModel *tm, int64 key, int64 tid)
{
	int			lo = 0;
	int			hi = tm->npieces;

	while (hi - lo > 1)
	{
		int			mid = lo + (hi - lo) / 2;

		if (omen_pos_cmp(tm->piece_keys[mid], tm->piece_tids[mid], key, tid) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static inline bool
dir_le(const OmenPiece *pc, int i, int64 key, int64 tid)
{
	return omen_pos_cmp(pc->keys[i], pc->tids[i], key, tid) <= 0;
}

/*
 * The slot of the piece's last leaf whose low fence is <= (key, tid).  The
 * search gallops out from the predicted slot, so its cost is logarithmic
 * in the model's actual error and correctness does not depend on the
 * prediction.  The caller guarantees that slot 0 is <= the position.
 */
static int
piece_find_slot(const OmenPiece *pc, int64 key, int64 tid)
{
	const OmenSegment *seg = &pc->segs[omen_piece_segment_for(pc, key)];
	int			n = pc->nleaves;
	double		g = omen_segment_predict(seg, key);
	int			p;
	int			lo;
	int			hi;
	int			step;

	if (g < (double) seg->first_slot)
		p = seg->first_slot;
	else if (g >= (double) (seg->first_slot + seg->nslots - 1))
		p = seg->first_slot + seg->nslots - 1;
	else
		p = (int) g;

	if (dir_le(pc, p, key, tid))
	{
		lo = p;
		step = 1;
		while (lo + step < n && dir_le(pc, lo + step, key, tid))
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
		while (hi - step > 0 && !dir_le(pc, hi - step, key, tid))
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

		if (dir_le(pc, mid, key, tid))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The leaf to start from for position (key, tid): the last leaf the model
 * knows whose low fence is <= the position, or, with skip > 0, the one
 * 'skip' places before it (when the leaves after it turned out to have
 * moved: see omen_find_leaf).  *at_end says that it is the last leaf this
 * backend knows of (the walk from there may learn more).  Returns
 * InvalidBlockNumber when skip goes past the first leaf.  *recent is set
 * to the leaf's slot for the buffer that last held it (omen_pin_recent).
 */
BlockNumber
omen_model_find_leaf(OmenModelCache *model, int tree, int64 key, int64 tid, bool *at_end, int skip,
					 Buffer **recent)
{
	const OmenTreeModel *tm = &model->tree[tree];
	const OmenPiece *pc;
	int			p;
	int			lo;
	int			hi;

	*at_end = false;
	*recent = NULL;
	if (tm->npieces == 0)
		return InvalidBlockNumber;

	p = model_piece_for(tm, key, tid);
	pc = &tm->pieces[p];
	lo = piece_find_slot(pc, key, tid);
	if (p == (int) tm->npieces - 1 && lo == (int) pc->nleaves - 1)
	{
		int			t;

		/* past the last directory leaf: the leaves this backend learned */
		t = -1;
		hi = tm->ntail;
		while (hi - t > 1)
		{
			int			mid = t + (hi - t) / 2;

			if (omen_pos_cmp(tm->tail_keys[mid], tm->tail_tids[mid], key, tid) <= 0)
				t = mid;
			else
				hi = mid;
		}
		if (t >= skip)
		{
			*at_end = (skip == 0 && t == (int) tm->ntail - 1);
			*recent = &tm->tail_recent[t - skip];
			return tm->tail_blocks[t - skip];
		}
		skip -= t + 1;
		*at_end = (skip == 0 && tm->ntail == 0);
	}

	/* step back 'skip' directory slots, across pieces */
	while (skip > lo)
	{
		skip -= lo + 1;
		if (--p < 0)
			return InvalidBlockNumber;
		pc = &tm->pieces[p];
		lo = pc->nleaves - 1;
	}
	*recent = &pc->recent[lo - skip];
	return pc->blocks[lo - skip];
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
	tm->tail_recent[tm->ntail] = InvalidBuffer;
	tm->ntail++;
}

/*
 * B-link move-right: while the position is at or beyond the leaf's high
 * fence, step to the right sibling.  The lock on one leaf is released
 * before the next is taken; splits only move entries right, so nothing is
 * missed.  But the sibling may have been emptied, unlinked and recycled by
 * VACUUM between the two (omenvacuum.c): a page that is no longer a leaf
 * of the tree, or whose range starts after the position, means the walk
 * lost its way, and InvalidBuffer is returned for the lookup to start
 * over.  As the walk passes leaves right of the last one the model knows,
 * it remembers them (see OmenTreeModel.ntail), so a model that is stale
 * only because of appends costs each backend the walk once.
 */
static Buffer
walk_right(Relation index, OmenModelCache *model, int tree, Buffer buf, int64 key, int64 tid,
		   int lockmode, uint16 want, bool at_end)
{
	int			steps = 0;

	for (;;)
	{
		Page		page = BufferGetPage(buf);
		OmenPageOpaque opaque = OmenPageGetOpaque(page);
		BlockNumber next;

		if (opaque->right == InvalidBlockNumber ||
			omen_pos_cmp(key, tid, opaque->high.key, opaque->high.tid) < 0)
			return buf;
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
		buf = ReadBuffer(index, next);
		LockBuffer(buf, lockmode);
		page = BufferGetPage(buf);
		if (!omen_page_is_leaf(page, want) ||
			omen_pos_cmp(key, tid, OmenPageGetOpaque(page)->low.key, OmenPageGetOpaque(page)->low.tid) < 0)
		{
			UnlockReleaseBuffer(buf);
			return InvalidBuffer;
		}
		omen_check_scan_leaf(index, buf, next, want);
		if (at_end)
			learn_tail_leaf(model, tree, page, next);
	}
}

/*
 * Lock the leaf the model names for (key, tid).  A leaf the model lists
 * may since have been unlinked by VACUUM and recycled (as a model page, or
 * as a leaf elsewhere): if the page is not a leaf of the tree or its range
 * starts after the position, take the model's previous leaf instead.  The
 * leftmost leaf is never unlinked, so this ends.
 */
static Buffer
model_start_leaf(Relation index, OmenModelCache *model, int tree, int64 key, int64 tid,
				 int lockmode, uint16 want, bool *at_end)
{
	int			skip;
	BlockNumber last = InvalidBlockNumber;

	for (skip = 0;; skip++)
	{
		Buffer	   *recent;
		BlockNumber blkno = omen_model_find_leaf(model, tree, key, tid, at_end, skip, &recent);
		Buffer		buf;
		Page		page;

		if (blkno == InvalidBlockNumber)
		{
			/*
			 * Even the model's first leaf, the leftmost, which never moves,
			 * is not where it should be: say what is wrong with it.
			 */
			if (last != InvalidBlockNumber)
			{
				buf = omen_read_page(index, last, lockmode, want);
				UnlockReleaseBuffer(buf);
			}
			omen_corrupt(index, last != InvalidBlockNumber ? last : OMEN_METAPAGE_BLKNO,
						 "the model of tree %d lists no leaf at or left of (" INT64_FORMAT ", " INT64_FORMAT ")",
						 tree, key, tid);
		}
		last = blkno;
		buf = omen_pin_recent(index, blkno, recent);
		LockBuffer(buf, lockmode);
		page = BufferGetPage(buf);
		if (omen_page_is_leaf(page, want) &&
			omen_pos_cmp(key, tid, OmenPageGetOpaque(page)->low.key, OmenPageGetOpaque(page)->low.tid) >= 0)
		{
			omen_check_scan_leaf(index, buf, blkno, want);
			return buf;
		}
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}
}

/* a walk that loses its way this often is not a race: the chain is broken */
#define OMEN_MAX_RESTARTS		100

/*
 * Find and lock the leaf of the given tree whose range holds (key, tid):
 * start where the model says, walk right.  Correctness never depends on
 * the model, only the number of pages read.
 *
 * Each leaf found is checked as a scan checks it (omen_check_scan_leaf):
 * all but a RUNS leaf's whole run directory.  A scan checks the runs it
 * decodes; an insert that only appends an entry decodes none, and one that
 * rewrites the runs checks the directory first (insert_into_leaf).  The
 * pass over the directory was a tenth of an insert's instructions into a
 * leaf of duplicates.
 */
Buffer
omen_find_leaf(Relation index, int tree, int64 key, int64 tid, int lockmode, uint16 want)
{
	int			restarts;

	for (restarts = 0; restarts < OMEN_MAX_RESTARTS; restarts++)
	{
		OmenModelCache *model = omen_get_model(index);
		bool		at_end;
		Buffer		buf = model_start_leaf(index, model, tree, key, tid, lockmode, want, &at_end);

		buf = walk_right(index, model, tree, buf, key, tid, lockmode, want, at_end);
		if (BufferIsValid(buf))
			return buf;
	}
	omen_corrupt(index, OMEN_METAPAGE_BLKNO,
				 "no leaf of tree %d holds position (" INT64_FORMAT ", " INT64_FORMAT ") after %d walks",
				 tree, key, tid, OMEN_MAX_RESTARTS);
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
 * Fit the segments over a piece's n leaves (slots 0 .. n-1).  In the
 * leftmost piece, slot 0 is the leftmost leaf, whose low fence is minus
 * infinity: as a fit point it would stretch the first segment over the
 * whole negative key space, so it is left out and covered by clamping.
 * The error of every point is verified with the same prediction function
 * the lookups use, so the bound holds exactly, whatever the rounding.
 */
static void
fit_piece(const int64 *keys, int n, bool leftmost, double eps, FitResult *res)
{
	int64		px[OMEN_PIECE_MAX_LEAVES];
	double		py[OMEN_PIECE_MAX_LEAVES];
	int			npts = 0;
	int			i;
	int			j;
	double		amax = (double) n + 2 * eps + 2;

	Assert(n > 0 && n <= OMEN_PIECE_MAX_LEAVES);
	res->nsegs = 0;
	for (i = (leftmost && n > 1) ? 1 : 0; i < n; i++)
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
		fit_add_segment(res, &seg);
		j = end;
	}
}

Size
omen_piece_size(uint32 nsegments, uint32 nleaves)
{
	return sizeof(OmenPieceHeader) + nsegments * sizeof(OmenSegment) +
		nleaves * (2 * sizeof(int64) + sizeof(BlockNumber));
}

/*
 * A fit point's error as a whole number of leaves: the fit records it and
 * omen_index_check compares against it, so both round the same way.  The
 * prediction is computed in double precision, so an exact fit can miss by
 * a few ulps; that slack is not an error of one more leaf.
 */
uint32
omen_error_leaves(double err)
{
	return (uint32) ceil(Max(err - 1e-6, 0.0));
}

/*
 * Lay out a piece page for leaves [0, n) and fill in its descriptor (all
 * but the block).  The caller made sure it fits.
 */
static void
piece_page(Page page, int tree, const int64 *keys, const int64 *tids, const BlockNumber *blocks,
		   int n, bool leftmost, const OmenSegment *segs, int nsegs, uint64 version, OmenPieceDesc *desc)
{
	OmenPieceHeader *ph;
	char	   *p;
	Size		size = omen_piece_size(nsegs, n);
	OmenPageOpaque opaque;
	int			i;
	int			s = 0;

	Assert(size <= OMEN_MODEL_PAGE_DATA);
	omen_init_page(page, OMEN_P_MODEL | OMEN_P_PIECE);
	opaque = OmenPageGetOpaque(page);
	opaque->version = version;
	opaque->low.key = keys[0];
	opaque->low.tid = tids[0];
	ph = (OmenPieceHeader *) PageGetContents(page);
	ph->magic = OMEN_MAGIC;
	ph->tree = tree;
	ph->nsegments = nsegs;
	ph->nleaves = n;
	ph->pad = 0;
	p = (char *) ph + sizeof(OmenPieceHeader);
	memcpy(p, segs, nsegs * sizeof(OmenSegment));
	p += nsegs * sizeof(OmenSegment);
	memcpy(p, keys, n * sizeof(int64));
	p += n * sizeof(int64);
	memcpy(p, tids, n * sizeof(int64));
	p += n * sizeof(int64);
	memcpy(p, blocks, n * sizeof(BlockNumber));
	((PageHeader) page)->pd_lower = SizeOfPageHeaderData + size;

	MemSet(desc, 0, sizeof(OmenPieceDesc));
	desc->first_key = keys[0];
	desc->first_tid = tids[0];
	desc->block = InvalidBlockNumber;
	desc->nleaves = n;
	desc->written = version;
	desc->nsegments = nsegs;

	/* the error figures of the fit points, as omen_index_check sees them */
	for (i = (leftmost && n > 1) ? 1 : 0; i < n; i++)
	{
		double		err;

		if (i > 0 && keys[i] == keys[i - 1])
			continue;
		while (s + 1 < nsegs && segs[s + 1].first_key <= keys[i])
			s++;
		err = fabs(omen_segment_predict(&segs[s], keys[i]) - (double) i);
		desc->max_error = Max(desc->max_error, omen_error_leaves(err));
		desc->sum_error += err;
		desc->npoints++;
	}
}

/*
 * Cut leaves [0, n) of a tree's directory into pieces, fit each and hand
 * its page image to the writer, which places it and sets desc->block.  A
 * run of at most 'limit' leaves becomes one piece; a longer run is split
 * evenly into pieces of about OMEN_PIECE_FILL.  A piece whose segments
 * would not fit its page takes fewer leaves (whole segments).  The
 * descriptors are appended to *descs.  Returns the number of pieces.
 */
int
omen_fit_pieces(int tree, const int64 *keys, const int64 *tids, const BlockNumber *blocks,
				int n, bool leftmost, int limit, uint32 epsilon, uint64 version,
				OmenPieceWriter writer, void *arg, OmenPieceDesc **descs, int *ndescs, int *cap)
{
	PGAlignedBlock buf;
	FitResult	res;
	int			pos = 0;
	int			made = 0;

	MemSet(&res, 0, sizeof(res));
	Assert(limit <= OMEN_PIECE_MAX_LEAVES);
	while (pos < n)
	{
		int			remaining = n - pos;
		int			take;
		int			k;
		bool		first = leftmost && pos == 0;

		if (remaining <= limit)
			take = remaining;
		else
		{
			int			npieces = (remaining + OMEN_PIECE_FILL - 1) / OMEN_PIECE_FILL;

			take = Min((remaining + npieces - 1) / npieces, OMEN_PIECE_MAX_LEAVES);
		}
		fit_piece(keys + pos, take, first, (double) epsilon, &res);

		/* keep whole segments while the page holds them */
		k = res.nsegs;
		while (k > 1 && omen_piece_size(k, take) > OMEN_MODEL_PAGE_DATA)
		{
			k--;
			take = res.segs[k].first_slot;
		}
		res.segs[k - 1].nslots = take - res.segs[k - 1].first_slot;

		if (*ndescs == *cap)
		{
			*cap = *cap ? *cap * 2 : 64;
			*descs = *descs ? repalloc_huge(*descs, *cap * sizeof(OmenPieceDesc))
				: palloc(*cap * sizeof(OmenPieceDesc));
		}
		piece_page((Page) buf.data, tree, keys + pos, tids + pos, blocks + pos, take, first,
				   res.segs, k, version, &(*descs)[*ndescs]);
		writer(arg, (Page) buf.data, &(*descs)[*ndescs]);
		(*ndescs)++;
		made++;
		pos += take;
	}
	if (res.segs)
		pfree(res.segs);
	return made;
}

/*
 * Serialize the model root: the header and every piece's descriptor.
 */
Size
omen_model_root(OmenPieceDesc *const *descs, const int *ndescs, uint32 epsilon, uint64 version,
				char **root_out)
{
	Size		size = MAXALIGN(sizeof(OmenModelRootHeader)) +
		(ndescs[0] + ndescs[1]) * sizeof(OmenPieceDesc);
	char	   *root = palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	OmenModelRootHeader *hdr = (OmenModelRootHeader *) root;
	int			t;

	hdr->magic = OMEN_MAGIC;
	hdr->epsilon = epsilon;
	hdr->version = version;
	for (t = 0; t < OMEN_NTREES; t++)
		hdr->npieces[t] = ndescs[t];
	for (t = 0; t < OMEN_NTREES; t++)
		if (ndescs[t] > 0)
			memcpy(OmenRootPieces(hdr, t), descs[t], ndescs[t] * sizeof(OmenPieceDesc));
	*root_out = root;
	return size;
}

/* Figures for the metapage: segments, errors (of the key tree) and leaves. */
void
omen_model_summary(const char *root, uint32 *nsegments, uint32 *max_error, double *mean_error,
				   uint32 *nleaves)
{
	const OmenModelRootHeader *hdr = (const OmenModelRootHeader *) root;
	double		sum = 0;
	uint64		npoints = 0;
	int			t;
	uint32		i;

	*nsegments = 0;
	*max_error = 0;
	*nleaves = 0;
	for (t = 0; t < OMEN_NTREES; t++)
	{
		const OmenPieceDesc *d = OmenRootPieces(hdr, t);

		for (i = 0; i < hdr->npieces[t]; i++)
		{
			*nsegments += d[i].nsegments;
			*max_error = Max(*max_error, d[i].max_error);
			*nleaves += d[i].nleaves;
			if (t == OMEN_TREE_KEYS)
			{
				sum += d[i].sum_error;
				npoints += d[i].npoints;
			}
		}
	}
	*mean_error = npoints > 0 ? sum / npoints : 0;
}

/* ---------------------------------------------------------------------
 * The per-backend cache
 * ---------------------------------------------------------------------
 */

/*
 * Copy a piece page into dst and point pc at it, after checking that the
 * page is the piece the descriptor names.  Returns silently on success;
 * a mismatch raises an ERROR only through the caller's decision: this
 * returns with pc->nleaves = 0 so that the caller can tell a recycled page
 * (the model changed meanwhile) from corruption.
 */
void
omen_piece_from_page(Relation index, BlockNumber blkno, Page page, const OmenPieceDesc *desc,
					 int tree, char *dst, OmenPiece *pc)
{
	OmenPageOpaque opaque = OmenPageGetOpaque(page);
	OmenPieceHeader *ph = (OmenPieceHeader *) PageGetContents(page);
	Size		size = omen_piece_size(desc->nsegments, desc->nleaves);
	char	   *p;

	pc->nleaves = 0;
	if ((opaque->flags & (OMEN_P_MODEL | OMEN_P_PIECE)) != (OMEN_P_MODEL | OMEN_P_PIECE) ||
		opaque->version != desc->written ||
		((PageHeader) page)->pd_lower != SizeOfPageHeaderData + size ||
		ph->magic != OMEN_MAGIC || ph->tree != tree ||
		ph->nsegments != desc->nsegments || ph->nleaves != desc->nleaves ||
		desc->nleaves == 0 || desc->nsegments == 0)
		return;
	memcpy(dst, ph, size);
	p = dst + sizeof(OmenPieceHeader);
	pc->nsegments = desc->nsegments;
	pc->segs = (const OmenSegment *) p;
	p += desc->nsegments * sizeof(OmenSegment);
	pc->keys = (const int64 *) p;
	p += desc->nleaves * sizeof(int64);
	pc->tids = (const int64 *) p;
	p += desc->nleaves * sizeof(int64);
	pc->blocks = (const BlockNumber *) p;
	pc->nleaves = desc->nleaves;
}

/* The structural checks omen_index_check adds to a load. */
static void
validate_piece(Relation index, const OmenPieceDesc *desc, const OmenPiece *pc, int tree, uint32 p)
{
	uint32		i;

	if (pc->keys[0] != desc->first_key || pc->tids[0] != desc->first_tid)
		omen_corrupt(index, desc->block, "piece %u of tree %d does not start at its root entry", p, tree);
	for (i = 1; i < pc->nleaves; i++)
		if (omen_pos_cmp(pc->keys[i - 1], pc->tids[i - 1], pc->keys[i], pc->tids[i]) > 0)
			omen_corrupt(index, desc->block, "piece %u of tree %d is out of order at slot %u", p, tree, i);
	for (i = 0; i < pc->nsegments; i++)
		if (pc->segs[i].nslots == 0 ||
			pc->segs[i].first_slot + pc->segs[i].nslots > pc->nleaves ||
			(i > 0 && (pc->segs[i].first_key <= pc->segs[i - 1].first_key ||
					   pc->segs[i].first_slot != pc->segs[i - 1].first_slot + pc->segs[i - 1].nslots)))
			omen_corrupt(index, desc->block, "segment %u of piece %u of tree %d is inconsistent", i, p, tree);
}

/*
 * Load the current model into one chunk allocated in cxt: the root from its
 * pages, then every piece.  A retrain may publish a new model and recycle
 * pages meanwhile; each page carries the version that wrote it, and a
 * mismatch while the metapage still names the same model is corruption,
 * otherwise the load starts over.
 */
OmenModelCache *
omen_load_model(Relation index, MemoryContext cxt, bool validate)
{
	int			attempt;

	for (attempt = 0; attempt < 100; attempt++)
	{
		Size		len;
		uint64		version;
		char	   *root = omen_read_model_blob(index, &len, &version);
		OmenModelRootHeader *hdr = (OmenModelRootHeader *) root;
		Size		total = MAXALIGN(sizeof(OmenModelCache));
		OmenModelCache *cache;
		char	   *p;
		int			t;
		bool		ok = true;

		for (t = 0; t < OMEN_NTREES; t++)
		{
			OmenPieceDesc *d = OmenRootPieces(hdr, t);
			uint32		i;

			total += MAXALIGN(hdr->npieces[t] * sizeof(int64)) * 2 +
				MAXALIGN(hdr->npieces[t] * sizeof(OmenPiece)) +
				OMEN_TAIL_CAPACITY * (2 * sizeof(int64) + sizeof(BlockNumber) + sizeof(Buffer));
			for (i = 0; i < hdr->npieces[t]; i++)
				total += MAXALIGN(omen_piece_size(d[i].nsegments, d[i].nleaves)) +
					MAXALIGN(d[i].nleaves * sizeof(Buffer));
		}
		cache = MemoryContextAllocExtended(cxt, total, MCXT_ALLOC_HUGE);
		cache->version = hdr->version;
		cache->epsilon = hdr->epsilon;
		cache->stale = false;
		p = (char *) cache + MAXALIGN(sizeof(OmenModelCache));
		for (t = 0; t < OMEN_NTREES && ok; t++)
		{
			OmenTreeModel *tm = &cache->tree[t];
			OmenPieceDesc *d = OmenRootPieces(hdr, t);
			uint32		np = hdr->npieces[t];
			uint32		i;

			cache->insert_hint[t] = InvalidBlockNumber;
			cache->insert_hint_buf[t] = InvalidBuffer;
			tm->npieces = np;
			tm->nleaves = 0;
			tm->piece_keys = (int64 *) p;
			p += MAXALIGN(np * sizeof(int64));
			tm->piece_tids = (int64 *) p;
			p += MAXALIGN(np * sizeof(int64));
			tm->pieces = (OmenPiece *) p;
			p += MAXALIGN(np * sizeof(OmenPiece));
			tm->ntail = 0;
			tm->tail_keys = (int64 *) p;
			p += OMEN_TAIL_CAPACITY * sizeof(int64);
			tm->tail_tids = (int64 *) p;
			p += OMEN_TAIL_CAPACITY * sizeof(int64);
			tm->tail_blocks = (BlockNumber *) p;
			p += OMEN_TAIL_CAPACITY * sizeof(BlockNumber);
			tm->tail_recent = (Buffer *) p;
			p += OMEN_TAIL_CAPACITY * sizeof(Buffer);

			for (i = 0; i < np; i++)
			{
				Buffer		buf = omen_read_page(index, d[i].block, BUFFER_LOCK_SHARE, 0);

				omen_piece_from_page(index, d[i].block, BufferGetPage(buf), &d[i], t, p, &tm->pieces[i]);
				UnlockReleaseBuffer(buf);
				if (tm->pieces[i].nleaves == 0)
				{
					OmenMetaPageData meta;

					omen_read_meta(index, &meta);
					if (meta.model_version == version)
						omen_corrupt(index, d[i].block,
									 "model page is not piece %u of tree %d of model version " UINT64_FORMAT,
									 i, t, version);
					ok = false;
					break;
				}
				if (validate)
				{
					validate_piece(index, &d[i], &tm->pieces[i], t, i);
					if (i > 0 && omen_pos_cmp(d[i - 1].first_key, d[i - 1].first_tid,
											  d[i].first_key, d[i].first_tid) >= 0)
						omen_corrupt(index, d[i].block, "pieces %u and %u of tree %d are out of order",
									 i - 1, i, t);
				}
				tm->piece_keys[i] = d[i].first_key;
				tm->piece_tids[i] = d[i].first_tid;
				tm->nleaves += d[i].nleaves;
				p += MAXALIGN(omen_piece_size(d[i].nsegments, d[i].nleaves));
				tm->pieces[i].recent = (Buffer *) p;
				memset(p, 0, d[i].nleaves * sizeof(Buffer));	/* InvalidBuffer */
				p += MAXALIGN(d[i].nleaves * sizeof(Buffer));
			}
		}
		pfree(root);
		if (ok)
		{
			Assert(p == (char *) cache + total);
			return cache;
		}
		pfree(cache);
		CHECK_FOR_INTERRUPTS();
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
		index->rd_amcache = omen_load_model(index, index->rd_indexcxt, false);
	return (OmenModelCache *) index->rd_amcache;
}


/* ---------------------------------------------------------------------
 * Model pages
 * ---------------------------------------------------------------------
 */

/*
 * Read the current model's root from its pages.  A retrain may publish a new model
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
			if (!(opaque->flags & OMEN_P_MODEL) || (opaque->flags & OMEN_P_PIECE) ||
				opaque->version != meta.model_version ||
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
			if (((OmenModelRootHeader *) blob)->magic == OMEN_MAGIC &&
				((OmenModelRootHeader *) blob)->version == meta.model_version)
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

		if (!(opaque->flags & OMEN_P_MODEL) || (opaque->flags & OMEN_P_PIECE) ||
			opaque->version != version)
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


/* Mark one piece page of the given version free and give it to the FSM. */
void
omen_free_model_page(Relation index, BlockNumber blkno, uint64 version)
{
	Buffer		buf = omen_read_page(index, blkno, BUFFER_LOCK_EXCLUSIVE, 0);
	OmenPageOpaque opaque = OmenPageGetOpaque(BufferGetPage(buf));

	if ((opaque->flags & OMEN_P_PIECE) && opaque->version == version)
	{
		GenericXLogState *state = GenericXLogStart(index);

		omen_init_page(GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE), OMEN_P_FREE);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		RecordFreeIndexPage(index, blkno);
		return;
	}
	UnlockReleaseBuffer(buf);
}

