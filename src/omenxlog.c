/*
 * omenxlog.c
 *	  WAL records for page changes whose changed bytes are known.
 *
 * GenericXLog finds what changed by copying each registered page and
 * comparing all of it, byte by byte, with the modified copy; on a leaf
 * insert that costs more than the insert itself.  The code that changes a
 * leaf knows exactly which bytes it wrote, so it logs those: the record is
 * a generic WAL record (RM_GENERIC_ID) in the format generic_xlog.c writes
 * and replays -- per block, a sequence of fragments (offset, length,
 * bytes), each uint16 fields -- so PostgreSQL's own generic_redo replays
 * it, standbys and crash recovery need nothing from this library, and
 * wal_consistency_checking = 'generic' verifies that replay reproduces the
 * page.  Replay zeroes the hole between pd_lower and pd_upper, as
 * GenericXLogFinish does on the primary; omen's pages keep it zero
 * themselves (see omen_xlog_finish).
 *
 * Usage, with the buffers exclusively locked:
 *
 *		omen_xlog_start(&xl, index);
 *		START_CRIT_SECTION();
 *		... change the pages, noting each change with omen_xlog_range()
 *			or omen_xlog_leaf(), or omen_xlog_full() for a new page ...
 *		omen_xlog_finish(&xl);
 *		END_CRIT_SECTION();
 *
 * An append to a leaf, the commonest change, has its own shorter path
 * (omen_xlog_append), which writes the same fragments directly.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/rmgr.h"
#include "access/xloginsert.h"
#include "miscadmin.h"
#include "utils/rel.h"

#include "omen.h"

StaticAssertDecl(OMEN_XLOG_MAX_BUFFERS <= MAX_GENERIC_XLOG_PAGES,
				 "generic_redo replays at most MAX_GENERIC_XLOG_PAGES blocks a record");
StaticAssertDecl(BLCKSZ <= PG_UINT16_MAX, "fragment offsets are uint16");

#define FRAGMENT_HEADER		(2 * sizeof(uint16))
/* ranges closer than this are logged as one fragment */
#define MERGE_GAP			FRAGMENT_HEADER

/* fragments of each block, assembled at finish (in a critical section) */
static char fragments[OMEN_XLOG_MAX_BUFFERS][BLCKSZ + OMEN_XLOG_MAX_RANGES * FRAGMENT_HEADER];

void
omen_xlog_start(OmenXLog *xl, Relation index)
{
	xl->logged = RelationNeedsWAL(index);
	xl->nbuffers = 0;
}

static OmenXLogBuffer *
xlog_buffer(OmenXLog *xl, Buffer buf)
{
	int			i;
	OmenXLogBuffer *b;

	for (i = 0; i < xl->nbuffers; i++)
		if (xl->buffers[i].buf == buf)
			return &xl->buffers[i];
	if (xl->nbuffers >= OMEN_XLOG_MAX_BUFFERS)
		elog(PANIC, "omen: more than %d pages in one WAL record", OMEN_XLOG_MAX_BUFFERS);
	b = &xl->buffers[xl->nbuffers++];
	b->buf = buf;
	b->full = false;
	b->nranges = 0;
	return b;
}

/* The page is new (or rewritten from scratch): log its full image. */
void
omen_xlog_full(OmenXLog *xl, Buffer buf)
{
	xlog_buffer(xl, buf)->full = true;
}

/*
 * Sort a block's ranges by start (insertion sort: there are at most
 * OMEN_XLOG_MAX_RANGES, and callers note them mostly in page order) and
 * join those that overlap or lie closer than a fragment header.
 */
static void
join_ranges(OmenXLogBuffer *b)
{
	int			i;
	int			n = 0;

	for (i = 1; i < b->nranges; i++)
	{
		uint16		s = b->start[i];
		uint16		e = b->end[i];
		int			j = i;

		while (j > 0 && b->start[j - 1] > s)
		{
			b->start[j] = b->start[j - 1];
			b->end[j] = b->end[j - 1];
			j--;
		}
		b->start[j] = s;
		b->end[j] = e;
	}
	for (i = 0; i < b->nranges; i++)
	{
		if (n > 0 && b->start[i] <= b->end[n - 1] + MERGE_GAP)
			b->end[n - 1] = Max(b->end[n - 1], b->end[i]);
		else
		{
			b->start[n] = b->start[i];
			b->end[n] = b->end[i];
			n++;
		}
	}
	b->nranges = n;
}

