-- gitferry state. Every write is one transaction, so a crash never leaves half a record.
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    manifest TEXT NOT NULL,            -- the object as read from Git (JSON)
    spec_hash TEXT NOT NULL,
    generation INTEGER NOT NULL,       -- bumped when the spec changes, as the API server does
    owner TEXT NOT NULL,               -- 'bootstrap' or the Kustomization 'namespace/name' that applied it
    origin TEXT NOT NULL DEFAULT '',   -- file in the source it came from
    suspended INTEGER NOT NULL DEFAULT 0,  -- set by 'gitferry suspend', kept across applies
    deleted INTEGER NOT NULL DEFAULT 0,    -- removed from Git; finalizer (prune) still to run
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS status (
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS inventory (
    owner TEXT NOT NULL,               -- Kustomization 'namespace/name'
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    api_version TEXT NOT NULL,
    manifest TEXT NOT NULL,            -- last applied form (JSON), for diff, drift and substituteFrom
    PRIMARY KEY (owner, kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_object ON events (kind, namespace, name, id);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    revision TEXT NOT NULL, started TEXT NOT NULL, duration REAL NOT NULL,
    result TEXT NOT NULL, message TEXT NOT NULL,
    changed TEXT NOT NULL              -- JSON list of "Kind/ns/name: action"
);
CREATE INDEX IF NOT EXISTS history_by_object ON history (kind, namespace, name, id);
-- The commit behind each revision a source stored, so the apply history shows its author and subject.
CREATE TABLE IF NOT EXISTS commits (
    revision TEXT PRIMARY KEY,         -- as in status.artifact.revision: 'main@sha1:<commit>'
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,  -- the source
    git_commit TEXT NOT NULL, author TEXT NOT NULL, subject TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_tags (
    namespace TEXT NOT NULL, name TEXT NOT NULL,  -- the ImageRepository
    tags TEXT NOT NULL,                -- JSON list in the registry's order, after exclusionList
    scanned TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
-- Pipeline runs: every run, task and step with its times, status and log, so a restart loses nothing.
CREATE TABLE IF NOT EXISTS pipeline_runs (
    name TEXT PRIMARY KEY,             -- unique: metadata.name, or generateName plus a suffix as Tekton makes it
    namespace TEXT NOT NULL,
    pipeline TEXT NOT NULL,            -- the Pipeline's name, or the PipelineRun's for an embedded pipelineSpec
    repository TEXT NOT NULL DEFAULT '',   -- 'namespace/name' of the Repository that triggered it; '' when started by hand
    revision TEXT NOT NULL DEFAULT '',     -- the commit the run builds
    trigger TEXT NOT NULL DEFAULT '',      -- 'webhook', 'poll' or 'manual'
    status TEXT NOT NULL,              -- Pending, Running, Succeeded, Failed, Cancelled
    reason TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL, started TEXT NOT NULL DEFAULT '', finished TEXT NOT NULL DEFAULT '',
    manifest TEXT NOT NULL,            -- the PipelineRun as run (JSON), after trigger variables were filled in
    results TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS pipeline_runs_by_created ON pipeline_runs (created);
CREATE TABLE IF NOT EXISTS task_runs (
    run TEXT NOT NULL, task TEXT NOT NULL,
    is_finally INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,    -- retries made so far
    status TEXT NOT NULL,              -- Pending, Running, Succeeded, Failed, Skipped, Cancelled
    reason TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    started TEXT NOT NULL DEFAULT '', finished TEXT NOT NULL DEFAULT '',
    results TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run, task)
);
CREATE TABLE IF NOT EXISTS step_runs (
    run TEXT NOT NULL, task TEXT NOT NULL, step TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,              -- Pending, Running, Succeeded, Failed, Skipped, Cancelled
    exit_code INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    started TEXT NOT NULL DEFAULT '', finished TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run, task, step)
);
CREATE TABLE IF NOT EXISTS step_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL, task TEXT NOT NULL, step TEXT NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS step_logs_by_run ON step_logs (run, id);
-- HTTP API tokens ('gitferry token create'): the SHA-256 of each, never the token.
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,                -- viewer or admin
    digest TEXT NOT NULL,
    created TEXT NOT NULL,
    last_used TEXT NOT NULL DEFAULT ''
);
