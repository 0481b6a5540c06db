/*
 * omenworker.c
 *	  The background retrain worker: GUCs, shared memory, the launcher and
 *	  the per-database workers.
 *
 * When omen_index is in shared_preload_libraries, a launcher process waits
 * for requests.  A backend whose leaf split leaves a model drifted past
 * omen.retrain_threshold posts (database, index) into a small array in
 * shared memory and sets the launcher's latch, so nobody polls indexes.
 * The launcher takes the requests of one database at a time and starts a
 * worker connected to that database, which retrains each index (only the
 * pieces that changed, see omenretrain.c) in its own transaction, then
 * stays a moment for more requests of its database (omen_worker_main).  Locks
 * are taken conditionally: an index busy with DDL is retried later, never
 * waited for.  Without preloading there is no worker; VACUUM
 * and omen_index_retrain() retrain.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "omen.h"

#define OMEN_MAX_REQUESTS		256
/* index OIDs a worker gets in bgw_extra */
#define OMEN_WORKER_BATCH		((BGW_EXTRALEN - sizeof(uint32)) / sizeof(Oid))

/*
 * How long a worker waits for more requests of its database before it
 * exits.  A writer splitting leaves of a small index asks for a retrain
 * every few hundred rows; starting a process for each (a fork, a backend's
 * start-up and catalog caches: milliseconds of CPU) cost a reader beside
 * it more than the retrains did.  Kept well under the 5 s that DROP
 * DATABASE and CREATE DATABASE ... TEMPLATE wait for the database's other
 * processes to leave; a worker with work left checks for them instead
 * (database_wanted).
 */
#define OMEN_WORKER_LINGER_MS	1000L

typedef struct OmenRequest
{
	Oid			dbid;
	Oid			indexid;
} OmenRequest;

typedef struct OmenShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	Latch	   *worker_latch;	/* the running worker's, from start to exit */
	int			nrequests;
	OmenRequest requests[OMEN_MAX_REQUESTS];
} OmenShared;

typedef struct OmenWorkerBatch
{
	uint32		n;
	Oid			indexes[OMEN_WORKER_BATCH];
} OmenWorkerBatch;

int			omen_retrain_naptime = 10;
double		omen_retrain_threshold = 0.05;
bool		omen_enable_retrain = true;
bool		omen_prefetch_heap = true;

