-- Customers a run refused because their billing rows break the facts
-- contract (docs/billing-data.md), and a few of them with the reason.
ALTER TABLE runs ADD COLUMN refused BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN refusals {{.JSON}};
