-- The billing relations goodturn reads: the facts contract of
-- docs/billing-data.md. goodturn only ever SELECTs from them, so a business
-- may create them as views over its own billing schema instead. `goodturn
-- demo` and `goodturn bench` create them as tables and fill them.
--
-- {{.JSON}}, {{.Decimal}} and {{.Timestamp}} are filled in per dialect.

CREATE TABLE IF NOT EXISTS customers (
    id               BIGINT PRIMARY KEY,
    name             TEXT NOT NULL,
    email            TEXT NOT NULL DEFAULT '',
    phone            TEXT NOT NULL DEFAULT '',
    locale           TEXT NOT NULL DEFAULT 'en-GB',
    timezone         TEXT NOT NULL DEFAULT 'Europe/London',
    joined_on        DATE NOT NULL,
    segment          TEXT NOT NULL DEFAULT '',
    marketing_opt_in BOOLEAN NOT NULL DEFAULT FALSE,
    contact_opt_out  BOOLEAN NOT NULL DEFAULT FALSE,
    attrs            {{.JSON}},
    -- Optional: the business's own account number (text), NULL if none.
    account_no       TEXT
);

CREATE TABLE IF NOT EXISTS plans (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    monthly_price BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    available     BOOLEAN NOT NULL DEFAULT TRUE,
    attrs         {{.JSON}}
);

CREATE TABLE IF NOT EXISTS plan_allowances (
    plan_id      TEXT NOT NULL REFERENCES plans (id),
    meter        TEXT NOT NULL,
    included     BIGINT,
    overage_rate {{.Decimal}} NOT NULL DEFAULT '0',
    PRIMARY KEY (plan_id, meter)
);

CREATE TABLE IF NOT EXISTS subscriptions (
    customer_id        BIGINT PRIMARY KEY,
    plan_id            TEXT NOT NULL,
    started_on         DATE NOT NULL,
    contract_ends_on   DATE,
    device_monthly     BIGINT NOT NULL DEFAULT 0,
    device_paid_off_on DATE
);

CREATE TABLE IF NOT EXISTS addons (
    customer_id   BIGINT NOT NULL,
    addon_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    monthly_price BIGINT NOT NULL,
    started_on    DATE NOT NULL,
    last_used_on  DATE,
    PRIMARY KEY (customer_id, addon_id)
);

CREATE TABLE IF NOT EXISTS usage (
    customer_id BIGINT NOT NULL,
    month       DATE NOT NULL,
    meter       TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    PRIMARY KEY (customer_id, month, meter)
);

CREATE TABLE IF NOT EXISTS charges (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    charged_on  DATE NOT NULL,
    kind        TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    waived      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS charges_customer ON charges (customer_id, charged_on);

CREATE TABLE IF NOT EXISTS events (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    occurred_at {{.Timestamp}} NOT NULL,
    kind        TEXT NOT NULL,
    attrs       {{.JSON}}
);
CREATE INDEX IF NOT EXISTS events_customer ON events (customer_id, occurred_at);