static OmenShared *omen_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void
omen_define_gucs(void)
{
	DefineCustomBoolVariable("omen.enable_retrain",
							 "Lets the background worker retrain omen models.",
							 "Needs omen_index in shared_preload_libraries.",
							 &omen_enable_retrain, true, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("omen.retrain_naptime",
							"Longest sleep of the omen retrain launcher between rounds.",
							"Backends wake the launcher when an index needs a refit; the naptime "
							"bounds how long a deferred request waits.",
							&omen_retrain_naptime, 10, 1, 3600, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomRealVariable("omen.retrain_threshold",
							 "Drift of an omen model at which it is retrained.",
							 "Drift is the number of leaf changes (splits, lowered fences) the model "
							 "does not account for, per leaf: about the extra leaf reads of an equality probe.",
							 &omen_retrain_threshold, 0.05, 0.0001, 100.0, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("omen.prefetch_heap",
							 "Lets omen index scans start loading the heap rows they return, and their pages, into the CPU cache.",
							 "Only pages already in shared buffers, a few rows ahead of the executor; "
							 "index-only scans and bitmap scans do not.",
							 &omen_prefetch_heap, true, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("omen");
}

static void
omen_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(OmenShared)));
}

static void
omen_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	omen_shared = ShmemInitStruct("omen_index retrain requests", sizeof(OmenShared), &found);
	if (!found)
	{
		MemSet(omen_shared, 0, sizeof(OmenShared));
		SpinLockInit(&omen_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init: shared memory and the launcher, when preloaded. */
void
omen_worker_init(void)
{
	BackgroundWorker bgw;

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = omen_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = omen_shmem_startup;

	MemSet(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "omen_index");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "omen_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "omen retrain launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "omen retrain launcher");
	RegisterBackgroundWorker(&bgw);
}

/* Add a request unless it is queued already.  Caller holds the mutex. */
static void
post_request_locked(Oid dbid, Oid indexid)
{
	int			i;

	for (i = 0; i < omen_shared->nrequests; i++)
		if (omen_shared->requests[i].dbid == dbid && omen_shared->requests[i].indexid == indexid)
			return;
	/* a full queue drops the request: the next split or rebalance posts it again */
	if (omen_shared->nrequests < OMEN_MAX_REQUESTS)
	{
		omen_shared->requests[omen_shared->nrequests].dbid = dbid;
		omen_shared->requests[omen_shared->nrequests].indexid = indexid;
		omen_shared->nrequests++;
	}
}

/*
 * Ask the worker to retrain this index.  Cheap (a spinlock and a scan of a
 * short array), and called only by splits and rebalances that found the
 * model drifted.
 * The latches are set even when the request was queued already: the
 * launcher's waits for a worker consume wake-ups, and this one starts its
 * next round at once (src/README.md, "The background worker").  A worker
 * waiting for more work takes a request of its database itself, and on
 * one of another database exits at once, for the launcher to serve it.
 */
void
omen_request_retrain(Relation index)
{
	Latch	   *latch;
	Latch	   *worker_latch;

	if (omen_shared == NULL || !omen_enable_retrain || RelationUsesLocalBuffers(index))
		return;
	SpinLockAcquire(&omen_shared->mutex);
	post_request_locked(MyDatabaseId, RelationGetRelid(index));
	latch = omen_shared->launcher_latch;
	worker_latch = omen_shared->worker_latch;
	SpinLockRelease(&omen_shared->mutex);
	if (worker_latch)
		SetLatch(worker_latch);
	if (latch)
		SetLatch(latch);
}

/*
 * Move up to a batch of the queued requests of database dbid into batch,
 * keeping the others in their order.  Caller holds the mutex.
 */
static void
take_requests_locked(Oid dbid, OmenWorkerBatch *batch)
{
	int			i;
	int			kept = 0;

	batch->n = 0;
	for (i = 0; i < omen_shared->nrequests; i++)
	{
		if (omen_shared->requests[i].dbid == dbid && batch->n < OMEN_WORKER_BATCH)
			batch->indexes[batch->n++] = omen_shared->requests[i].indexid;
		else
			omen_shared->requests[kept++] = omen_shared->requests[i];
	}
	omen_shared->nrequests = kept;
}

/* ---------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------
 */

static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&omen_shared->mutex);
	omen_shared->launcher_latch = NULL;
	SpinLockRelease(&omen_shared->mutex);
}

/*
 * Take up to a batch of the requests of one database out of the queue:
 * the first database not yet served in this round.
 */
static Oid
take_batch(const Oid *served, int nserved, OmenWorkerBatch *batch)
{
	Oid			dbid = InvalidOid;
	int			i;
	int			j;

	batch->n = 0;
	SpinLockAcquire(&omen_shared->mutex);
	for (i = 0; i < omen_shared->nrequests && !OidIsValid(dbid); i++)
	{
		bool		seen = false;

		for (j = 0; j < nserved; j++)
			seen = seen || served[j] == omen_shared->requests[i].dbid;
		if (!seen)
			dbid = omen_shared->requests[i].dbid;
	}
	if (OidIsValid(dbid))
		take_requests_locked(dbid, batch);
	SpinLockRelease(&omen_shared->mutex);
	return dbid;
}

