-- Control groups: a rule's run counts the matches it kept as its control
-- group. Their proposals carry the status 'control' (never reviewed or
-- sent); this column keeps the count with the rule's other results.

ALTER TABLE run_rules ADD COLUMN control BIGINT NOT NULL DEFAULT 0;
