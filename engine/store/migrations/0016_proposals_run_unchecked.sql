-- A run writes its proposals in bulk (COPY), and on PostgreSQL the foreign
-- key from proposals.run_id to runs was a quarter of that write's cost: a
-- lookup of the run, with a lock, for every proposal. A run's proposals
-- are written only once the run exists (a shard job's run is created
-- before the job is enqueued), and runs are deleted only by a reset
-- (store.Reset), which deletes the proposals first, so the key guarded
-- nothing the code does not; PostgreSQL drops it. SQLite, whose inserts
-- check it for little, keeps it.
{{if .Postgres}}ALTER TABLE proposals DROP CONSTRAINT IF EXISTS proposals_run_id_fkey;{{else}}SELECT 1;{{end}}
