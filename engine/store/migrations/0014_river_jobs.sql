-- Sharded runs are River's jobs now (engine/queue, engine/shard.go): River
-- claims, rescues and retries their shards, and its own migrations create
-- its tables. goodturn's job and lease tables go. A sharded job that was
-- still running when this migration ran has no River job to carry it on:
-- its runs are abandoned as dead runs are (their proposals withdrawn) and
-- the next run proposes again.

DROP TABLE IF EXISTS job_shards;
DROP TABLE IF EXISTS jobs;