/*
 * Bytes [off, off + len) of the page changed.  The range is only noted
 * here; joining waits for the record (or for the array to fill), so noting
 * one costs a few instructions: an append notes four.
 */
void
omen_xlog_range(OmenXLog *xl, Buffer buf, Size off, Size len)
{
	OmenXLogBuffer *b = xlog_buffer(xl, buf);

	Assert(off + len <= BLCKSZ);
	if (len == 0 || b->full)
		return;
	if (b->nranges == OMEN_XLOG_MAX_RANGES)
	{
		join_ranges(b);
		if (b->nranges == OMEN_XLOG_MAX_RANGES)
		{
			/* all apart: log the gap between the closest two as well */
			int			best = 0;
			int			i;

			for (i = 1; i < b->nranges - 1; i++)
				if (b->start[i + 1] - b->end[i] < b->start[best + 1] - b->end[best])
					best = i;
			b->end[best] = b->end[best + 1];
			for (i = best + 1; i < b->nranges - 1; i++)
			{
				b->start[i] = b->start[i + 1];
				b->end[i] = b->end[i + 1];
			}
			b->nranges--;
		}
	}
	b->start[b->nranges] = (uint16) off;
	b->end[b->nranges] = (uint16) (off + len);
	b->nranges++;
}

/*
 * A leaf changed from entry 'from' on: its bounds, the stored keys from
 * 'from' to pd_lower and the stored TIDs from pd_upper to the slot of
 * entry 'from' (in a RUNS leaf, all the runs unless 'from' is pending);
 * with OMEN_XLOG_HEADER also the leaf header, with OMEN_XLOG_SPECIAL its
 * fences and links.  Call it after the change, when
 * the page's bounds are the new ones.
 */
void
omen_xlog_leaf(OmenXLog *xl, Buffer buf, int from, int flags)
{
	Page		page = BufferGetPage(buf);
	PageHeader	ph = (PageHeader) page;
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	Size		kstart;
	Size		tend;

	omen_leaf_bytes_from(page, from, &kstart, &tend);
	omen_xlog_range(xl, buf, offsetof(PageHeaderData, pd_lower),
					offsetof(PageHeaderData, pd_special) - offsetof(PageHeaderData, pd_lower));
	if (flags & OMEN_XLOG_HEADER)
		omen_xlog_range(xl, buf, (char *) h - (char *) page, sizeof(OmenLeafHeader));
	if (ph->pd_lower > kstart)
		omen_xlog_range(xl, buf, kstart, ph->pd_lower - kstart);
	if (tend > ph->pd_upper)
		omen_xlog_range(xl, buf, ph->pd_upper, tend - ph->pd_upper);
	if (flags & OMEN_XLOG_SPECIAL)
		omen_xlog_range(xl, buf, ph->pd_special, BLCKSZ - ph->pd_special);
}

/*
 * The bytes [off, off + len) of the page changed from 'before' where they
 * differ: for a few scattered fields (the metapage's counters), compared
 * a word at a time.
 */
void
omen_xlog_diff(OmenXLog *xl, Buffer buf, const char *before, Size off, Size len)
{
	const char *now = (const char *) BufferGetPage(buf) + off;
	Size		i = 0;

	while (i < len)
	{
		Size		start;

		while (i + 8 <= len && memcmp(before + i, now + i, 8) == 0)
			i += 8;
		while (i < len && before[i] == now[i])
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && before[i] != now[i])
			i++;
		omen_xlog_range(xl, buf, off + start, i - start);
	}
}

/* Write a fragment of the page's bytes [off, off + len) at p. */
static inline char *
put_fragment(char *p, Page page, Size off, Size len)
{
	uint16		o = (uint16) off;
	uint16		l = (uint16) len;

	memcpy(p, &o, sizeof(uint16));
	memcpy(p + sizeof(uint16), &l, sizeof(uint16));
	memcpy(p + FRAGMENT_HEADER, (char *) page + off, len);
	return p + FRAGMENT_HEADER + len;
}

/*
 * The fragments of one block, in page order, ranges that overlap or nearly
 * touch joined.  Returns their length.
 */
