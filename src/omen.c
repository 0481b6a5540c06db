/*
 * omen.c
 *	  Front file of the omen access method: handler, reloptions, key
 *	  conversion and the planner's cost estimate.
 */
#include "postgres.h"

#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "omen.h"

PG_MODULE_MAGIC;

static relopt_kind omen_relopt_kind;

void
_PG_init(void)
{
	omen_relopt_kind = add_reloption_kind();
	add_int_reloption(omen_relopt_kind, "epsilon",
					  "Maximum error of the learned model, in leaf pages",
					  OMEN_DEFAULT_EPSILON, OMEN_MIN_EPSILON, OMEN_MAX_EPSILON,
					  AccessExclusiveLock);
	add_int_reloption(omen_relopt_kind, "fillfactor",
					  "Percentage of each leaf filled by CREATE INDEX",
					  OMEN_DEFAULT_FILLFACTOR, OMEN_MIN_FILLFACTOR, OMEN_MAX_FILLFACTOR,
					  ShareUpdateExclusiveLock);
	omen_define_gucs();
	omen_worker_init();
}

bytea *
omenoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"epsilon", RELOPT_TYPE_INT, offsetof(OmenOptions, epsilon)},
		{"fillfactor", RELOPT_TYPE_INT, offsetof(OmenOptions, fillfactor)},
	};

	return (bytea *) build_reloptions(reloptions, validate, omen_relopt_kind,
									  sizeof(OmenOptions), tab, lengthof(tab));
}

int
omen_reloption_epsilon(Relation index)
{
	OmenOptions *opts = (OmenOptions *) index->rd_options;

	return opts ? opts->epsilon : OMEN_DEFAULT_EPSILON;
}

int
omen_reloption_fillfactor(Relation index)
{
	OmenOptions *opts = (OmenOptions *) index->rd_options;

	return opts ? opts->fillfactor : OMEN_DEFAULT_FILLFACTOR;
}

/*
 * Every supported type is an integer of at most 64 bits inside; keys are
 * widened to int64 and compared natively.
 */
bool
omen_key_type_supported(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

int64
omen_datum_to_key(Datum d, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return (int64) DatumGetInt16(d);
		case INT4OID:
			return (int64) DatumGetInt32(d);
		case DATEOID:
			return (int64) DatumGetDateADT(d);
		case INT8OID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return DatumGetInt64(d);
		default:
			elog(ERROR, "omen: unsupported key type %u", type);
	}
	return 0;					/* keep compiler quiet */
}

static bool
omencanreturn(Relation index, int attno)
{
	return attno == 1;
}

/*
 * The physical order correlation of the indexed column, as btree uses it:
 * it decides how much random heap access an ordered scan costs.
 */
static double
omen_index_correlation(PlannerInfo *root, IndexPath *path)
{
	IndexOptInfo *index = path->indexinfo;
	double		correlation = 0.0;
	VariableStatData vardata;
	AttStatsSlot sslot;

	if (index->indexkeys[0] == 0)
		return 0.0;				/* expression index: no statistics here */

	MemSet(&vardata, 0, sizeof(vardata));
	{
		RangeTblEntry *rte = planner_rt_fetch(index->rel->relid, root);

		if (get_relation_stats_hook &&
			(*get_relation_stats_hook) (root, rte, index->indexkeys[0], &vardata))
		{
			if (HeapTupleIsValid(vardata.statsTuple) && !vardata.freefunc)
				elog(ERROR, "no function provided to release variable stats with");
		}
		else
		{
			vardata.statsTuple = SearchSysCache3(STATRELATTINH,
												 ObjectIdGetDatum(rte->relid),
												 Int16GetDatum(index->indexkeys[0]),
												 BoolGetDatum(rte->inh));
			vardata.freefunc = ReleaseSysCache;
		}
	}

	if (HeapTupleIsValid(vardata.statsTuple))
	{
		Oid			sortop = get_opfamily_member(index->sortopfamily[0],
												 index->opcintype[0],
												 index->opcintype[0],
												 BTLessStrategyNumber);

		if (OidIsValid(sortop) &&
			get_attstatsslot(&sslot, vardata.statsTuple,
							 STATISTIC_KIND_CORRELATION, sortop,
							 ATTSTATSSLOT_NUMBERS))
		{
			if (sslot.nnumbers > 0)
				correlation = sslot.numbers[0];
			free_attstatsslot(&sslot);
		}
	}
	ReleaseVariableStats(vardata);
	return correlation;
}

/*
 * An omen probe reads the one leaf the model predicts; there are no inner
 * pages to descend, so unlike btree we charge no descent cost, only the
 * leaves the qualifying entries occupy plus a small CPU cost for the
 * model prediction.
 */
static void
omencostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	IndexOptInfo *index = path->indexinfo;

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	/* the model prediction and the in-memory directory search */
	costs.indexStartupCost += 4.0 * cpu_operator_cost;
	costs.indexTotalCost += 4.0 * cpu_operator_cost;

	*indexStartupCost = costs.indexStartupCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = index->sortopfamily ? omen_index_correlation(root, path) : 0.0;
	*indexPages = costs.numIndexPages;
}

PG_FUNCTION_INFO_V1(omen_handler);
Datum
omen_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = BTMaxStrategyNumber;
	amroutine->amsupport = 1;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = true;
	amroutine->amcanorderbyop = false;
	amroutine->amcanbackward = false;	/* direction is fixed per scan */
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = true;
	amroutine->amsearchnulls = true;
	amroutine->amstorage = false;
	amroutine->amclusterable = true;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_NO_PARALLEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = omenbuild;
	amroutine->ambuildempty = omenbuildempty;
	amroutine->aminsert = omeninsert;
	amroutine->ambulkdelete = omenbulkdelete;
	amroutine->amvacuumcleanup = omenvacuumcleanup;
	amroutine->amcanreturn = omencanreturn;
	amroutine->amcostestimate = omencostestimate;
	amroutine->amoptions = omenoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = omenbuildphasename;
	amroutine->amvalidate = omenvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = omenbeginscan;
	amroutine->amrescan = omenrescan;
	amroutine->amgettuple = omengettuple;
	amroutine->amgetbitmap = omengetbitmap;
	amroutine->amendscan = omenendscan;
	amroutine->ammarkpos = omenmarkpos;
	amroutine->amrestrpos = omenrestrpos;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