/* Start a worker for one database's batch and wait until it exits. */
static void
run_worker(Oid dbid, const OmenWorkerBatch *batch)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	MemSet(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "omen_index");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "omen_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "omen retrain worker for database %u", dbid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "omen retrain worker");
	bgw.bgw_main_arg = ObjectIdGetDatum(dbid);
	bgw.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(OmenWorkerBatch) <= BGW_EXTRALEN, "batch must fit in bgw_extra");
	memcpy(bgw.bgw_extra, batch, sizeof(OmenWorkerBatch));

	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
	{
		ereport(LOG,
				(errmsg("omen retrain launcher could not start a worker"),
				 errhint("Consider raising max_worker_processes.")));
		return;
	}
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		return;
	WaitForBackgroundWorkerShutdown(handle);
}

/* Serve every database with requests once.  Returns whether some remain. */
static bool
launcher_round(void)
{
	Oid			served[64];
	int			nserved = 0;
	OmenWorkerBatch batch;
	bool		left;

	while (nserved < lengthof(served))
	{
		Oid			dbid = take_batch(served, nserved, &batch);

		if (!OidIsValid(dbid))
			break;
		served[nserved++] = dbid;
		run_worker(dbid, &batch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
	}
	SpinLockAcquire(&omen_shared->mutex);
	left = omen_shared->nrequests > 0;
	SpinLockRelease(&omen_shared->mutex);
	return left;
}

void
omen_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("omen retrain launcher");

	SpinLockAcquire(&omen_shared->mutex);
	omen_shared->launcher_latch = MyLatch;
	SpinLockRelease(&omen_shared->mutex);
	on_shmem_exit(launcher_detach, (Datum) 0);

	while (!ShutdownRequestPending)
	{
		bool		left = false;
		long		timeout = omen_retrain_naptime * 1000L;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (omen_enable_retrain)
			left = launcher_round();

		/*
		 * Waiting for a worker consumes latch wake-ups; requests that came
		 * in meanwhile for a database already served this round are taken
		 * after a short sleep rather than a full naptime.
		 */
		if (left)
			timeout = Min(timeout, 1000L);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}

/* ---------------------------------------------------------------------
 * The per-database worker
 * ---------------------------------------------------------------------
 */

/*
 * Retrain one index if it still exists and its locks are free.  Returns
 * true when the index was busy and the request should be retried.
 */
static bool
retrain_one(Oid indexid)
{
	Oid			heapid = IndexGetRelation(indexid, true);
	Relation	index;

	if (!OidIsValid(heapid))
		return false;			/* dropped */
	if (!ConditionalLockRelationOid(heapid, AccessShareLock))
		return true;
	if (!ConditionalLockRelationOid(indexid, RowExclusiveLock))
		return true;
	/* dropped (and its OID perhaps reused) before we locked it? */
	if (IndexGetRelation(indexid, true) != heapid)
		return false;

	index = index_open(indexid, NoLock);

	/*
	 * A retrain reads and writes index pages only: it needs no snapshot.
	 * Drop the catalog snapshot that the lookups above took, so that for as
	 * long as the retrain runs (seconds, when it reads every leaf of a large
	 * index) this worker holds back nobody's xmin horizon: VACUUM can still
	 * mark new rows all-visible and prune, as with no worker at all.
	 */
	InvalidateCatalogSnapshot();
	if (index->rd_indam->ambuild == omenbuild && !RELATION_IS_OTHER_TEMP(index))
	{
		pgstat_report_activity(STATE_RUNNING,
							   psprintf("retraining omen index \"%s\"", RelationGetRelationName(index)));
		if (omen_retrain(index, false))
			elog(DEBUG1, "omen: retrained index \"%s\"", RelationGetRelationName(index));
	}
	index_close(index, NoLock);
	return false;
}

static void
worker_detach(int code, Datum arg)
{
	SpinLockAcquire(&omen_shared->mutex);
	if (omen_shared->worker_latch == MyLatch)
		omen_shared->worker_latch = NULL;
	SpinLockRelease(&omen_shared->mutex);
}

/*
 * Does a command wait for this database's processes to leave?  DROP
 * DATABASE, ALTER DATABASE ... RENAME or SET TABLESPACE, and CREATE
 * DATABASE ... TEMPLATE lock the database (AccessExclusiveLock; ShareLock
 * for a template) and then wait 5 s for its other processes to exit,
 * signalling no background worker.  The lock a connecting backend takes
 * (RowExclusiveLock) conflicts with theirs: not getting it at once means
 * leave.
 */
static bool
database_wanted(Oid dbid)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, dbid, 0);
	if (LockAcquire(&tag, RowExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, RowExclusiveLock, true);
	return false;
}