static Size
assemble_fragments(OmenXLogBuffer *b, Page page, char *out)
{
	int			i;
	char	   *p = out;

	join_ranges(b);
	for (i = 0; i < b->nranges; i++)
		p = put_fragment(p, page, b->start[i], b->end[i] - b->start[i]);
	return p - out;
}

/* Assert-enabled builds check that the page's hole is zero. */
static inline void
assert_hole_zero(Page page)
{
#ifdef USE_ASSERT_CHECKING
	PageHeader	ph = (PageHeader) page;
	Size		j;

	for (j = ph->pd_lower; j < ph->pd_upper; j++)
		Assert(((char *) page)[j] == 0);
#endif
}

/*
 * Mark dirty and log a leaf just appended to (omen_leaf_append), inside
 * its critical section: the leaf's bounds, the key just below pd_lower,
 * the TID just above pd_upper and, for a sorted append, nsorted.  Appends
 * are the commonest change (ascending keys), and these fragments are known
 * and disjoint, so they are written straight into the record instead of
 * being noted as ranges, sorted and joined (which cost a fifth of an
 * append's own instructions); generic_redo applies fragments in any order.
 */
void
omen_xlog_append(Relation index, Buffer buf, bool sorted)
{
	Page		page = BufferGetPage(buf);
	PageHeader	ph = (PageHeader) page;
	OmenLeafHeader *h = OmenLeafGetHeader(page);
	char		data[4 * FRAGMENT_HEADER + 2 * sizeof(LocationIndex) + sizeof(h->nsorted) + 2 * sizeof(int64)];
	char	   *p = data;
	int			kw = h->key_width;
	int			tw = h->tid_width;
	XLogRecPtr	lsn;

	Assert(CritSectionCount > 0);
	assert_hole_zero(page);
	MarkBufferDirty(buf);
	if (!RelationNeedsWAL(index))
		return;
	if (!sorted)
		omen_leaf_pending_fields(page, &kw, &tw, NULL, NULL);
	Assert(kw <= sizeof(int64) && tw <= sizeof(int64));
	p = put_fragment(p, page, offsetof(PageHeaderData, pd_lower), 2 * sizeof(LocationIndex));
	if (sorted)
		p = put_fragment(p, page, (char *) &h->nsorted - (char *) page, sizeof(h->nsorted));
	p = put_fragment(p, page, ph->pd_lower - kw, kw);
	p = put_fragment(p, page, ph->pd_upper, tw);
	Assert(p - data <= (int) sizeof(data));

	XLogBeginInsert();
	XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
	XLogRegisterBufData(0, data, p - data);
	lsn = XLogInsert(RM_GENERIC_ID, 0);
	PageSetLSN(page, lsn);		/* a macro that evaluates lsn twice */
}

/*
 * Mark the pages dirty and, for a WAL-logged index, insert one record for
 * all of them.  Must be called inside the critical section that changed
 * the pages.
 */
void
omen_xlog_finish(OmenXLog *xl)
{
	XLogRecPtr	lsn;
	int			i;

	Assert(CritSectionCount > 0);
	for (i = 0; i < xl->nbuffers; i++)
	{
		/*
		 * Replay zeroes the hole, so it must be zero here too.  It is by
		 * construction, and zeroing it again on every insert cost 4% of an
		 * append: PageInit zeroes a new page, a leaf's bounds are set only
		 * by a full write (omen_leaf_write*, which zeroes the hole) or moved
		 * inward by an append, and the metapage's hole is never written.
		 */
		assert_hole_zero(BufferGetPage(xl->buffers[i].buf));
		MarkBufferDirty(xl->buffers[i].buf);
	}
	if (!xl->logged)
		return;

	XLogBeginInsert();
	for (i = 0; i < xl->nbuffers; i++)
	{
		OmenXLogBuffer *b = &xl->buffers[i];

		if (b->full)
			XLogRegisterBuffer(i, b->buf, REGBUF_FORCE_IMAGE | REGBUF_STANDARD);
		else
		{
			Size		len = assemble_fragments(b, BufferGetPage(b->buf), fragments[i]);

			XLogRegisterBuffer(i, b->buf, REGBUF_STANDARD);
			XLogRegisterBufData(i, fragments[i], len);
		}
	}
	lsn = XLogInsert(RM_GENERIC_ID, 0);
	for (i = 0; i < xl->nbuffers; i++)
		PageSetLSN(BufferGetPage(xl->buffers[i].buf), lsn);
}
