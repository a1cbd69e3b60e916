-- Billing views for PostgreSQL: a starter mapping your billing schema onto
-- the eight relations goodturn reads (the facts contract,
-- docs/billing-data.md). goodturn only ever SELECTs from them, so views copy
-- nothing. Replace each `erp.…` table and column with yours, keep the names
-- after AS, then:
--
--   psql "$BILLING_URL" -f billing/postgres.sql
--   goodturn doctor --billing-db "$BILLING_URL&search_path=billing"
--
-- and pass the same URL as --billing-db (GOODTURN_BILLING_DB) to run.
-- Money is BIGINT minor units (pence, cents): from decimal pounds use
-- round(x * 100)::bigint. Dates are DATE, event times TIMESTAMPTZ.

CREATE SCHEMA IF NOT EXISTS billing;

-- One row per customer.
CREATE OR REPLACE VIEW billing.customers AS
SELECT
    c.id::bigint               AS id,               -- a stable numeric id
    c.full_name                AS name,
    coalesce(c.email, '')      AS email,            -- '' when none: no email can go
    coalesce(c.mobile, '')     AS phone,            -- '' when none: no SMS can go
    'en-GB'                    AS locale,           -- the language and money format of messages
    'Europe/London'            AS timezone,         -- for quiet hours
    c.created_at::date         AS joined_on,
    ''                         AS segment,          -- for suppressions by segment
    c.marketing_consent        AS marketing_opt_in, -- promotional messages need it
    c.do_not_contact           AS contact_opt_out,  -- no message at all when true
    c.account_number           AS account_no,       -- optional: the business's own account number, shown to reviewers
    NULL::jsonb                AS attrs             -- anything else rules may read: customer.attrs.x
FROM erp.customers c;

-- The plan catalogue, on sale or not.
CREATE OR REPLACE VIEW billing.plans AS
SELECT
    p.code                          AS id,
    p.name                          AS name,
    round(p.price_pounds * 100)::bigint AS monthly_price,  -- minor units
    'GBP'                           AS currency,           -- ISO 4217
    p.on_sale                       AS available,
    NULL::jsonb                     AS attrs
FROM erp.tariffs p;

-- What each plan includes, per meter (data_mb, minutes, sms, ...).
CREATE OR REPLACE VIEW billing.plan_allowances AS
SELECT
    a.tariff_code                   AS plan_id,
    a.meter                         AS meter,
    a.included::bigint              AS included,      -- NULL means unlimited
    a.overage_pence::numeric(20,6)  AS overage_rate   -- minor units per unit; never a float
FROM erp.tariff_allowances a;

-- Each customer's current subscription: one row per customer.
CREATE OR REPLACE VIEW billing.subscriptions AS
SELECT
    s.customer_id::bigint           AS customer_id,
    s.tariff_code                   AS plan_id,
    s.start_date                    AS started_on,
    s.min_term_end                  AS contract_ends_on,   -- NULL when out of contract
    coalesce(s.handset_pence, 0)::bigint AS device_monthly, -- a handset instalment, 0 when none
    s.handset_paid_off              AS device_paid_off_on  -- NULL when none or not yet
FROM erp.contracts s
WHERE s.active;

-- Add-ons the customer pays for.
CREATE OR REPLACE VIEW billing.addons AS
SELECT
    x.customer_id::bigint           AS customer_id,
    x.bolt_on_code                  AS addon_id,
    x.name                          AS name,
    x.price_pence::bigint           AS monthly_price,
    x.start_date                    AS started_on,
    x.last_used                     AS last_used_on        -- NULL when never used
FROM erp.bolt_ons x;

-- Usage per complete calendar month and meter.
CREATE OR REPLACE VIEW billing.usage AS
SELECT
    u.customer_id::bigint                 AS customer_id,
    date_trunc('month', u.period)::date   AS month,        -- the first day of the month
    u.meter                               AS meter,
    sum(u.quantity)::bigint               AS quantity
FROM erp.usage_records u
GROUP BY 1, 2, 3;

-- Charges on the bill: late fees, overage, one-offs.
CREATE OR REPLACE VIEW billing.charges AS
SELECT
    b.id::bigint                    AS id,
    b.customer_id::bigint           AS customer_id,
    b.posted_on                     AS charged_on,
    b.charge_type                   AS kind,               -- late_fee, overage, ...
    b.amount_pence::bigint          AS amount,
    b.credited                      AS waived
FROM erp.bill_lines b;

-- Things that happened: failed payments, outages, roaming, ...
CREATE OR REPLACE VIEW billing.events AS
SELECT
    e.id::bigint                    AS id,
    e.customer_id::bigint           AS customer_id,
    e.happened_at::timestamptz      AS occurred_at,
    e.event_type                    AS kind,               -- payment_failed, outage, ...
    e.details::jsonb                AS attrs
FROM erp.account_events e;