/*
 * Retrain the indexes of a batch, each in its own transaction.  Returns
 * true when the worker should exit: an index was busy (it is queued
 * again, and the launcher's next round, a second away, tries it), or a
 * command waits for the database (the indexes not yet retrained are
 * queued again).
 */
static bool
retrain_batch(Oid dbid, const OmenWorkerBatch *batch)
{
	bool		leave = false;
	bool		wanted = false;
	uint32		i;

	for (i = 0; i < batch->n && i < OMEN_WORKER_BATCH; i++)
	{
		bool		requeue;

		CHECK_FOR_INTERRUPTS();
		if (!wanted)
			wanted = database_wanted(dbid);
		if (wanted)
			requeue = true;
		else
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			requeue = retrain_one(batch->indexes[i]);
			CommitTransactionCommand();
			pgstat_report_activity(STATE_IDLE, NULL);
		}
		if (requeue)
		{
			SpinLockAcquire(&omen_shared->mutex);
			post_request_locked(dbid, batch->indexes[i]);
			SpinLockRelease(&omen_shared->mutex);
			leave = true;
		}
	}
	return leave;
}

/*
 * Take the next batch of this database's requests (perhaps none).  Returns
 * false, taking nothing, when another database has requests queued: this
 * worker exits and the launcher serves that database next, as it would
 * have if the worker had exited after its first batch.
 */
static bool
take_own_batch(Oid dbid, OmenWorkerBatch *batch)
{
	bool		others = false;
	int			i;

	batch->n = 0;
	SpinLockAcquire(&omen_shared->mutex);
	for (i = 0; i < omen_shared->nrequests; i++)
		others = others || omen_shared->requests[i].dbid != dbid;
	if (!others)
		take_requests_locked(dbid, batch);
	SpinLockRelease(&omen_shared->mutex);
	return !others;
}

/*
 * Retrain the batch the launcher gave, then the requests of this database
 * that come in while it runs or within OMEN_WORKER_LINGER_MS of its last
 * retrain, and exit; exit sooner when another database has requests, an
 * index is busy, or a command waits for the database to be left.
 * Backends set this worker's latch with each request.
 */
void
omen_worker_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	OmenWorkerBatch batch;
	TimestampTz idle_since;

	memcpy(&batch, MyBgworkerEntry->bgw_extra, sizeof(OmenWorkerBatch));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	pgstat_report_appname("omen retrain worker");

	SpinLockAcquire(&omen_shared->mutex);
	omen_shared->worker_latch = MyLatch;
	SpinLockRelease(&omen_shared->mutex);
	on_shmem_exit(worker_detach, (Datum) 0);

	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		long		idle_ms;

		if (batch.n > 0)
		{
			if (retrain_batch(dbid, &batch))
				break;
			idle_since = GetCurrentTimestamp();
		}
		CHECK_FOR_INTERRUPTS();
		/* reset before looking: a request posted after the look sets it again */
		ResetLatch(MyLatch);
		if (!take_own_batch(dbid, &batch))
			break;
		if (batch.n > 0)
			continue;
		idle_ms = TimestampDifferenceMilliseconds(idle_since, GetCurrentTimestamp());
		if (idle_ms >= OMEN_WORKER_LINGER_MS)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 OMEN_WORKER_LINGER_MS - idle_ms, PG_WAIT_EXTENSION);
	}
	proc_exit(0);
}
