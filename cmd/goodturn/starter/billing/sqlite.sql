-- Billing views for SQLite: a starter mapping your billing tables onto the
-- eight relations goodturn reads (the facts contract, docs/billing-data.md).
-- goodturn only ever SELECTs from them, so views copy nothing. Replace each
-- `erp_…` table and column with yours, keep the names after AS, then:
--
--   sqlite3 billing.db < billing/sqlite.sql
--   goodturn doctor --billing-db billing.db
--
-- and pass the same file as --billing-db (GOODTURN_BILLING_DB) to run.
-- Money is INTEGER minor units (pence, cents): from decimal pounds use
-- CAST(round(x * 100) AS INTEGER). Dates are TEXT 'YYYY-MM-DD', event times
-- TEXT in RFC 3339, rates TEXT decimals ('8.5') so no float holds them,
-- booleans 0 or 1, attrs TEXT holding a JSON object or NULL.

-- One row per customer.
CREATE VIEW IF NOT EXISTS customers AS
SELECT
    c.id                       AS id,               -- a stable numeric id
    c.full_name                AS name,
    coalesce(c.email, '')      AS email,            -- '' when none: no email can go
    coalesce(c.mobile, '')     AS phone,            -- '' when none: no SMS can go
    'en-GB'                    AS locale,           -- the language and money format of messages
    'Europe/London'            AS timezone,         -- for quiet hours
    date(c.created_at)         AS joined_on,
    ''                         AS segment,          -- for suppressions by segment
    c.marketing_consent        AS marketing_opt_in, -- promotional messages need it
    c.do_not_contact           AS contact_opt_out,  -- no message at all when 1
    c.account_number           AS account_no,       -- optional: the business's own account number, shown to reviewers
    NULL                       AS attrs             -- anything else rules may read: customer.attrs.x
FROM erp_customers c;

-- The plan catalogue, on sale or not.
CREATE VIEW IF NOT EXISTS plans AS
SELECT
    p.code                                  AS id,
    p.name                                  AS name,
    CAST(round(p.price_pounds * 100) AS INTEGER) AS monthly_price, -- minor units
    'GBP'                                   AS currency,           -- ISO 4217
    p.on_sale                               AS available,
    NULL                                    AS attrs
FROM erp_tariffs p;

-- What each plan includes, per meter (data_mb, minutes, sms, ...).
CREATE VIEW IF NOT EXISTS plan_allowances AS
SELECT
    a.tariff_code                   AS plan_id,
    a.meter                         AS meter,
    a.included                      AS included,      -- NULL means unlimited
    CAST(a.overage_pence AS TEXT)   AS overage_rate   -- minor units per unit, as a decimal string
FROM erp_tariff_allowances a;

-- Each customer's current subscription: one row per customer.
CREATE VIEW IF NOT EXISTS subscriptions AS
SELECT
    s.customer_id                   AS customer_id,
    s.tariff_code                   AS plan_id,
    s.start_date                    AS started_on,
    s.min_term_end                  AS contract_ends_on,   -- NULL when out of contract
    coalesce(s.handset_pence, 0)    AS device_monthly,     -- a handset instalment, 0 when none
    s.handset_paid_off              AS device_paid_off_on  -- NULL when none or not yet
FROM erp_contracts s
WHERE s.active;

-- Add-ons the customer pays for.
CREATE VIEW IF NOT EXISTS addons AS
SELECT
    x.customer_id                   AS customer_id,
    x.bolt_on_code                  AS addon_id,
    x.name                          AS name,
    x.price_pence                   AS monthly_price,
    x.start_date                    AS started_on,
    x.last_used                     AS last_used_on        -- NULL when never used
FROM erp_bolt_ons x;

-- Usage per complete calendar month and meter.
CREATE VIEW IF NOT EXISTS usage AS
SELECT
    u.customer_id                   AS customer_id,
    date(u.period, 'start of month') AS month,             -- the first day of the month
    u.meter                         AS meter,
    sum(u.quantity)                 AS quantity
FROM erp_usage_records u
GROUP BY 1, 2, 3;

-- Charges on the bill: late fees, overage, one-offs.
CREATE VIEW IF NOT EXISTS charges AS
SELECT
    b.id                            AS id,
    b.customer_id                   AS customer_id,
    b.posted_on                     AS charged_on,
    b.charge_type                   AS kind,               -- late_fee, overage, ...
    b.amount_pence                  AS amount,
    b.credited                      AS waived
FROM erp_bill_lines b;

-- Things that happened: failed payments, outages, roaming, ...
CREATE VIEW IF NOT EXISTS events AS
SELECT
    e.id                            AS id,
    e.customer_id                   AS customer_id,
    e.happened_at                   AS occurred_at,
    e.event_type                    AS kind,               -- payment_failed, outage, ...
    e.details                       AS attrs
FROM erp_account_events e;
